"""Every scientific value tried (tuning/coverage.py): the stratified start-up, the reference's slice filled, and the
searcher proposing both through real Optuna on a real SQLite storage."""
from __future__ import annotations

from collections import Counter

import optuna
import pandas as pd
import pytest

from search_spaces.loader import load_space
from tuning.budgets import REPEAT_KEY, fresh_seeds, repeat_seed, split_repeat
from tuning.coverage import PER_VALUE, REPEAT_RUNS, leader_repeat, slice_gaps, stratified_startup
from tuning.db import TrialDB


@pytest.mark.parametrize("name, calibration", [("cnn_aug", 4), ("resnet", 4), ("scaling", 0), ("headline", 0)])
def test_startup_gives_every_scientific_value_two_trials(name, calibration):
    space = load_space(name)
    plan = stratified_startup(space, seed=0, calibration_per_model=calibration, num_samples=200)
    assert not plan.short
    for p in space.params:
        if p.role != "scientific" or p.kind != "categorical":
            continue
        applies = [pt for pt in plan.points if p.active({**space.fixed, **pt})]
        got = Counter(pt.get(p.name) for pt in applies)
        assert all(got[v] >= PER_VALUE for v in p.choices), (p.name, got)
        assert all(p.name in pt for pt in applies)  # set wherever it applies, never where it does not
        assert not any(p.name in pt for pt in plan.points if pt not in applies)
    models = [pt.get("model") for pt in plan.points]
    if calibration and "model" in {p.name for p in space.params}:
        k = len(set(models))
        assert plan.calibration == frozenset(range(1, calibration * k + 1))  # the first of each model ...
        assert Counter(models[: calibration * k]) == {m: calibration for m in set(models)}  # ... that many each
    elif not calibration:
        assert not plan.calibration


def test_startup_is_seeded_and_its_parameters_do_not_move_together():
    space = load_space("cnn_aug")
    a, b = (stratified_startup(space, seed=s, calibration_per_model=4, num_samples=32) for s in (0, 1))
    assert a == stratified_startup(space, seed=0, calibration_per_model=4, num_samples=32) and a.points != b.points
    pairs = Counter((pt["model"], pt["optimizer"]) for pt in a.points)
    assert len(pairs) > 3  # not each model with one optimizer


def test_a_short_budget_deals_what_it_has_and_says_what_it_lacks():
    plan = stratified_startup(load_space("cnn_aug"), seed=0, calibration_per_model=4, num_samples=6)
    assert len(plan.points) == 6 and plan.calibration == frozenset(range(1, 7))
    assert plan.counts["model"] == {"mlp": 2, "cnn": 2, "resnet": 2}
    assert sorted(plan.counts["aug_strength"].values()) == [1, 1, 1, 1, 2]
    assert sum("aug_strength" in s for s in plan.short) == 4 and not any("model" in s for s in plan.short)


def test_a_space_without_categorical_scientific_values_has_empty_points_for_its_calibration():
    plan = stratified_startup(load_space("smoke"), seed=0, calibration_per_model=4, num_samples=6)
    assert plan.points == ({},) * 4 and plan.calibration == frozenset({1, 2, 3, 4}) and not plan.short


def frame(rows):
    return pd.DataFrame(rows, columns=["trial_id", "status", "epochs", "rung", "last_val_acc", "params"])


REF = {"model": "mlp", "aug_strength": 0.0, "optimizer": "adamw", "lr": 0.01, "weight_decay": 1e-4,
       "one_minus_beta1": 0.1, "mlp.width": 512}


