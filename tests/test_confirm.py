"""The confirmation stage's arm selection, on trials planted through the real TrialDB (SQLite), and fresh seeds."""
from __future__ import annotations

import pytest

from search_spaces.loader import load_space
from tuning.budgets import BUDGETS, fresh_seeds
from tuning.confirm import select_arms, trials_frame
from tuning.db import TrialDB, trials

SPACE = """
scientific:
  model: {feasible_points: [mlp, cnn]}
  optimizer: {feasible_points: [nesterov, adamw]}
  aug_strength: {min: 0.0, max: 1.0}
nuisance:
  lr: {min: 0.001, max: 0.5, scaling: log}
  cnn.width: {feasible_points: [4, 8]}
  mlp.width: {feasible_points: [32, 64]}
"""

# trial id: (status, epochs, val acc, model, optimizer, aug_strength, width)
PLANTED = {
    "ref": ("completed", 4, 0.90, "cnn", "nesterov", 0.9, 8),  # the validation-selected reference
    "a_r1": ("early_stopped", 1, 0.80, "cnn", "adamw", 0.8, 4),  # adamw in the slice, stopped at rung 1 ...
    "a_r2": ("early_stopped", 2, 0.75, "cnn", "adamw", 0.95, 4),  # ... and at rung 2: the arm, despite lower val
    "o_mlp": ("completed", 4, 0.89, "mlp", "adamw", 0.9, 64),  # adamw, but another model: outside the slice
    "o_aug": ("completed", 4, 0.88, "cnn", "adamw", 0.1, 4),  # adamw, but another aug bucket: outside the slice
    "n_low": ("completed", 4, 0.85, "cnn", "nesterov", 0.2, 4),  # low aug bucket, full budget ...
    "n_low_es": ("early_stopped", 2, 0.95, "cnn", "nesterov", 0.25, 8),  # ... beats a higher val stopped early
    "broken": ("errored", 0, None, "mlp", "nesterov", 0.9, 32),  # no result: never an arm
}


def plant(path) -> TrialDB:
    db = TrialDB(f"sqlite:///{path}")
    for tid, (status, epochs, val, model, opt, aug, width) in PLANTED.items():
        db.upsert_trial("s", tid, params={"model": model, "optimizer": opt, "aug_strength": aug, "lr": 0.05,
                                          f"{model}.width": width},
                        status=status, epochs=epochs, rung=epochs if status == "early_stopped" else None,
                        last_val_acc=val, best_val_acc=val)
    return db


@pytest.fixture
def space(tmp_path):
    (tmp_path / "planted_space.yaml").write_text(SPACE)
    return load_space(tmp_path / "planted_space.yaml")


def by_value(arms, param):
    return {a.value: a for a in arms if a.param == param}


def test_arms_condition_on_the_reference_and_rank_at_the_highest_rung(tmp_path, space):
    db = plant(tmp_path / "t.db")
    arms = select_arms(space, trials_frame(db.rows(trials, "s")))
    ref_config = {"model": "cnn", "optimizer": "nesterov", "aug_strength": 0.9, "lr": 0.05, "cnn.width": 8}

    opt = by_value(arms, "optimizer")
    assert opt["nesterov"].is_reference and opt["nesterov"].source == "trial ref"
    # Only trials with model = cnn and aug in the reference's bucket count; of those, the highest rung wins.
    assert opt["adamw"].source == "trial a_r2 at rung 2 (stopped early)" and opt["adamw"].source_rung == 2
    assert opt["adamw"].config["aug_strength"] == 0.95 and not opt["adamw"].is_reference

    # No mlp trial with nesterov: the reference with only the model changed; cnn.width drops out and
    # mlp.width comes from the best mlp trial anywhere in the study.
    model = by_value(arms, "model")
    assert model["mlp"].source == "reference with model = mlp (mlp.width from trial o_mlp)"
    assert model["mlp"].config == {"model": "mlp", "optimizer": "nesterov", "aug_strength": 0.9, "lr": 0.05,
                                   "mlp.width": 64}
    assert model["mlp"].source_trial is None

    # A continuous scientific parameter goes into 3 buckets; an empty one stands at its centre.
    aug = by_value(arms, "aug_strength")
    assert list(aug) == ["[0, 0.333)", "[0.333, 0.667)", "[0.667, 1]"]
    assert aug["[0, 0.333)"].source == "trial n_low"  # full budget ranks above a better val stopped early
    assert aug["[0.333, 0.667)"].source == "reference with aug_strength = 0.5"
    assert aug["[0.333, 0.667)"].config == {**ref_config, "aug_strength": 0.5}
    assert aug["[0.667, 1]"].is_reference

    # The reference appears in every table, with one configuration (trained once).
    refs = [a for a in arms if a.is_reference]
    assert len(refs) == 3 and len({a.key for a in refs}) == 1
    assert refs[0].config == ref_config
    assert len({a.key for a in arms}) == len(arms) - 2


