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


def test_a_trial_that_restarts_after_a_crash_keeps_only_its_new_epochs(tmp_path):
    """The recorder's rows after a driver crash: a trial that Ray restores from an earlier checkpoint than the
    database reached (or restarts) must not keep the lost attempt's later epochs, nor their best accuracy."""
    import sqlite3

    from ray.tune.experiment import Trial

    from search_spaces.loader import load_space
    from tuning.callbacks import TrialRecorder
    from tuning.db import TrialDB

    db = TrialDB(f"sqlite:///{tmp_path / 'trials.db'}")
    space = load_space("smoke")
    trial = Trial("train_trial", config={"aug_strength": 0.5, "lr": 0.1, "cnn.width": 4}, trial_id="t1", stub=True)

    def rows():
        with sqlite3.connect(tmp_path / "trials.db") as conn:
            return (conn.execute("select epoch, val_acc from ganrator_epochs order by epoch").fetchall(),
                    conn.execute("select epochs, best_val_acc from ganrator_trials").fetchall())

    rec = TrialRecorder(db, "s", space, {}, 3, {})
    rec.on_trial_start(0, [], trial)
    for epoch, acc in ((1, 0.5), (2, 0.7)):
        rec.on_trial_result(0, [], trial, {"epoch": epoch, "val_acc": acc})
    # The driver dies; the next one has no checkpoint of the trial, which trains from epoch 1 again.
    rec = TrialRecorder(db, "s", space, {}, 3, {})
    rec.on_trial_start(0, [], trial)
    rec.on_trial_result(0, [], trial, {"epoch": 1, "val_acc": 0.4})
    assert rows() == ([(1, 0.4)], [(1, 0.4)])
    rec.on_trial_result(0, [], trial, {"epoch": 2, "val_acc": 0.6})
    assert rows() == ([(1, 0.4), (2, 0.6)], [(2, 0.6)])
    # A worker crash within this driver restores it from its epoch-1 checkpoint: epoch 1's row stays.
    rec.on_trial_result(0, [], trial, {"epoch": 2, "val_acc": 0.3})
    assert rows() == ([(1, 0.4), (2, 0.3)], [(2, 0.4)])


def test_a_resumed_trial_on_another_node_updates_the_optuna_attribute(tmp_path):
    """A driver killed mid-trial and resumed runs the trial again on the new Ray instance's node; the recorder's
    row follows it, so Optuna's `node` attribute must too (it was written once per trial, which left the
    first node in Optuna and the second in the table)."""
    import optuna

    from search_spaces.loader import load_space
    from tuning.search import make_optuna_search

    url = f"sqlite:///{tmp_path / 'trials.db'}"
    search = make_optuna_search(load_space("smoke"), "random", 0, "s", url, max_epochs=3)
    assert search.suggest("t1") is not None
    search.on_trial_result("t1", {"epoch": 1, "val_acc": 0.5, "node": "first", "seed": 7})
    search.save(str(tmp_path / "searcher.pkl"))  # Ray's snapshot of the searcher, before the driver dies

    resumed = make_optuna_search(load_space("smoke"), "random", 0, "s", url, max_epochs=3)
    resumed.restore(str(tmp_path / "searcher.pkl"))
    resumed.on_trial_result("t1", {"epoch": 2, "val_acc": 0.6, "node": "second", "seed": 7})
    resumed.on_trial_result("t1", {"epoch": 3, "val_acc": 0.7, "node": "second", "seed": 7})
    (trial,) = optuna.load_study(study_name="s", storage=url).trials
    assert trial.user_attrs["node"] == "second" and trial.user_attrs["seed"] == 7
    assert trial.intermediate_values == {1: 0.5, 2: 0.6, 3: 0.7}