def test_slice_gaps_give_each_value_two_trials_in_the_references_slice():
    space = load_space("cnn_aug")
    cnn_off = {**REF, "model": "cnn", "aug_strength": 0.5, "cnn.width": 16, "cnn.depth": 1}  # not in the slice
    resnet_in = {**REF, "model": "resnet", "resnet.width": 1.0}  # in the slice (its aug and optimizer)
    trials = frame([("ref", "completed", 8, None, 0.86, REF), ("c", "completed", 8, None, 0.90, cnn_off),
                    ("r", "early_stopped", 2, 2, 0.95, resnet_in)])
    reference, gaps = slice_gaps(space, trials, [REF, cnn_off, resnet_in])
    assert reference["trial_id"] == "c"  # completed trials rank first: the cnn is the reference
    reference, gaps = slice_gaps(space, trials[trials["trial_id"] != "c"], [REF, cnn_off, resnet_in])
    assert reference["trial_id"] == "ref"
    slice_of = {"aug_strength": 0.0, "optimizer": "adamw"}
    assert gaps[:4] == [{"model": "mlp", **slice_of}, {"model": "cnn", **slice_of}, {"model": "cnn", **slice_of},
                        {"model": "resnet", **slice_of}]
    wanted = Counter(tuple(sorted(g.items())) for g in gaps)
    assert wanted[tuple(sorted({"model": "mlp", "aug_strength": 0.25, "optimizer": "adamw"}.items()))] == 2
    assert wanted[tuple(sorted({"model": "mlp", "aug_strength": 0.0, "optimizer": "nesterov"}.items()))] == 2
    assert len(gaps) == 4 + (1 + 4 * 2) + (1 + 2)  # model, aug_strength (the reference's own value once), optimizer
    # proposed trials count, whatever their status: once they are there, the slice is full
    filled = [REF, cnn_off, resnet_in] + gaps
    assert slice_gaps(space, trials[trials["trial_id"] != "c"], filled)[1] == []


def test_no_reference_before_a_trial_completes():
    space = load_space("cnn_aug")
    assert slice_gaps(space, frame([("a", "early_stopped", 2, 2, 0.9, REF), ("b", "running", 3, None, 0.9, REF)]),
                      [REF, REF]) == ({}, [])
    assert slice_gaps(space, frame([]), []) == ({}, [])


def test_a_point_that_leaves_nothing_to_sample_is_wanted_once():
    space = load_space("aug_size_shared")  # no nuisance parameter: a second trial would repeat the first
    ref = {"data_fraction": 0.1, "aug_strength": 0.0}
    _, gaps = slice_gaps(space, frame([("ref", "completed", 1, None, 0.8, ref)]), [ref])
    assert sorted(map(lambda g: tuple(sorted(g.items())), gaps)) == sorted(
        [(("aug_strength", 0.0), ("data_fraction", 0.25)), (("aug_strength", 0.5), ("data_fraction", 0.1)),
         (("aug_strength", 1.0), ("data_fraction", 0.1))])


def test_the_leader_is_repeated_until_it_has_its_runs_and_runs_pool_in_the_ranking():
    from tuning.selection import config_key, rank_trials

    lucky = {**REF, "model": "resnet", "resnet.width": 0.5}
    trials = frame([("ref", "completed", 8, None, 0.84, REF), ("lucky", "completed", 8, None, 0.86, lucky)])
    assert leader_repeat(trials, {}) == ("lucky", config_key(lucky), 1)
    # its repeat is in flight (or failed): not proposed again
    assert leader_repeat(trials, {config_key(lucky): 1}) is None
    # the repeat completes lower: one row for the configuration, its mean, and the other trial leads
    repeated = pd.concat([trials, frame([("again", "completed", 8, None, 0.80, lucky)])], ignore_index=True)
    ranked = rank_trials(repeated)
    assert ranked["trial_id"].tolist() == ["ref", "lucky"] and ranked["runs"].tolist() == [1, 2]
    assert ranked["last_val_acc"].tolist() == pytest.approx([0.84, 0.83])
    assert leader_repeat(repeated, {config_key(lucky): 1}) == ("ref", config_key(REF), 1)
    # whichever run stands for a repeated configuration, its repeats are counted by configuration
    again_first = pd.concat([frame([("again", "completed", 8, None, 0.88, lucky)]), trials], ignore_index=True)
    assert leader_repeat(again_first, {config_key(lucky): 1}) is None
    # where the start times are known, the configuration's first run stands for it
    timed = again_first.assign(started_at=[3.0, 1.0, 2.0])
    assert rank_trials(timed)["trial_id"].tolist() == ["lucky", "ref"]
    # a repeat that did not complete (cut by the time cap) adds nothing, and is not a row of its own
    cut = pd.concat([trials, frame([("again", "cut", 3, None, 0.5, lucky)])], ignore_index=True)
    assert rank_trials(cut)["trial_id"].tolist() == ["lucky", "ref"]
    assert REPEAT_RUNS == 2 and leader_repeat(frame([("a", "early_stopped", 2, 2, 0.9, REF)]), {}) is None


