"""Cores a finished search leaves idle, lent to the trials still running on them.

A study with a fixed number of trials ends with stragglers: once the searcher has proposed its last trial, each
slot whose trial ends stays empty while the longer trials run on (in the laptop study, one of two workers sat
idle for the last 200 s of 480). From then on nothing of this study will use those cores again, so the driver
lends them: each running trial gets its node's share of the cores the study held there, and raises torch's
threads at its next validation. Ray's accounting is left alone (a trial still holds the CPUs it asked for);
the driver only lends cores its own trials held and released, and only once no trial is left to start.

The driver writes each trial's thread count to Ray's key-value store (the GCS, so it reaches a trial on any
node); the trial reads it once per validation (ThreadLoan, in tuning/trainable.py) and reports the threads each
epoch ran with, so the database's timings say how many cores an epoch used. A trial keeps the lent threads only
if they made it faster: on a CPU that other work keeps busy, threads that wait for each other can make an
epoch several times slower than one thread.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

from ray.experimental import internal_kv
from ray.tune import Callback

NAMESPACE = "ganrator"


def _key(trial_id: str) -> str:
    return f"threads:{trial_id}"


def lent_threads(trial_id: str) -> int | None:
    """The threads the driver lends this trial now, or None (none lent: keep the CPUs Ray assigned)."""
    if not internal_kv._internal_kv_initialized():
        return None
    value = internal_kv._internal_kv_get(_key(trial_id), namespace=NAMESPACE)
    return int(value) if value else None


class ThreadLoan:
    """The trial's side. After a report: take the threads lent (`lent()`, None when none), and after the next
    report keep them only if training throughput rose by the factor `gain`; otherwise go back to the assigned
    threads and take no loan again."""

    def __init__(self, assigned: int, lent: Callable[[], int | None], gain: float = 1.1):
        self.assigned, self.lent, self.gain = assigned, lent, gain
        self.trying: float | None = None  # the throughput before the loan, while its first epochs run
        self.declined = False

    def after_report(self, threads: int, images_per_second: float) -> int:
        """threads: what the reported epochs ran with. Returns the threads for the next ones (and sets torch's)."""
        import torch

        if self.trying is not None:
            base, self.trying = self.trying, None
            if images_per_second < self.gain * base:
                self.declined = True
                torch.set_num_threads(self.assigned)
                return self.assigned
            return threads
        lent = None if self.declined else self.lent()
        if lent is not None and lent > threads:
            self.trying = images_per_second
            torch.set_num_threads(lent)
            return lent
        return threads


def shares(cores: int, trial_ids: list[str]) -> dict[str, int]:
    """`cores` split over the trials as evenly as whole threads allow, at least one each, in trial-id order."""
    n = len(trial_ids)
    return {t: max(1, cores // n + (i < cores % n)) for i, t in enumerate(sorted(trial_ids))}


class IdleCores(Callback):
    """Lends the cores of ended trials to the running ones once every trial of the study has been created.

    num_samples: the study's trials; until that many exist the searcher may still propose one, which would take
    the free slot. cpus_per_trial: what each trial asked Ray for (a slot's cores)."""

    def __init__(self, num_samples: int, cpus_per_trial: float):
        self.num_samples, self.cpus_per_trial = num_samples, cpus_per_trial
        self.slots: dict[str, int] = {}  # the most trials of this study seen running at once on each node
        self.lent: dict[str, int] = {}  # threads written per trial

    def setup(self, **info):
        self.lent.clear()  # a resumed study's Ray is new, and so is its key-value store

    def on_step_end(self, iteration, trials, **info):
        by_node: defaultdict[str, list[str]] = defaultdict(list)
        placed = True
        for t in trials:
            if t.status == "RUNNING":
                node = (t.last_result or {}).get("node")
                by_node[node].append(t.trial_id)
                placed = placed and node is not None
        for node, ids in by_node.items():
            self.slots[node] = max(self.slots.get(node, 0), len(ids))
        if len(trials) < self.num_samples or any(t.status == "PENDING" for t in trials) or not placed:
            return  # a trial may yet start in a free slot, or one has not said on which node it runs
        for node, ids in by_node.items():
            for trial_id, threads in shares(int(self.slots[node] * self.cpus_per_trial), ids).items():
                if self.lent.get(trial_id) != threads:
                    internal_kv._internal_kv_put(_key(trial_id), str(threads), namespace=NAMESPACE)
                    self.lent[trial_id] = threads

    def _forget(self, trial) -> None:
        if self.lent.pop(trial.trial_id, None) is not None:
            internal_kv._internal_kv_del(_key(trial.trial_id), namespace=NAMESPACE)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._forget(trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._forget(trial)
