"""Ray Tune callbacks run by the driver: write trial and epoch rows as results arrive, and print progress.

A trial's final status comes from tuning/states.py, the rule the Optuna searcher follows too: an ASHA-stopped
trial is early_stopped (with the rung reached) here and PRUNED in Optuna.
"""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Any

from ray.tune import Callback

from .budgets import split_repeat
from .db import TrialDB
from .retrain import duration
from .schedulers import is_calibration
from .search import SEARCH_SECONDS, SUGGESTED_AT
from .states import DIVERGED, RUNNING, final_state

EPOCH_KEYS = ("train_loss", "val_loss", "val_acc", "lr", "epoch_seconds", "images_per_second", "train_seconds",
              "val_seconds", "checkpoint_seconds", "threads")
TRIAL_KEYS = ("node", "hostname", "pid", "seed", "param_count", "flops", "entered_at", "import_seconds",
              "data_seconds", "setup_seconds", "report_seconds")


def _resources(trial) -> tuple[float, float]:
    pgf = trial.placement_group_factory
    req = pgf.required_resources if pgf is not None else {}
    return float(req.get("CPU", 0)), float(req.get("GPU", 0))


# The trials this driver process heard of from Ray (started, reported, ended). A resumed study's recorder is
# unpickled from the saved experiment, so this lives beside it, in the module.
SEEN: set[str] = set()