def test_a_repeat_trains_the_same_parameters_on_a_seed_no_other_run_uses():
    sampled, overrides = split_repeat({"lr": 0.1, REPEAT_KEY: 2}, {"seed": 3, "data_fraction": 0.1})
    assert sampled == {"lr": 0.1} and overrides == {"seed": repeat_seed(3, 2), "data_fraction": 0.1}
    assert split_repeat({"lr": 0.1}, {"seed": 3}) == ({"lr": 0.1}, {"seed": 3})
    for search_seed in range(5):
        repeats = {repeat_seed(search_seed, k) for k in range(1, 20)}
        assert search_seed not in repeats and not repeats & set(fresh_seeds(search_seed, 10))


def test_the_searcher_proposes_the_start_up_then_the_references_slice(tmp_path):
    """Real Optuna on the study's SQLite file: the start-up's partial points come first, completed by the sampler
    (nuisance parameters, a model's own kwargs); once a trial has completed, the reference's slice."""
    from tuning.search import make_optuna_search

    url = f"sqlite:///{tmp_path / 'trials.db'}"
    db, space = TrialDB(url), load_space("cnn_aug")
    plan = stratified_startup(space, seed=0, calibration_per_model=4, num_samples=32)
    search = make_optuna_search(space, "tpe", 0, "s", url, startup_trials=16, max_epochs=8,
                                startup_points=plan.points, db=db)
    for i, point in enumerate(plan.points, start=1):
        params = search.suggest(f"t{i}")
        assert point.items() <= params.items() and {"lr", "weight_decay"} <= params.keys(), (point, params)
        assert f"{params['model']}.width" in params and not {f"{m}.width" for m in ("mlp", "cnn", "resnet")
                                                             if m != params["model"]} & params.keys()
    # no trial has completed: no reference, the sampler proposes freely
    free = search.suggest("t13")
    assert "proposed_by" not in search._ot_trials["t13"].user_attrs
    # trial t4 (an mlp of the start-up) completes: it leads, so it is repeated on another seed before it is trusted
    ref_params = search._ot_trials["t4"].params
    db.upsert_trial("s", "t4", params=ref_params, status="completed", epochs=8, last_val_acc=0.86)
    again = search.suggest("t14")
    assert again == {**ref_params, REPEAT_KEY: 1}, (again, ref_params)
    assert search._ot_trials["t14"].user_attrs["proposed_by"] == "repeat of trial t4"
    # with its repeat in flight, it is the reference, and its slice is what comes next
    nxt = search.suggest("t15")
    slice_of = {k: ref_params[k] for k in ("aug_strength", "optimizer")}
    assert slice_of.items() <= nxt.items() and REPEAT_KEY not in nxt, (slice_of, nxt)
    assert search._ot_trials["t15"].user_attrs["proposed_by"] == "slice of trial t4"
    # the repeat ends far lower: the pooled mean (0.80) yields the lead to a trial that is then repeated in turn
    db.upsert_trial("s", "t14", params=ref_params, status="completed", epochs=8, last_val_acc=0.74)
    db.upsert_trial("s", "t5", params=search._ot_trials["t5"].params, status="completed", epochs=8,
                    last_val_acc=0.84)
    assert search.suggest("t16") == {**search._ot_trials["t5"].params, REPEAT_KEY: 1}
    study = optuna.load_study(study_name="s", storage=url)
    assert not study.get_trials(states=(optuna.trial.TrialState.WAITING,))  # nothing left queued for later
    assert free is not None


