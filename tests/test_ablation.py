"""Ablations that hold the other scientific parameters fixed, validation-only choices, and the expected best of
n trials, on a planted study (real SQLite through TrialDB) whose right answers are known."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import planted
from analysis import load_study
from analysis.present import figures as F
from analysis.present.tables import cross_view, formatted, to_markdown
from analysis.stats.search import (ablation_table, cross_table, expected_best_table, expected_max, main_comparison,
                                   reference_trial)

tid = planted.conditioned_trial_id


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return load_study(planted.build_conditioned(tmp_path_factory.mktemp("conditioned") / "trials.db"))


def test_reference_is_the_best_full_budget_trial_on_validation(study):
    # the early-stopped CNN has the highest validation accuracy (91%) but never saw the full budget
    assert reference_trial(study)["trial_id"] == tid("mlp", 0.0, None, 0.01)
    # an ablation of cnn.width takes its reference among the trials cnn.width applies to
    assert reference_trial(study, "cnn.width")["trial_id"] == tid("cnn", 1.0, 32, 0.01)


def test_augmentation_ablation_compares_within_the_reference_slice(study):
    table = ablation_table(study, "aug_strength")
    # an ablation over all trials would set the best MLP (aug 0) against the best CNN (aug 1)
    assert table["aug_strength"].tolist() == [0.0, 1.0]
    assert table["best_trial"].tolist() == [tid("mlp", 0.0, None, 0.01), tid("mlp", 1.0, None, 0.01)]
    assert table["best_val_full"].tolist() == pytest.approx([0.90, 0.87])
    assert table["trials"].tolist() == [2, 2] and table["trials_at_value"].tolist() == [8, 7]
    assert table.attrs["fixed"] == {"model": "mlp"}
    assert "Within model = mlp:" in table.attrs["note"] and "cnn.width does not apply" in table.attrs["note"]
    assert f"`{tid('mlp', 0.0, None, 0.01)}`" in table.attrs["note"]
    # within the CNNs augmentation wins: the cross table shows it
    cross = cross_table(study, "model", "aug_strength").set_index(["model", "aug_strength"])
    assert cross.loc[("cnn", 1.0), "best_val_full"] > cross.loc[("cnn", 0.0), "best_val_full"]
    assert cross.loc[("cnn", 1.0), "best_trial"] == tid("cnn", 1.0, 32, 0.01)
    assert cross.loc[("cnn", 1.0), "trials"] == 5 and cross.loc[("cnn", 1.0), "full_budget"] == 4


def test_conditional_parameter_and_missing_value(study):
    table = ablation_table(study, "cnn.width").set_index("cnn.width")
    assert table.attrs["fixed"] == {"model": "cnn", "aug_strength": 1.0}
    assert table.loc[16, "best_trial"] == tid("cnn", 1.0, 16, 0.01)
    assert table.loc[32, "best_trial"] == tid("cnn", 1.0, 32, 0.01)
    # width 64 was never tried with augmentation: shown as missing, with its count over all slices
    assert table.loc[64, "trials"] == 0 and table.loc[64, "trials_at_value"] == 2
    assert math.isnan(table.loc[64, "best_val_full"]) and pd.isna(table.loc[64, "best_trial"])
    # at the first rung the early-stopped trial takes part and is named
    assert table.loc[32, "best_trial_at_epoch_1"] == tid("cnn", 1.0, 32, 0.3)
    # cnn.width does not apply to the reference MLP, so the model ablation does not constrain it
    model = ablation_table(study, "model").set_index("model")
    assert model.attrs["fixed"] == {"aug_strength": 0.0}
    assert model.loc["cnn", "best_trial"] == tid("cnn", 0.0, 32, 0.01) and model.loc["cnn", "trials"] == 6


def test_bold_marks_the_validation_choice_not_the_best_test(study):
    table = ablation_table(study, "aug_strength")
    assert table.loc[1, "test_mean"] > table.loc[0, "test_mean"]  # the planted trap
    f = formatted(table)
    assert set(f.attrs["bold"]) >= {(0, "aug_strength"), (0, "best val (full) (%)")}
    assert not any(col.startswith("test") for _, col in f.attrs["bold"])
    assert all(row == 0 for row, _ in f.attrs["bold"])
    md = to_markdown(f)
    assert "**90.00**" in md and "**97.45" not in md and "**0**" in md
    assert table["test_trial"].tolist() == table["best_trial"].tolist()
    view = cross_view(cross_table(study, "model", "aug_strength"))
    assert view.attrs["bold"] == [(1, "aug_strength = 0")] and view.loc[1, "model"] == "mlp"
    main = formatted(main_comparison(study))
    assert not any(col.startswith("test") for _, col in main.attrs["bold"])


def test_expected_max_closed_form():
    assert expected_max([0.1, 0.2, 0.3], 2) == pytest.approx((1 / 9) * 0.1 + (3 / 9) * 0.2 + (5 / 9) * 0.3)
    assert expected_max([0.3, 0.1, 0.2], 1) == pytest.approx(0.2)  # one draw: the mean, in any order
    values = [0.81, 0.84, 0.84, 0.86, 0.9]
    curve = [expected_max(values, n) for n in range(1, 40)]
    assert all(a <= b + 1e-12 for a, b in zip(curve, curve[1:])) and curve[-1] < max(values)
    assert expected_max(values, 10_000) == pytest.approx(max(values))
    assert math.isnan(expected_max([], 3))


def test_expected_best_table_per_arm(study):
    table = expected_best_table(study, "aug_strength", basis="full").set_index("aug_strength")
    assert table.attrs["basis"] == "full" and table.attrs["scope"] == "slice"
    assert table["trials"].tolist() == [2, 2]  # the MLP slice
    assert table.loc[0.0, "n=1"] == pytest.approx((0.87 + 0.90) / 2)
    assert table.loc[0.0, "n=2"] == pytest.approx(0.25 * 0.87 + 0.75 * 0.90)
    auto = expected_best_table(study, "aug_strength", scope="all").set_index("aug_strength")
    # ASHA stopped a trial, so the draws are every trial at the first rung, and the note says so
    assert auto.attrs["basis"] == "rung" and "at epoch 1, the first rung" in auto.attrs["note"]
    assert auto["trials"].tolist() == [8, 7] and list(auto.columns[-4:]) == ["n=1", "n=2", "n=4", "n=8"]
    assert math.isnan(auto.loc[1.0, "n=8"]) and auto.loc[1.0, "best_draw"] == pytest.approx(0.91)


def test_figures_mark_missing_values_and_cut_intervals(study, tmp_path):
    fig = F.ablation_plot(study, "cnn.width")
    # a value without a trial says so in its tick label, off the data scale, with no marker drawn at a made-up value
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert any(label.endswith("(no trial)") for label in labels), labels
    assert not [t for t in fig.axes[0].texts if "no trial" in t.get_text()]
    fig = F.ablation_plot(study, "aug_strength")
    ax, tx = fig.axes  # validation and test each on their own axis
    assert ax.get_ylabel() == "validation accuracy (%)" and tx.get_ylabel().startswith("test accuracy (%)")
    tops = [seg[:, 1].max() for c in tx.collections if hasattr(c, "get_segments") for seg in c.get_segments()]
    assert tops and max(tops) <= 100.0 + 1e-9  # the planted 97.45 ± 31 interval is cut at 100%
    assert {t.get_text() for t in ax.texts} >= {"n=2"}  # every point carries its n
    untested = F.ablation_plot(study, "cnn.width")
    assert len(untested.axes) == 1  # no test: no test axis promised
    assert not any(t.get_text().startswith("n=") and t.get_color() == F.TEST for t in untested.axes[0].texts)
    png, pdf = F.save_figure(fig, tmp_path / "aug")
    with Image.open(png) as im:
        assert np.round(im.info["dpi"][0]) >= 150
    assert b"/FontFile2" in pdf.read_bytes() and b"/Type3" not in pdf.read_bytes()  # Type 42: embedded TrueType
    for fig in (F.main_comparison_plot(study), F.evp_plot(study, "aug_strength")):
        assert fig is not None


def test_scaling_frontier_chooses_on_validation():
    from analysis.stats.scaling import frontier

    # two trials at one size: the lower test error belongs to the one validation ranks second
    pts = pd.DataFrame({"train_size": [100, 100], "error": [0.10, 0.20], "val_error": [0.30, 0.25], "metric": "test"})
    assert frontier(pts, "train_size")["error"].tolist() == [0.20]


def test_learning_curves_tell_models_apart(study):
    fig = F.learning_curves(study)
    ax = fig.axes[0]
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    models = sorted(study.trials["p:model"].dropna().unique())
    assert len(models) > 1 and {f"model = {m}" for m in models} <= labels
    by_model = dict(zip(study.trials["trial_id"], study.trials["p:model"]))
    drawn = [line for line in ax.get_lines() if len(line.get_xdata())]
    markers = {}
    for line, tid in zip(drawn, sorted(study.epochs["trial_id"].unique())):
        markers.setdefault(by_model[tid], set()).add(line.get_marker())
    assert all(len(m) == 1 for m in markers.values()) and len({next(iter(m)) for m in markers.values()}) == len(models)


def test_a_repeated_configuration_is_one_row_at_its_runs_mean(tmp_path):
    # the driver repeats its leading configuration on another seed and ranks configurations by their runs' mean;
    # every table reads them so: the first run stands for the configuration, at the mean of its runs
    path = planted.build_conditioned(tmp_path / "trials.db")
    ref = tid("mlp", 0.0, None, 0.01)
    db = planted.TrialDB(f"sqlite:///{path}")
    first = load_study(path).trials.set_index("trial_id").loc[ref]
    db.upsert_trial("conditioned", "repeat-of-ref", params=first["params"], roles=first["roles"],
                    config=dict(first["params"]), status="completed", epochs=2, max_epochs=2, best_val_acc=0.92,
                    last_val_acc=0.92, param_count=1000, flops=1e6, started_at=2_000_000.0, ended_at=2_000_002.0,
                    node="n1", seed=501)
    s = load_study(path)
    table = ablation_table(s, "aug_strength")
    row = table.index[table["aug_strength"] == 0.0][0]
    assert table.at[row, "best_trial"] == ref and table.at[row, "best_val_full"] == pytest.approx(0.91)
    assert table.attrs["selected"] == row  # the bold row is the configuration the driver selects
    assert table.at[row, "trials"] == 2  # one configuration, however many runs
    main = main_comparison(s)
    mlp = main[(main["model"] == "mlp") & (main["augmentation"] == "without")].iloc[0]
    assert mlp["best_trial"] == ref and mlp["best_val_full"] == pytest.approx(0.91)
    assert main.attrs["selected"] == mlp.name
    from analysis.writeup.report import build_report
    text = (build_report(s, tmp_path / "report").out / "experiments.md").read_text()
    assert f"`{ref}`, reached 91.00% validation accuracy (the mean of its 2 runs on different seeds)" in text
