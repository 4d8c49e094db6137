"""A trial's final state, decided in one place: the project's status (ganrator_trials.status) and what Optuna is
told. The trial recorder, the Optuna searcher and the driver all ask here, so the two records never disagree.

No Ray import: the mapping is plain data about results.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optuna.trial import TrialState

RUNNING = "running"
COMPLETED = "completed"  # ran every epoch
EARLY_STOPPED = "early_stopped"  # ASHA stopped it at `rung` epochs
DIVERGED = "diverged"  # NaN/inf loss; the trainable returned early
ERRORED = "errored"  # the trainable raised (after FailureConfig's retries)
# Both below were never finished by Ray: the driver records them after tuner.fit() returns.
CUT = "cut"  # the search's time cap (time_budget_s) ended it mid-way
INTERRUPTED = "interrupted"  # SIGINT/SIGTERM ended the search; --resume continues it from its checkpoint

UNFINISHED = (CUT, INTERRUPTED)


@dataclass(frozen=True)
class FinalState:
    status: str  # ganrator_trials.status
    optuna: TrialState
    value: float | None = None  # told to Optuna; only a COMPLETE trial has one (PRUNED takes its last report)
    rung: int | None = None  # epochs reached by an early-stopped trial


def final_state(last_result: Mapping[str, Any] | None, max_epochs: int, *, error: bool = False) -> FinalState:
    """The state of a trial Ray reported complete (or errored), from its last result.

    Ray hands a scheduler-stopped trial's completion the same last result as a trial that returned, so the
    epoch count tells them apart: the trainable only returns before `max_epochs` when it diverged.
    """
    if error:
        return FinalState(ERRORED, TrialState.FAIL)
    last = last_result or {}
    if last.get("status") == DIVERGED:
        # COMPLETE with 0, not FAIL: TPE ignores failed trials and would propose the same region again; a
        # diverged configuration is a real (bad) result the sampler should learn from.
        return FinalState(DIVERGED, TrialState.COMPLETE, 0.0)
    epochs = int(last.get("epoch") or 0)
    if not epochs:  # removed before its first report: it never ran, so it is cut, not stopped on a result
        return unfinished_state(CUT)
    # A run with a step budget (TrainConfig.steps) has as many epochs as its training-set size needs.
    if epochs >= int(last.get("planned_epochs") or max_epochs):
        return FinalState(COMPLETED, TrialState.COMPLETE, float(last["val_acc"]))
    return FinalState(EARLY_STOPPED, TrialState.PRUNED, rung=epochs)


def unfinished_state(status: str) -> FinalState:
    """A trial Ray left unfinished. Optuna has no such state and cannot reopen a finished trial: FAIL, with the
    project's status as a user attribute (a resume continues an interrupted one as a new Optuna trial)."""
    if status not in UNFINISHED:
        raise ValueError(f"unfinished status must be one of {', '.join(UNFINISHED)}, got {status!r}")
    return FinalState(status, TrialState.FAIL)


def close_unfinished(db, study_name: str, status: str, only: set[str] | None = None) -> list[str]:
    """Record every trial still running (in ganrator_trials and in Optuna) as `status`; returns their trial ids.
    only: close just these trials (and their Optuna trials), leave the others running.

    Ray calls no completion hook for a trial cut by the time cap or left in flight by an interrupt, so after
    tuner.fit() returns this is the only place they are closed: nothing stays `running`.
    """
    import time

    import optuna

    from .db import optuna_storage, trials

    state = unfinished_state(status)
    closed = [r["trial_id"] for r in db.rows(trials, study_name)
              if r["status"] == RUNNING and (only is None or r["trial_id"] in only)]
    for trial_id in closed:
        db.upsert_trial(study_name, trial_id, status=state.status,
                        **({"ended_at": time.time()} if status == CUT else {}))
    try:
        study = optuna.load_study(study_name=study_name, storage=optuna_storage(db.url))
    except KeyError:  # interrupted before the searcher created the study: nothing to close there
        return closed
    # Trials Ray had suggested but not started have no row of ours, only a RUNNING Optuna trial.
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if only is not None and frozen.user_attrs.get("trial_id") not in only:
            continue
        trial = optuna.trial.Trial(study, frozen._trial_id)
        trial.set_user_attr("status", state.status)
        if status == INTERRUPTED:
            trial.set_user_attr("interrupted", True)
        study.tell(frozen.number, state=state.optuna)
    return closed
