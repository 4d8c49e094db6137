"""Paired comparisons of confirmation arms (analysis/paired.py) on planted numbers."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.present.tables import format_paired
from analysis.stats.paired import confirmed_tables, mcnemar_exact, paired_table
from tuning.db import pack_mask, unpack_mask

SEEDS = [1000, 1001, 1002, 1003, 1004]
REF = [0.850, 0.860, 0.840, 0.855, 0.845]  # seed-to-seed spread of 2 points: larger than the planted effect's noise


def frames(arm_accs: dict[str, list[float]], masks: dict[str, list[np.ndarray]] | None = None):
    arms = pd.DataFrame([{"param": "aug", "value": v, "position": i, "arm_key": f"k{v}", "is_reference": v == "ref",
                          "source": "trial t" if v == "ref" else f"reference with aug = {v}"}
                         for i, v in enumerate(arm_accs)])
    runs = pd.DataFrame([{"arm_key": f"k{v}", "seed": s, "status": "completed", "test_acc": acc, "val_acc": acc + 0.01,
                          "test_correct": pack_mask(masks[v][i]) if masks else None,
                          "config": {"epochs": 8, "data_fraction": 0.1}}
                         for v, accs in arm_accs.items() for i, (s, acc) in enumerate(zip(SEEDS, accs))])
    return arms, runs


def row(df: pd.DataFrame, value: str) -> pd.Series:
    return df.set_index("aug").loc[value]


def test_planted_effect_is_better_and_zero_effect_is_not_significant():
    plus2 = [r + 0.02 + d for r, d in zip(REF, (0.001, -0.002, 0.0015, -0.001, 0.0005))]
    zero = [r + d for r, d in zip(REF, (0.004, -0.003, 0.002, -0.005, 0.001))]
    worse = [r - 0.01 + d for r, d in zip(REF, (0.001, -0.001, 0.0, 0.0005, -0.0005))]
    df = paired_table(*frames({"ref": REF, "plus2": plus2, "zero": zero, "worse": worse}), "aug")
    p = row(df, "plus2")
    assert p["verdict"] == "better than the reference" and 0 < p["diff_low"] < 0.02 < p["diff_high"]
    assert p["diff_mean"] == pytest.approx(0.02) and p["seeds"] == 5
    z = row(df, "zero")
    assert z["verdict"] == "inconclusive" and z["diff_low"] < 0 < z["diff_high"]
    assert row(df, "worse")["verdict"] == "worse than the reference"
    assert row(df, "ref")["verdict"].startswith("reference")
    text = format_paired(df)
    assert text.attrs.get("bold") is None  # nothing is marked best
    assert text.set_index("aug").loc["plus2", "difference to reference (points)"].startswith("+2.00 [+")


def test_mcnemar_matches_a_hand_computation():
    a = np.zeros(10_000, dtype=bool)
    b = np.zeros(10_000, dtype=bool)
    a[:5000] = b[:5000] = True  # concordant images do not count
    a[5000:5003] = True  # 3 images only a gets right
    b[5003:5013] = True  # 10 images only b gets right
    # Two-sided exact binomial on 13 discordant pairs: 2 * P(X <= 3), X ~ Bin(13, 1/2).
    hand = 2 * (1 + 13 + 78 + 286) / 2 ** 13
    assert mcnemar_exact(a, b) == pytest.approx(hand) == pytest.approx(0.0922852)
    assert mcnemar_exact(a, a) == 1.0
    assert (unpack_mask(pack_mask(a), 10_000) == a).all() and len(pack_mask(a)) < 1700

    # Through the table: one p per seed pair, never pooled over seeds.
    masks = {"ref": [b] * 2 + [a] * 3, "other": [a] * 5}
    df = paired_table(*frames({"ref": REF, "other": REF}, masks), "aug")
    ps = row(df, "other")["mcnemar_p"]
    assert len(ps) == 5 and ps[:2] == pytest.approx([hand, hand]) and ps[2:] == [1.0, 1.0, 1.0]
    assert format_paired(df).set_index("aug").loc["other", "McNemar"] == "p per seed: 0.092, 0.092, 1, 1, 1"


def test_fewer_than_three_seeds_show_the_seeds_instead_of_an_interval():
    arms, runs = frames({"ref": REF, "b": [r + 0.01 for r in REF]})
    runs = runs[runs["seed"] < 1002]
    tables = confirmed_tables(arms, runs)
    df = tables["aug"]
    b = row(df, "b")
    assert math.isnan(b["diff_low"]) and b["verdict"] == "fewer than 3 seeds: no interval"
    text = format_paired(df).set_index("aug")
    assert text.loc["b", "difference to reference (points)"] == "per seed: +1.00, +1.00"
    assert text.loc["b", "test acc (%)"] == "per seed: 86.00, 87.00 (n=2)"
    assert "8 epochs on data fraction 0.1 of the training split, 2 seed(s) per arm" in df.attrs["note"]
    assert "fresh seeds" in df.attrs["note"]


def test_a_step_budget_is_named_in_steps_not_the_budget_epochs():
    """Runs that trained for a step budget (scaling, aug_size) carry the budget's epochs = 1 in their config,
    which says nothing of how long they trained: the protocol names the steps."""
    from analysis.stats.paired import run_length

    assert run_length([{"epochs": 8}, {"epochs": 8}]) == "8 epochs"
    assert run_length([{"epochs": 1, "steps": 1500}, {"epochs": 1, "steps": 1500}]) == \
        "1,500 optimizer steps (epochs varying with the training-set size)"
    arms, runs = frames({"ref": REF, "b": [r + 0.01 for r in REF]})
    runs["config"] = [{**c, "epochs": 1, "steps": 1000} for c in runs["config"]]
    note = confirmed_tables(arms, runs)["aug"].attrs["note"]
    assert "1,000 optimizer steps (epochs varying with the training-set size) on data fraction 0.1" in note
    assert "1 epochs" not in note


def test_holm_and_the_paired_p():
    from scipy import stats

    from analysis.stats.paired import holm, paired_p

    assert holm([0.01, 0.04, 0.03, float("nan")])[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(holm([0.01, float("nan")])[1]) and holm([0.5]) == [0.5]
    d = [0.012, 0.018, 0.009, 0.015]
    assert paired_p(d) == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue)
    assert math.isnan(paired_p([0.01, 0.02]))  # fewer than 3 seeds: no test
    plus2 = [r + 0.02 + d for r, d in zip(REF, (0.001, -0.002, 0.0015, -0.001, 0.0005))]
    zero = [r + d for r, d in zip(REF, (0.004, -0.003, 0.002, -0.005, 0.001))]
    table = confirmed_tables(*frames({"ref": REF, "plus2": plus2, "zero": zero}))["aug"].set_index("aug")
    assert table.attrs["holm_family"] == 2 and math.isnan(table.loc["ref", "p_holm"])
    # the smaller p is doubled, the larger kept (and never below the smaller's adjusted value)
    assert table.loc["plus2", "p_holm"] == pytest.approx(2 * paired_p(np.subtract(plus2, REF)))
    assert table.loc["zero", "p_holm"] == pytest.approx(paired_p(np.subtract(zero, REF)))
    assert table.loc["zero", "p_holm"] > 0.05
    assert "over all 2 comparisons" in table.attrs["note"]
    # with 2 seeds per arm there is no test, so no Holm family to speak of: the protocol says so, not "over all 0"
    two = confirmed_tables(*frames({"ref": REF[:2], "plus2": plus2[:2]}))["aug"]
    assert two.attrs["holm_family"] == 0 and "no Holm p" in two.attrs["protocol"]
    assert "comparisons of this study" not in two.attrs["protocol"]
    # the rung is named only for a search that had rungs (ASHA), not for a FIFO one
    assert "highest rung" in two.attrs["protocol"]
    assert "rung" not in confirmed_tables(*frames({"ref": REF, "zero": zero}), rungs=False)["aug"].attrs["protocol"]


def test_arms_at_different_settings_show_them_and_say_the_difference_carries_them():
    """An arm that took its source trial's learning rate differs from the reference in more than its parameter:
    the table shows each arm's lr and its note says so. Arms at one shared setting get no such column."""
    plus2 = [r + 0.02 for r in REF]
    arms, runs = frames({"ref": REF, "plus2": plus2})
    shared = confirmed_tables(arms, runs)["aug"]
    assert "settings" not in format_paired(shared) and "settings_note" not in shared.attrs
    runs["config"] = [{**c, "lr": 0.4 if k == "kplus2" else 0.02, "optimizer": "nesterov"}
                      for k, c in zip(runs["arm_key"], runs["config"])]
    df = confirmed_tables(arms, runs)["aug"]
    shown = format_paired(df).set_index("aug")
    assert shown.loc["plus2", "settings"] == "lr 0.4" and shown.loc["ref", "settings"] == "lr 0.02"
    assert "The arms trained at different lr" in df.attrs["settings_note"]
    assert "a difference here is aug together with those settings, not aug alone" in df.attrs["note"]


def test_arms_that_had_not_fitted_their_training_set_are_named():
    arms, runs = frames({"ref": REF, "plus2": [r + 0.02 for r in REF]})
    runs["train_acc"] = [0.95 if k == "kref" else 1.0 for k in runs["arm_key"]]
    df = confirmed_tables(arms, runs)["aug"]
    assert df.attrs["fit_note"].startswith("Arms whose runs ended below 99% training accuracy (mean over seeds): "
                                           "aug = ref (95.0%). They had not fitted")
    runs["train_acc"] = 1.0
    assert "fit_note" not in confirmed_tables(arms, runs)["aug"].attrs
