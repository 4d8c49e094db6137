"""ASHA as this project runs it: a trial is compared at a rung only with trials of its own model, and a rung stops
trials only where it was seen to rank that model's trials as the last epoch does.

Architectures learn at different speeds (an MLP leads a CNN after two epochs and ends behind it), so rungs shared
across models stop slow learners for being slow. Here each model has its own rungs, and a model's rung stops
nothing until it holds at least reduction_factor + 1 results (ASHA's cutoff over one or two results is noise).

Whether a rung can be trusted is measured, not assumed. The calibration trials (the first of each model in the
stratified start-up, tuning/coverage.py) are recorded at every rung but never stopped, and nothing is stopped until
they have all ended: survivors alone are a biased sample of the ranking, since ASHA removed the trials that ranked
low early. Then, once, per model and rung, tuning.fidelity.rung_decision applies its RULE; a rung that fails it
promotes every trial of that model. The decisions are stored (ganrator_rung_decisions) and printed.

The rung bookkeeping is ASHA's (Ray's AsyncHyperBandScheduler with one bracket: the same milestones, and a trial
stops when its result is below the (1 - 1/rf) quantile of those recorded before it), written out here because
Ray's bracket is private and has no place for groups; tests/test_schedulers.py checks the two agree. Its state
travels in the experiment's callback state (SchedulerState): Ray pickles a scheduler only with the tuner, once, at
the study's start, so a resumed study would otherwise restart its groups empty.
"""
from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterable
from typing import Any

import numpy as np
from ray.tune import Callback
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from .budgets import REPEAT_KEY
from .fidelity import RULE, decision_line, rung_decision, rungs


def trial_index(trial) -> int:
    """1-based order in which the search created the trial (Ray's experiment tag starts with it). The driver's
    trial records use the same rule to mark calibration trials, so nothing needs to be shared between them."""
    head = str(getattr(trial, "experiment_tag", "") or "").split("_", 1)[0]
    return int(head) if head.isdigit() else 0


def is_calibration(trial, calibration: Collection[int]) -> bool:
    return trial_index(trial) in calibration


