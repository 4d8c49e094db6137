"""Retrain chosen configurations on fresh seeds through Ray, in parallel (final evaluation, confirmation).

One Ray task per (configuration, seed); a run that raises is recorded as errored and the others go on, so a rerun
with --resume only has the errored and missing runs to do. A deep run writes its training state at every
validation to a file named by its configuration and seed under the study's folder, so a run cut by an
interrupted driver continues from there under --resume instead of starting over (runs of the scaling space's
width-64 CNN take 20 minutes each on a 2-core CPU).
"""
from __future__ import annotations

import hashlib
import json
import signal
import sys
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

ERRORED_RUN = {"status": "errored", "test_acc": None, "val_acc": None, "train_acc": None, "epochs": 0,
               "wall_time": None, "config": None}


def duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


class RetrainInterrupted(Exception):
    """SIGINT or SIGTERM while retraining: the finished runs are recorded, the running ones cancelled."""

    def __init__(self, signum: int, done: int, total: int):
        super().__init__(f"{signal.Signals(signum).name} after {done} of {total} runs")
        self.signum, self.done, self.total = signum, done, total


def state_dir(args) -> Path | None:
    """Where retraining runs keep their training state: the study's folder, when it is a local path (a cluster's
    storage must then be a folder every node mounts; with a URI the runs keep none and restart when cut)."""
    storage = getattr(args, "storage", None)
    if not isinstance(storage, Path):
        return None
    return storage / args.name / "retrain_state"


def state_file(folder: Path, params: dict[str, Any], overrides: dict[str, Any], seed: int) -> str:
    """A run's training-state file, named by what decides the run: a resume with other settings starts afresh."""
    what = json.dumps([params, overrides, seed], sort_keys=True, default=str)
    return str(folder / f"{hashlib.sha256(what.encode()).hexdigest()[:20]}.pt")


def retrain(args, data, jobs: dict[Hashable, tuple[dict[str, Any], dict[str, Any], int]],
            label: Callable[[Hashable], str], record: Callable[[Hashable, dict[str, Any], str | None], None],
            correct_mask: bool = False, costs: dict[Hashable, float] | None = None) -> None:
    """Run every job (params, overrides, seed) as a Ray task; record(key, result, error) as each one ends.
    costs: each job's expected seconds (any unit), which weigh the ETA; without them every job counts alike."""
    if not jobs:
        return
    import ray

    from tuning.trainable import SharedDataset, final_eval

    task = ray.remote(final_eval).options(num_cpus=args.cpus_per_trial, num_gpus=args.gpus_per_trial)
    data_ref = SharedDataset.put(data)
    folder = state_dir(args)
    pending = {task.remote(args.space_obj, params, overrides, seed, data_ref, correct_mask=correct_mask,
                           checkpoint=state_file(folder, params, overrides, seed) if folder else None): key
               for key, (params, overrides, seed) in jobs.items()}
    t0, total = time.time(), len(pending)
    caught: list[int] = []

    def on_signal(signum, frame):
        caught.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        _wait_all(pending, total, t0, label, record, caught, {key: (costs or {}).get(key, 1.0) for key in jobs})
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if caught:
        for ref in pending:  # the runs in flight go on under --resume, from their last saved state
            ray.cancel(ref, force=True)
        raise RetrainInterrupted(caught[0], total - len(pending), total)


def eta(elapsed: float, done_cost: float, left_cost: float) -> str:
    """Time left at the pace so far, with runs weighed by their expected cost."""
    return duration(elapsed / done_cost * left_cost) if left_cost > 0 else "done"


def _wait_all(pending: dict, total: int, t0: float, label, record, caught: list[int],
              costs: dict[Hashable, float]) -> None:
    import ray

    done_cost = 0.0
    while pending and not caught:
        # A bounded wait: a signal is seen within a second, not when a run of many minutes ends.
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
        if not ready:
            continue
        key = pending.pop(ready[0])
        try:
            out, error = ray.get(ready[0]), None
        except Exception as e:  # one failed run must not lose the others
            out, error = dict(ERRORED_RUN), str(e)[-4000:]
            print(f"  {label(key)} failed: {e}", file=sys.stderr)
        resumed = out.pop("resumed_epoch", 0)  # said here, not stored: the run's numbers are those of an uncut one
        record(key, out, error)
        finished, elapsed = total - len(pending), time.time() - t0
        result = "errored (above)" if out["status"] == "errored" else f"test acc {100 * out['test_acc']:.2f}%"
        if resumed:
            result += f" (continued from epoch {resumed})"
        done_cost += costs[key]
        left = eta(elapsed, done_cost, sum(costs[k] for k in pending.values())) if pending else "done"
        print(f"  [{finished}/{total}] {label(key)}: {result} | {duration(elapsed)} elapsed, ETA {left}", flush=True)
