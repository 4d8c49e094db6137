"""ASHA with calibration trials: the first few trials are recorded at every rung but never stopped.

Whether early stopping can be trusted is a question about the ranking of trials at a rung against their ranking
at the last epoch (HpBandSter and CAVE show it as the rank correlation between budgets). Survivors alone are a
biased sample of that, since ASHA removed the trials that ranked low early. Ray 2.60 has no way to exempt a
trial from stopping, hence this subclass. The calibration trials still count at their rungs, as any trial does.
"""
from __future__ import annotations

from ray.tune.schedulers import ASHAScheduler, TrialScheduler


def trial_index(trial) -> int:
    """1-based order in which the search created the trial (Ray's experiment tag starts with it). The driver's
    trial records use the same rule to mark calibration trials, so nothing needs to be shared between them."""
    head = str(getattr(trial, "experiment_tag", "") or "").split("_", 1)[0]
    return int(head) if head.isdigit() else 0


def is_calibration(trial, calibration_trials: int) -> bool:
    return 0 < trial_index(trial) <= calibration_trials


class CalibratedASHA(ASHAScheduler):
    def __init__(self, *args, calibration_trials: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.calibration_trials = calibration_trials

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        action = super().on_trial_result(tune_controller, trial, result)
        if action == TrialScheduler.STOP and is_calibration(trial, self.calibration_trials) \
                and result.get(self._time_attr, 0) < self._max_t:
            self._num_stopped -= 1
            return TrialScheduler.CONTINUE
        return action
