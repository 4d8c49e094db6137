"""The one rule for a trial's final state, as the recorder, the Optuna searcher and the driver apply it."""
from __future__ import annotations

import pytest
from optuna.trial import TrialState

from tuning.db import TERMINAL
from tuning.states import final_state, unfinished_state


@pytest.mark.parametrize("last, error, status, state, value, rung", [
    ({"epoch": 3, "val_acc": 0.8}, False, "completed", TrialState.COMPLETE, 0.8, None),
    ({"epoch": 2, "val_acc": 0.6}, False, "early_stopped", TrialState.PRUNED, None, 2),  # the scheduler's stop
    ({"epoch": 1, "val_acc": 0.0, "status": "diverged"}, False, "diverged", TrialState.COMPLETE, 0.0, None),
    ({"epoch": 2, "val_acc": 0.6}, True, "errored", TrialState.FAIL, None, None),
    (None, False, "cut", TrialState.FAIL, None, None),  # removed before its first result
    # a step budget: a large training set needs fewer epochs than max_epochs; a small one more
    ({"epoch": 2, "planned_epochs": 2, "val_acc": 0.7}, False, "completed", TrialState.COMPLETE, 0.7, None),
    ({"epoch": 3, "planned_epochs": 5, "val_acc": 0.7}, False, "early_stopped", TrialState.PRUNED, None, 3),
    ({"epoch": 5, "planned_epochs": 5, "val_acc": 0.7}, False, "completed", TrialState.COMPLETE, 0.7, None),
])
def test_final_state(last, error, status, state, value, rung):
    s = final_state(last, max_epochs=3, error=error)
    assert (s.status, s.optuna, s.value, s.rung) == (status, state, value, rung)


def test_unfinished_states_and_which_a_resume_skips():
    assert unfinished_state("interrupted").optuna == unfinished_state("cut").optuna == TrialState.FAIL
    with pytest.raises(ValueError, match="cut, interrupted"):
        unfinished_state("completed")
    assert "interrupted" not in TERMINAL and "running" not in TERMINAL  # a resume continues these
    assert "cut" in TERMINAL  # Ray holds it TERMINATED: a resume does not run it again