def test_a_model_never_tried_takes_its_defaults(tmp_path, space):
    db = plant(tmp_path / "t.db")
    rows = [r for r in db.rows(trials, "s") if r["trial_id"] != "o_mlp"]
    mlp = by_value(select_arms(space, trials_frame(rows)), "model")["mlp"]
    assert mlp.source == "reference with model = mlp (mlp.width: model default)"
    assert "mlp.width" not in mlp.config and "cnn.width" not in mlp.config
    space.train_config(mlp.config)  # a configuration the trainer accepts


def test_no_result_no_arms(tmp_path, space):
    db = TrialDB(f"sqlite:///{tmp_path / 'e.db'}")
    assert select_arms(space, trials_frame(db.rows(trials, "s"))) == []


def test_fresh_seeds_are_disjoint_from_the_search_seed_and_shared():
    for seed in (0, 1, 7):
        seeds = fresh_seeds(seed, BUDGETS["laptop"].confirm_seeds)
        assert seed not in seeds and len(set(seeds)) == len(seeds) == 3
    assert fresh_seeds(0, 2) == fresh_seeds(0, 3)[:2]  # seed k is the same however many seeds there are


CROSS_SPACE = """
scientific:
  data_fraction: {feasible_points: [0.1, 0.25, 1.0]}
  aug_strength: {feasible_points: [0.0, 0.5, 1.0]}
nuisance:
  lr: {min: 0.001, max: 0.5, scaling: log}
fixed:
  model: cnn
confirm: {cross: [data_fraction, aug_strength]}
"""


def test_a_cross_confirms_every_data_size_with_every_augmentation(tmp_path):
    """One-at-a-time arms would give the augmentation arms only at the reference's data size; the cross gives all
    9 cells, each the best trial of its cell where the search ran one, else the reference with the cell's values."""
    (tmp_path / "cross.yaml").write_text(CROSS_SPACE)
    space = load_space(tmp_path / "cross.yaml")
    db = TrialDB(f"sqlite:///{tmp_path / 'c.db'}")
    planted_cells = {("ref", 1.0, 0.5, 0.05, 0.92), ("small_none", 0.1, 0.0, 0.2, 0.80),
                     ("small_none_worse", 0.1, 0.0, 0.01, 0.78), ("mid_strong", 0.25, 1.0, 0.1, 0.86)}
    for tid, frac, aug, lr, val in planted_cells:
        db.upsert_trial("s", tid, params={"data_fraction": frac, "aug_strength": aug, "lr": lr}, status="completed",
                        epochs=2, last_val_acc=val, best_val_acc=val)
    arms = select_arms(space, trials_frame(db.rows(trials, "s")))
    assert {a.param for a in arms} == {"data_fraction x aug_strength"} and len(arms) == 9
    cells = {(a.point["data_fraction"], a.point["aug_strength"]): a for a in arms}
    assert set(cells) == {(f, s) for f in (0.1, 0.25, 1.0) for s in (0.0, 0.5, 1.0)}
    assert [a.position for a in arms] == list(range(9))
    assert cells[(1.0, 0.5)].is_reference and sum(a.is_reference for a in arms) == 1
    assert cells[(0.1, 0.0)].source == "trial small_none" and cells[(0.1, 0.0)].config["lr"] == 0.2
    assert cells[(0.25, 1.0)].source == "trial mid_strong"
    empty = cells[(0.1, 1.0)]
    assert empty.source == "reference with data_fraction = 0.1, aug_strength = 1.0" and empty.source_trial is None
    assert empty.config == {"data_fraction": 0.1, "aug_strength": 1.0, "lr": 0.05}
    assert empty.value == "data_fraction = 0.1, aug_strength = 1.0"
    assert len({a.key for a in arms}) == 9


def test_completed_trials_of_a_step_budget_rank_by_validation_alone():
    """A step budget gives 10% of the data 72 epochs and 25% 29: both trials completed their budget, so the epoch
    count must not rank the first above a better second (it did: 'full-budget trials first' read epochs)."""
    from tuning.selection import rank_trials

    frame = trials_frame([
        {"trial_id": "small", "status": "completed", "epochs": 72, "last_val_acc": 0.911},
        {"trial_id": "large", "status": "completed", "epochs": 29, "last_val_acc": 0.930},
        {"trial_id": "stopped", "status": "early_stopped", "epochs": 2, "rung": 2, "last_val_acc": 0.95},
    ])
    assert rank_trials(frame)["trial_id"].tolist() == ["large", "small", "stopped"]


def test_runs_go_arm_by_arm_so_the_first_parameter_completes_first():
    from tuning.confirm import run_order

    order = run_order(["size-a", "size-b", "width-a"], [1000, 1001], done={("size-a", 1000)})
    assert order == [("size-a", 1001), ("size-b", 1000), ("size-b", 1001), ("width-a", 1000), ("width-a", 1001)]