TWO_BY_TWO = """
description: two models by two augmentation strengths, tiny
scientific:
  model: {feasible_points: [mlp, cnn]}
  aug_strength: {feasible_points: [0.0, 1.0]}
nuisance:
  lr: {min: 0.05, max: 0.2, scaling: log}
fixed:
  mlp.width: 64
  cnn.width: 4
  optimizer: nesterov
  batch_size: 128
  eval_batch_size: 2500
  ema: 0.0
"""


def test_a_real_study_confirms_every_value_with_a_searched_trial(tmp_path):
    """Ray, Optuna and SQLite: the stratified start-up (2 trials per value), then the leader repeated and the
    reference's slice filled (2 per value, nuisance lr sampled), so the confirmation's every arm is a searched
    trial. 12 trials of one epoch: 4 combinations x 2 trials fill every slice whatever the reference turns out to
    be, with 4 to spare for the leaders' repeats."""
    import json
    import sqlite3

    from conftest import failed
    from test_tuning import run_cli

    space = tmp_path / "two_by_two.yaml"
    space.write_text(TWO_BY_TWO)
    out = run_cli("--space", str(space), "--budget", "smoke", "--scheduler", "fifo", "--num-samples", "12",
                  "--max-epochs", "1", "--confirm", "--confirm-epochs", "1", "--storage-path", str(tmp_path))
    assert out.returncode == 0, failed(out)
    assert "start-up: the first 4 trials at random, stratified (model: mlp 2, cnn 2; aug_strength: 0.0 2, 1.0 2)" \
        in out.stdout, out.stdout
    assert "search: the reference is trial " in out.stdout
    db = tmp_path / "two_by_two" / "trials.db"
    study = optuna.load_study(study_name="two_by_two", storage=f"sqlite:///{db}")
    origins = [t.user_attrs.get("proposed_by", "sampler") for t in sorted(study.trials, key=lambda t: t.number)]
    assert origins[:4] == ["start-up"] * 4 and any(o.startswith("slice of trial ") for o in origins), origins
    repeats = {t.user_attrs["trial_id"]: t.user_attrs["proposed_by"].removeprefix("repeat of trial ")
               for t in study.trials if t.user_attrs.get("proposed_by", "").startswith("repeat of trial ")}
    assert repeats and "repeats the leading configuration" in out.stdout  # the first leader, at least
    with sqlite3.connect(db) as conn:
        rows = {tid: (json.loads(p), seed) for tid, p, seed in conn.execute(
            "select trial_id, params, seed from ganrator_trials")}
        sources = [s for (s,) in conn.execute("select source from ganrator_confirm_arms")]
        reference = json.loads(conn.execute("select config from ganrator_confirm_arms where is_reference").fetchone()[0])
        accs = {tid: acc for tid, acc in conn.execute("select trial_id, last_val_acc from ganrator_trials")}
    assert len(rows) == 12
    for again, first in repeats.items():  # the same parameters on another seed
        assert rows[again][0] == rows[first][0] and rows[again][1] != rows[first][1]
    lrs = [p["lr"] for tid, (p, _) in rows.items() if tid not in repeats]
    assert len(set(lrs)) == len(lrs)  # the sampler chose every other lr
    assert len(sources) == 4, sources
    # every arm is a searched trial, except a value whose trials in the reference's slice all stayed at chance (one
    # epoch may not lift a CNN off 10%): a trial that never learned is no evidence for its value
    for s in sources:
        if s.startswith("trial "):
            continue
        param, value = s.removeprefix("reference with ").split(" (")[0].split(" = ")
        other = {"model": "aug_strength", "aug_strength": "model"}[param]
        in_slice = [tid for tid, (prm, _) in rows.items()
                    if str(prm[param]) == value and prm[other] == reference[other]]
        assert in_slice and all(accs[tid] <= 0.12 for tid in in_slice), (s, {t: accs[t] for t in in_slice})
