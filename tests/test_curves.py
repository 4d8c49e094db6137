"""The planned study's analysis on planted runs: the planner runs the plan to its end with planted accuracies, so
every number the analysis reports has a known truth."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from analysis.stats import curves
from tests.conftest import ROOT
from tuning.plan import load_plan
from tuning.planner import next_jobs

PLAN = load_plan(ROOT / "results" / "plan.yaml")
B_DEEP, B_CLASSICAL = 0.5, 0.25  # planted exponents: the CNN learns faster with data


def truth(job) -> float:
    """Planted test (and validation) accuracy: error = a n^-b + c per family, best at the planted optimum."""
    c = job.config
    if job.family == "deep":
        err = 4.0 * job.size ** -B_DEEP + 0.05
        err += 0.02 * math.log(c["lr"] / 0.1) ** 2 + 0.01 * math.log(c["weight_decay"] / 5e-4) ** 2
        err += 0.04 * math.exp(-job.steps / 400)
        if c.get("aug_strength", 0) > 0:
            err -= 0.004
    else:
        err = 0.6 * job.size ** -B_CLASSICAL + 0.04
        err += 0.01 * math.log(c["C"] / 10) ** 2 + 0.01 * math.log(c["gamma_factor"]) ** 2
    return 1 - err


def planted_runs(noise: float = 0.002, seed: int = 0):
    rng = random.Random(seed)
    rows: dict[str, dict] = {}
    for _ in range(50):
        state = next_jobs(PLAN, rows)
        if not state.jobs:
            break
        for job in state.jobs:
            acc = truth(job)
            rows[job.key] = {"job_key": job.key, "status": "completed", "family": job.family, "arm": job.arm,
                             "purpose": job.purpose, "size": job.size, "steps": job.steps, "params": job.config,
                             "seed": job.seed, "val_acc": acc + rng.gauss(0, noise), "train_acc": 0.995,
                             "test_acc": acc + rng.gauss(0, noise) if job.test else None,
                             "cpu_seconds": 1.0, "wall_time": 1.0}
    import pandas as pd

    return pd.DataFrame(list(rows.values()))


@pytest.fixture(scope="module")
def planted():
    runs = planted_runs()
    return runs, curves.decisions(PLAN, runs)


def planted_crossing() -> float:
    from scipy.optimize import brentq

    gap = lambda n: (0.6 * n ** -B_CLASSICAL + 0.04) - (4.0 * n ** -B_DEEP + 0.05)  # noqa: E731
    return brentq(gap, 550, 55000)


def test_every_point_is_confirmed_and_reported_with_its_interval(planted):
    runs, state = planted
    table = curves.confirmed(PLAN, runs, state)
    assert set(table["size"]) == set(PLAN.sizes)
    assert (table["seeds"] >= PLAN.seeds.per_point).all() and table["fitted"].dropna().all()
    assert (table["test_low"] < table["test"]).all() and (table["test"] < table["test_high"]).all()


def test_the_family_difference_changes_sign_where_the_planted_curves_cross(planted):
    runs, state = planted
    diffs = curves.family_differences(PLAN, state)
    assert diffs.iloc[0]["diff"] < 0 < diffs.iloc[-1]["diff"]  # classical first, the CNN on all the data
    assert list(diffs["how"]) == ["paired"] * (len(PLAN.sizes) - 1) + ["Welch"]
    assert (diffs["p_holm"] >= diffs["p"]).all()
    cross = curves.crossover(PLAN, state, n_boot=200)
    true = planted_crossing()
    assert cross["share"] > 0.9 and cross["low"] <= true * 1.3 and true / 1.3 <= cross["high"]
    assert cross["low"] <= cross["size"] <= cross["high"]


def test_the_fit_recovers_the_planted_exponent_and_predicts_the_held_out_size(planted):
    runs, state = planted
    fit = curves.fit_curve(PLAN, state, "cnn", n_boot=200)
    assert fit.held_out == 55000 and 55000 not in fit.sizes and len(fit.sizes) == 6
    assert fit.b_low <= B_DEEP * 1.1 and B_DEEP * 0.9 <= fit.b_high
    assert fit.held_out_ok


def test_the_augmentation_comparison_reports_its_precision_and_detectable_effect(planted):
    runs, state = planted
    aug = curves.augmentation(PLAN, state)
    assert aug["n"] == state.pairs >= PLAN.augmentation.power.start_pairs
    assert aug["low"] < 0.004 < aug["high"] or abs(aug["diff"] - 0.004) < 0.003
    d = np.array([0.001, 0.004, 0.002, 0.006])
    from scipy import stats

    expect = (stats.t.ppf(0.975, 3) + stats.t.ppf(0.8, 3)) * d.std(ddof=1) / 2
    assert curves.paired_detectable(d) == pytest.approx(expect)


def test_the_secondary_table_pairs_each_arm_with_none_at_the_same_length(planted):
    runs, state = planted
    sec = curves.secondary(PLAN, runs, state)
    assert set(sec["arm"]) == {"flip+shift", "flip", "shift"}
    assert len(sec[sec["arm"] == "flip+shift"]) == len(PLAN.augmentation.secondary.lengths)
    assert (sec["n"] == PLAN.seeds.per_point).all()
    row = sec[(sec["arm"] == "flip+shift")].iloc[0]
    assert row["low"] < 0.004 + 0.01 and row["diff"] == pytest.approx(0.004, abs=0.01)


def test_effort_counts_each_familys_validation_scored_configurations(planted):
    runs, _ = planted
    eff = curves.effort(runs)
    assert set(eff.index) == {"deep", "classical"}
    assert eff.loc["classical", "configurations"] >= 9 * len(PLAN.sizes)