def test_a_scientific_parameter_of_another_model_gets_no_arms(tmp_path):
    """resnet.width does not apply to a cnn reference: no arm (with pandas' string dtype a missing label reads as
    NaN, not None; arms of it trained the reference again under another name)."""
    (tmp_path / "cond.yaml").write_text("scientific:\n  model: {feasible_points: [cnn, resnet]}\n"
                                        "  cnn.width: {feasible_points: [8, 16]}\n"
                                        "  resnet.width: {feasible_points: [0.5, 1.0]}\n"
                                        "nuisance:\n  lr: {min: 0.01, max: 0.5, scaling: log}\n")
    space = load_space(tmp_path / "cond.yaml")
    db = TrialDB(f"sqlite:///{tmp_path / 'c.db'}")
    for tid, params, val in (("ref", {"model": "cnn", "cnn.width": 16}, 0.9),
                             ("w8", {"model": "cnn", "cnn.width": 8}, 0.8),
                             ("res", {"model": "resnet", "resnet.width": 0.5}, 0.85)):
        db.upsert_trial("s", tid, params={**params, "lr": 0.1}, status="completed", epochs=2, last_val_acc=val,
                        best_val_acc=val)
    arms = select_arms(space, trials_frame(db.rows(trials, "s")))
    assert {a.param for a in arms} == {"model", "cnn.width"}
    assert by_value(arms, "model")["resnet"].source == "trial res"
    assert len({a.key for a in arms}) == 3  # the reference, cnn width 8, the resnet


def test_arms_an_earlier_run_selected_and_this_one_does_not_are_removed(tmp_path):
    db = TrialDB(f"sqlite:///{tmp_path / 'k.db'}")
    for param, value in (("model", "cnn"), ("resnet.width", "0.5"), ("cnn.width", "8")):
        db.upsert_confirm_arm("s", param, value, arm_key=f"{param}-{value}", position=0)
    db.upsert_confirm_arm("other", "resnet.width", "0.5", arm_key="x", position=0)  # another study: untouched
    assert db.keep_confirm_arms("s", {("model", "cnn"), ("cnn.width", "8")}) == [("resnet.width", "0.5")]
    from tuning.db import confirm_arms

    assert {(r["param"], r["value"]) for r in db.rows(confirm_arms, "s")} == {("model", "cnn"), ("cnn.width", "8")}
    assert len(db.rows(confirm_arms, "other")) == 1


def test_the_eta_weighs_runs_by_their_expected_seconds():
    from tuning.confirm import Arm, expected_costs
    from tuning.retrain import eta

    def arm(source_trial, fraction):
        return Arm("p", "v", 0, 1, {"data_fraction": fraction}, "trial", source_trial, None, False)

    arms = {"big": arm("t1", 1.0), "small": arm("t2", 0.1), "seen": arm("t1", 1.0), "blind": arm(None, 0.5)}
    trials = [{"trial_id": "t1", "wall_time": 600.0, "epochs": 2, "config": {"data_fraction": 1.0}},
              {"trial_id": "t2", "wall_time": 30.0, "epochs": 2, "config": {"data_fraction": 0.1}}]
    runs = [{"arm_key": "seen", "status": "completed", "wall_time": 100.0},
            {"arm_key": "seen", "status": "errored", "wall_time": 1.0}]  # an errored run says nothing of the time
    todo = [("big", 1002), ("small", 1002), ("seen", 1002), ("blind", 1002)]
    by_epochs = expected_costs(todo, arms, runs, trials, epochs=4, data_fraction=1.0, steps=False)
    # twice the epochs of the source trial; the earlier run of the same configuration rules over its source
    assert by_epochs[("big", 1002)] == 1200.0 and by_epochs[("small", 1002)] == 60.0
    assert by_epochs[("seen", 1002)] == 100.0
    assert by_epochs[("blind", 1002)] == (1200.0 + 60.0 + 100.0) / 3  # nothing known: the mean of the others
    by_steps = expected_costs(todo, arms, runs, trials, epochs=4, data_fraction=1.0, steps=True)
    assert by_steps[("big", 1002)] == 600.0 and by_steps[("small", 1002)] == 30.0  # fixed steps: the trial's time
    assert expected_costs(todo[:1], {"big": arm(None, 1.0)}, [], [], 4, 1.0, False) == {("big", 1002): 1.0}
    # 10 minutes went to one small run of 1 expected unit; 20 big units remain: far more than a run count says
    assert eta(600.0, 1.0, 20.0) == "3h20m" and eta(600.0, 1.0, 0.0) == "done"


def test_a_trial_at_chance_is_no_arm(tmp_path, space):
    # a full-budget trial whose learning rate never trained (10% on ten classes) ranks above the stopped trials of
    # its value, but says nothing about that value: the arm is the best trial above chance, else the reference's
    db = plant(tmp_path / "t.db")
    db.upsert_trial("s", "chance", params={"model": "cnn", "optimizer": "adamw", "aug_strength": 0.85, "lr": 0.4,
                                           "cnn.width": 4},
                    status="completed", epochs=4, last_val_acc=0.10, best_val_acc=0.11)
    opt = by_value(select_arms(space, trials_frame(db.rows(trials, "s"))), "optimizer")
    assert opt["adamw"].source == "trial a_r2 at rung 2 (stopped early)"
    rows = [r for r in db.rows(trials, "s") if not r["trial_id"].startswith("a_")]
    opt = by_value(select_arms(space, trials_frame(rows)), "optimizer")
    assert opt["adamw"].source == "reference with optimizer = adamw" and opt["adamw"].source_trial is None