class GroupedASHA(FIFOScheduler):
    """ASHA with one set of rungs per model group, calibration trials and the fidelity rule (module docstring).

    calibration: the 1-based trial indices of the calibration trials. group_param: the config key naming a trial's
    model (its value is the group), or None for one group; default_group: the group of a trial without that key.
    groups: the groups the space can propose, each decided even if none of its calibration trials completed.
    db, study: where the decisions are stored (tuning.db.TrialDB); None stores nothing.
    """

    # What get_state carries across a resume: everything the scheduler learnt from results.
    STATE = ("recorded", "trial_group", "curves", "ended", "decisions", "num_stopped")

    def __init__(self, *, metric: str, mode: str, max_t: int, grace_period: int, reduction_factor: int,
                 calibration: Iterable[int] = (), group_param: str | None = "model", default_group: str = "all",
                 groups: Iterable[str] = (), db=None, study: str | None = None,
                 time_attr: str = "training_iteration", verbose: bool = True):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be min or max, got {mode!r}")
        if not 1 <= grace_period <= max_t or reduction_factor < 2:
            raise ValueError(f"need 1 <= grace_period <= max_t and reduction_factor >= 2, got {grace_period}, "
                             f"{max_t}, {reduction_factor}")
        self._metric, self._mode = metric, mode
        self.sign = 1.0 if mode == "max" else -1.0
        self.time_attr, self.max_t, self.rf = time_attr, max_t, reduction_factor
        self.milestones = rungs({"grace_period": grace_period, "reduction_factor": reduction_factor,
                                 "max_epochs": max_t})
        self.min_results = reduction_factor + 1
        self.calibration = frozenset(calibration)
        self.group_param, self.default_group = group_param, default_group
        self.groups = tuple(groups) or (default_group,)
        self.db, self.study, self.verbose = db, study, verbose
        self.recorded: dict[str, dict[int, dict[str, float]]] = {}  # group -> rung -> trial id -> signed metric
        self.trial_group: dict[str, str] = {}
        self.trial_idx: dict[str, int] = {}
        self.curves: dict[str, dict[int, float]] = {}  # calibration trial -> epoch (rungs, last) -> metric
        self.ended: set[int] = set()  # calibration indices that ended (completed, stopped, diverged, errored)
        self.decisions: dict[tuple[str, int], dict[str, Any]] | None = None  # (group, rung) -> rung_decision
        self.num_stopped = 0

    def set_search_properties(self, metric: str | None, mode: str | None, **spec) -> bool:
        return not ((self._metric and metric) or (self._mode and mode))  # both are fixed at construction

    def group_of(self, config: dict) -> str:
        return str(config.get(self.group_param, self.default_group)) if self.group_param else self.default_group

    def on_trial_add(self, tune_controller, trial) -> None:
        self.trial_group[trial.trial_id] = self.group_of(trial.config)
        self.trial_idx[trial.trial_id] = index = trial_index(trial)
        if index in self.calibration and not trial.is_finished():
            self.ended.discard(index)  # retried after a worker died, or resumed: it runs again

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if self.time_attr not in result or self._metric not in result:
            return TrialScheduler.CONTINUE
        t, value, tid = int(result[self.time_attr]), float(result[self._metric]), trial.trial_id
        calibration = self._index(trial) in self.calibration
        if calibration and (t in self.milestones or t >= self.max_t):
            self.curves.setdefault(tid, {})[t] = value
        if t >= self.max_t:
            return TrialScheduler.STOP  # the last epoch: the trial ends, as with Ray's stop_last_trials
        below, rung, others = self._record(self._group(trial), tid, t, self.sign * value)
        # a leader's repeat exists for its last epoch's accuracy: never stopped, like a calibration trial
        if rung is None or calibration or trial.config.get(REPEAT_KEY) or not below:
            return TrialScheduler.CONTINUE
        if others < self.min_results or not self._rung_stops(self._group(trial), rung):
            return TrialScheduler.CONTINUE
        self.num_stopped += 1
        return TrialScheduler.STOP

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        self._ended(trial)

    def on_trial_error(self, tune_controller, trial) -> None:
        self._ended(trial)  # also before a retry, whose on_trial_add reopens it

    def on_trial_remove(self, tune_controller, trial) -> None:
        self._ended(trial)

    def debug_string(self) -> str:
        return f"GroupedASHA: {self.num_stopped} stopped; rungs {self.milestones} per group of {self.group_param}"

    # -- rungs ------------------------------------------------------------------------------------------------------
    def _index(self, trial) -> int:
        return self.trial_idx.get(trial.trial_id) or trial_index(trial)

    def _group(self, trial) -> str:
        return self.trial_group.get(trial.trial_id) or self.group_of(trial.config)

    def _record(self, group: str, tid: str, t: int, reward: float) -> tuple[bool, int | None, int]:
        """Record the trial at the highest rung it reached and has no result at (as Ray's _Bracket.on_result):
        whether it is below that rung's cutoff, the rung, and how many results the rung held before it."""
        for rung in reversed(self.milestones):
            recorded = self.recorded.setdefault(group, {}).setdefault(rung, {})
            if t < rung or tid in recorded:
                continue
            before = list(recorded.values())
            recorded[tid] = reward
            below = bool(before) and reward < np.nanpercentile(before, (1 - 1 / self.rf) * 100)
            return below, rung, len(before)
        return False, None, 0

    def _rung_stops(self, group: str, rung: int) -> bool:
        """The fidelity rule's verdict; nothing stops before it is decided (calibration trials still running)."""
        self._decide_if_ready()
        return bool(self.decisions and self.decisions.get((group, rung), {}).get("stops"))

    # -- calibration and the decision -------------------------------------------------------------------------------
    def _ended(self, trial) -> None:
        index = self._index(trial)
        if index in self.calibration:
            self.ended.add(index)
            self._decide_if_ready()

    def _decide_if_ready(self) -> None:
        if self.decisions is not None or not self.calibration <= self.ended:
            return
        by_group: dict[str, list[str]] = {g: [] for g in self.groups}
        for tid, curve in self.curves.items():
            if self.max_t in curve:  # completed: a trial stopped or diverged before its last epoch says nothing
                by_group.setdefault(self.trial_group.get(tid, self.default_group), []).append(tid)
        self.decisions = {}
        for group, tids in by_group.items():
            for rung in self.milestones:
                both = [tid for tid in tids if rung in self.curves[tid]]
                self.decisions[(group, rung)] = {
                    "model": group, "rung": rung, "last_epoch": self.max_t,
                    **rung_decision([self.curves[t][rung] for t in both], [self.curves[t][self.max_t] for t in both])}
        self._publish()

    def _publish(self) -> None:
        rows = list(self.decisions.values())
        if self.db is not None:
            now = time.time()
            for r in rows:
                self.db.upsert_rung_decision(
                    self.study, r["model"], r["rung"], decided_at=now,
                    **{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()
                       if k not in ("model", "rung")})
        if self.verbose:
            print(f"\nearly stopping, decided now that the {len(self.calibration)} calibration trial(s) have ended "
                  f"(rule: {RULE}):", flush=True)
            for r in rows:
                print(f"  {decision_line(r)}", flush=True)

    # -- resume -----------------------------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.STATE}

    def set_state(self, state: dict[str, Any]) -> None:
        for key in self.STATE:
            if key in state:
                setattr(self, key, state[key])


class SchedulerState(Callback):
    """The scheduler's state in the experiment's callback state, which Tune saves with every experiment snapshot
    and, on Tuner.restore, loads before it adds the trials back (Ray 2.60, TuneController.resume). The tuner's
    pickle holds this callback and the scheduler together, so the restored callback restores that scheduler."""

    def __init__(self, scheduler: GroupedASHA):
        self.scheduler = scheduler

    def get_state(self) -> dict | None:
        return self.scheduler.get_state()

    def set_state(self, state: dict) -> None:
        self.scheduler.set_state(state)


class CalibratedASHA(ASHAScheduler):
    """The scheduler of studies begun before GroupedASHA: one ASHA for all models, its first `calibration_trials`
    trials never stopped. Kept so that such a study, whose tuner holds this class pickled, still resumes."""

    def __init__(self, *args, calibration_trials: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.calibration_trials = calibration_trials

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        action = super().on_trial_result(tune_controller, trial, result)
        if action == TrialScheduler.STOP and 0 < trial_index(trial) <= self.calibration_trials \
                and result.get(self._time_attr, 0) < self._max_t:
            self._num_stopped -= 1
            return TrialScheduler.CONTINUE
        return action