class TrialRecorder(Callback):
    def __init__(self, db: TrialDB, study: str, space, overrides: dict[str, Any], max_epochs: int,
                 provenance: dict[str, Any], calibration: frozenset[int] = frozenset()):
        self.db, self.study, self.space, self.overrides = db, study, space, overrides
        self.roles, self.max_epochs, self.provenance = space.roles, max_epochs, provenance
        self.calibration = calibration  # 1-based indices of the calibration trials
        self.best: dict[str, float] = {}
        self.frozen: set[str] = set()  # finished before a resume: their rows never change again
        self.last_epoch: dict[str, int] = {}  # the last epoch each trial reported to this driver
        self.db_seconds: defaultdict[str, float] = defaultdict(float)  # this driver's writes, per trial

    def __setstate__(self, state: dict) -> None:
        if "calibration" not in state:  # pickled by a study begun when calibration trials were the first n
            state["calibration"] = frozenset(range(1, state.pop("calibration_trials", 0) + 1))
        self.__dict__.update(state)

    @contextmanager
    def _timed(self, trial_id: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.db_seconds[trial_id] += time.perf_counter() - t0

    def on_trial_start(self, iteration, trials, trial, **info):
        SEEN.add(trial.trial_id)
        with self._timed(trial.trial_id):
            self._start(trial)

    def _start(self, trial):
        if trial.trial_id in self.db.finished_trials(self.study):
            self.frozen.add(trial.trial_id)
            return
        cpus, gpus = _resources(trial)
        now = time.time()
        # A leader's repeat stores the parameters it repeats (its seed is in config and in the seed column).
        params, overrides = split_repeat(trial.config, self.overrides)
        # A retried or resumed trial starts again: keep its first start time.
        self.db.upsert_trial(self.study, trial.trial_id,
                             on_insert={"started_at": now, "queued_at": SUGGESTED_AT.pop(trial.trial_id, now)},
                             params=params, roles={k: self.roles.get(k, "fixed") for k in params},
                             config=self.space.config(params, overrides).to_dict(),
                             status=RUNNING, max_epochs=self.max_epochs, cpus=cpus, gpus=gpus,
                             calibration=is_calibration(trial, self.calibration), **self.provenance)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if trial.trial_id in self.frozen:
            return
        with self._timed(trial.trial_id):
            self._result(trial, result)

    def _result(self, trial, result):
        epoch = int(result["epoch"])
        last = self.last_epoch.get(trial.trial_id)
        if last is None or epoch <= last:
            # The first result this driver sees (after a resume the trial may restart from an earlier checkpoint
            # than the database reached) or a repeated epoch: rows after it are a lost attempt's.
            self.db.drop_epochs_after(self.study, trial.trial_id, epoch)
            self.best[trial.trial_id] = self.db.best_val_before(self.study, trial.trial_id, epoch)
        self.last_epoch[trial.trial_id] = epoch
        best = max(self.best.get(trial.trial_id, 0.0), result["val_acc"])
        self.best[trial.trial_id] = best
        self.db.record_epoch(
            self.study, trial.trial_id, epoch,
            dict(time_total=result.get("time_total_s"), timestamp=time.time(),
                 **{k: result[k] for k in EPOCH_KEYS if k in result}),
            dict(epochs=epoch, best_val_acc=best, last_val_acc=result["val_acc"], wall_time=result.get("time_total_s"),
                 status=DIVERGED if result.get("status") == DIVERGED else RUNNING,
                 **{k: result[k] for k in TRIAL_KEYS if k in result}))

    def on_trial_complete(self, iteration, trials, trial, **info):
        if trial.trial_id in self.frozen:
            return
        state = final_state(trial.last_result, self.max_epochs)
        self.db.upsert_trial(self.study, trial.trial_id, status=state.status, rung=state.rung,
                             failures=trial.num_failures, ended_at=time.time(), **self._overhead(trial.trial_id))

    def on_trial_error(self, iteration, trials, trial, **info):
        if trial.trial_id in self.frozen:
            return
        error = trial.get_error()
        self.db.upsert_trial(self.study, trial.trial_id, status=final_state(None, self.max_epochs, error=True).status,
                             failures=trial.num_failures,
                             error=str(error)[-4000:] if error else "unknown error", ended_at=time.time(),
                             **self._overhead(trial.trial_id))

    def _overhead(self, trial_id: str) -> dict[str, float]:
        """The driver's own time on this trial; the searcher has finished with it (Tune tells it first)."""
        return {"db_seconds": self.db_seconds.pop(trial_id, 0.0), "search_seconds": SEARCH_SECONDS.pop(trial_id, 0.0)}


class Progress(Callback):
    """One line every `every` seconds: trial counts by state, best so far, elapsed and ETA."""

    def __init__(self, num_samples: int, time_budget_s: float | None, every: float = 10.0):
        self.num_samples, self.time_budget_s, self.every = num_samples, time_budget_s, every
        self.t0 = time.time()
        self.last_print = 0.0
        self.done_before: int | None = None  # trials a resumed study had ended before this driver started

    def setup(self, **info):
        self.t0 = time.time()  # also after a resume: ETA counts this session only
        self.done_before = None

    def line(self, trials) -> str:
        counts: dict[str, int] = {}
        best, best_id = 0.0, "-"
        for t in trials:
            counts[t.status] = counts.get(t.status, 0) + 1
            acc = (t.last_result or {}).get("val_acc")
            if acc is not None and acc > best:
                best, best_id = acc, t.trial_id
        done = counts.get("TERMINATED", 0) + counts.get("ERROR", 0)
        if self.done_before is None:
            self.done_before = done
        # The pace of this driver's own trials: a resumed study's earlier ones ended in no time of this session.
        new = done - self.done_before
        elapsed = time.time() - self.t0
        eta = elapsed / new * (self.num_samples - done) if new else float("nan")
        if self.time_budget_s:
            eta = min(eta, self.time_budget_s - elapsed) if new else self.time_budget_s - elapsed
        eta_s = duration(eta) if eta == eta else "?"
        return (f"[{duration(elapsed)}] trials: {counts.get('RUNNING', 0)} running, {done}/{self.num_samples} done "
                f"({counts.get('ERROR', 0)} errored), {counts.get('PENDING', 0)} pending | best val_acc "
                f"{100 * best:.2f}% ({best_id}) | ETA {eta_s}")

    def on_step_end(self, iteration, trials, **info):
        if time.time() - self.last_print >= self.every:
            self.last_print = time.time()
            print(self.line(trials), flush=True)

    def on_experiment_end(self, trials, **info):
        print(self.line(trials), flush=True)
