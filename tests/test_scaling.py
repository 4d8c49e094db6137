import dataclasses

import numpy as np
import pytest

import planted
from analysis import load_study
from analysis.present.figures import scaling_plot
from analysis.present.tables import formatted_scaling
from analysis.stats.scaling import (confirmed_points, fit_power_law, fit_power_law_once, fit_row, frontier,
                                    scaling_points, scaling_table, system_scaling)
from analysis.writeup.sentences import scaling_sentences
import pandas as pd

from analysis.load import load_confirmation
from analysis.stats.paired import confirmed_tables
from ganrator.models import create_model
from tuning.db import TrialDB


@pytest.mark.parametrize("a, b, c", [(2.0, 0.5, 0.05), (30.0, 0.35, 0.08), (500.0, 0.9, 0.02)])
def test_power_law_fit_recovers_planted_exponent(a, b, c):
    rng = np.random.default_rng(1)
    x = np.geomspace(1e3, 1e6, 9)
    y = (a * x ** -b + c) * (1 + rng.normal(0, 0.01, len(x)))
    fit = fit_power_law(x, y)
    assert fit.b == pytest.approx(b, abs=0.08)
    assert fit.b_low <= b <= fit.b_high and fit.b_high - fit.b_low < 0.3
    assert fit.c == pytest.approx(c, abs=0.02)
    assert fit.predict(x) == pytest.approx(y, rel=0.05)


def test_fit_needs_enough_points():
    with pytest.raises(ValueError, match="need at least 4 distinct x values, got 3"):
        fit_power_law([1, 2, 3], [0.3, 0.2, 0.15])


def test_compute_frontier_keeps_only_improvements():
    pts = pd.DataFrame({"train_flops": [1, 2, 3, 4], "error": [0.5, 0.6, 0.3, 0.35], "metric": "val"})
    assert frontier(pts, "train_flops")["error"].tolist() == [0.5, 0.3]


def test_scaling_from_a_study_with_planted_data_scaling(tmp_path):
    """Trials at 6 training-set sizes whose error follows a planted law: the table recovers the exponent."""
    study = load_study(planted.build_scaling(tmp_path / "s.db", lambda n: 5.0 * n ** -0.4 + 0.06))
    pts = scaling_points(study)
    assert sorted(pts["train_size"].unique()) == [round(f * 55000) for f in planted.SCALING_FRACTIONS]
    table = scaling_table(study).set_index("axis")
    row = table.loc["training images (search view)"]
    assert row["b"] == pytest.approx(0.4, abs=0.03) and row["b_ci_low"] <= 0.4 <= row["b_ci_high"]
    assert row["c"] == pytest.approx(0.06, abs=0.01) and row["c_status"] == "identified"
    assert row["refits_drawn"] == 300 and 0 < row["refits_kept"] <= 300 and row["reading"] == "measured"
    assert (table["metric"] == "val").all()
    # the search varied the size, so the model axes keep only its trials on the reference's size (55,000 images,
    # the best on validation): one parameter count there, too few to fit, instead of a fit across sizes
    assert list(table.index) == ["training images (search view)", "parameters (search view, trials on 55,000 images)",
                                 "training FLOPs (search view, trials on 55,000 images)"]
    assert table.loc["parameters (search view, trials on 55,000 images)", "points"] == 1
    assert table.loc["parameters (search view, trials on 55,000 images)", "reading"].startswith("no fit")
    shown = formatted_scaling(scaling_table(study)).set_index("axis").loc["training images (search view)"]
    assert shown["refits"] == f"kept {row['refits_kept']}/300" and shown["pure law b, c = 0 (95% CI)"] == "—"


def test_confirmed_sizes_give_a_row_with_seeds(tmp_path):
    """The confirmation's data_fraction arms (2 seeds per size) get their own row, fitted on the mean test error."""
    study = load_study(planted.build_scaling(tmp_path / "s.db", lambda n: 5.0 * n ** -0.4 + 0.06, confirm_seeds=2))
    pts = confirmed_points(study)
    assert len(pts) == 6 and (pts["seeds"] == 2).all()
    n = round(55000 / 32)
    assert pts["error"].iloc[0] == pytest.approx(5.0 * n ** -0.4 + 0.07)  # the mean of the two seeds
    row = scaling_table(study).set_index("axis").loc["training images (confirmed)"]
    assert row["metric"] == "test, each of 2 seeds a point" and row["points"] == 12  # 6 sizes x 2 seeds
    assert row["b_ci_low"] <= row["b"] <= row["b_ci_high"] and row["b"] == pytest.approx(0.4, abs=0.1)
    # each size's source and learning rate are said, and that the curve mixes tunings (planted: two rates)
    sources = scaling_table(study).attrs["sources"]
    assert sources.startswith("Confirmed points, each size's configuration: 1,719 images: trial t00 (lr 0.1; 2 "
                              "search trials with these scientific values)")  # planted: 2 trials per size
    assert "55,000 images: trial t50 (lr 0.05; 2 search" in sources and "learning rates differ (2 values)" in sources
    # and which sizes had not fitted their training images at the step budget (planted: the 2 largest)
    assert "below 99% at the end of the step budget (2 of 6 points): 27,500 images: 96.0%; 55,000 images: 96.0%." \
        in sources


def test_confirmed_widths_give_a_parameters_row(tmp_path):
    """cnn.width arms (a model argument with 5 values) get a row against their networks' parameter count, counted
    from the registry's model; the planted exponent lies in its interval, and each width's source is said."""
    law = lambda p: 2.0 * p ** -0.3 + 0.04  # noqa: E731
    db = planted.build_scaling(tmp_path / "s.db", law, confirm_seeds=2, confirm_widths=(4, 8, 16, 32, 64))
    for i, depth in enumerate((1, 2)):  # a model argument with fewer values than a fit needs
        TrialDB(f"sqlite:///{db}").upsert_confirm_arm("scaling", "cnn.depth", str(depth), arm_key=f"depth{depth}",
                                                      position=i, point=depth, is_reference=depth == 2,
                                                      source="reference", config={"cnn.depth": depth})
    study = load_study(db)
    pts = confirmed_points(study, "cnn.width")
    assert pts["value"].tolist() == ["4", "8", "16", "32", "64"] and pts["params"].is_monotonic_increasing
    assert pts["params"].iloc[-1] == sum(p.numel() for p in create_model("cnn", width=64, depth=2).parameters())
    table = scaling_table(study).set_index("axis")
    assert list(table.index[-2:]) == ["training images (confirmed)", "parameters (confirmed, cnn.width)"]
    row = table.loc["parameters (confirmed, cnn.width)"]
    assert row["points"] == 10 and row["metric"] == "test, each of 2 seeds a point"
    assert row["b_ci_low"] <= 0.3 <= row["b_ci_high"] and row["b"] == pytest.approx(0.3, abs=0.1)
    assert "each cnn.width's configuration: cnn.width = 4 (" in table.attrs["sources"]
    assert table.attrs["sources"].endswith("Every point's runs ended at 99% training accuracy or more: each fitted "
                                           "its training set.")
    assert not any("cnn.depth" in axis for axis in table.index)  # 2 values: no row
    # each confirmed table's budget line names its own arms' data fractions: the widths train on the reference's
    tables = confirmed_tables(*load_confirmation(study))
    assert tables["cnn.width"].attrs["fractions"] == [1.0]
    assert tables["data_fraction"].attrs["fractions"] == planted.SCALING_FRACTIONS
    fig = scaling_plot(study)  # the confirmed points and their fit, on the panel of their axis, below the search's
    confirmed = {line.get_label(): ax.get_xlabel() for ax in fig.axes for line in ax.get_lines()
                 if line.get_label().startswith("confirmed")}
    assert confirmed == {"confirmed data_fraction (test, mean of seeds)": "training images",
                         "confirmed cnn.width (test, mean of seeds)": "parameters"}
    for ax in fig.axes:  # validation (the search) and test (the confirmation) never share an axis
        assert ("test" in ax.get_ylabel()) != ("validation" in ax.get_ylabel()) or not ax.axison


def test_log_space_fit_recovers_a_small_floor():
    """In log space the smallest errors count: a floor of 0.5% under a steep law is found (a linear-space fit is
    dominated by the 60% error of the smallest set)."""
    x = np.geomspace(1e3, 1e5, 7)
    y = (400 * x ** -0.8 + 0.005) * (1 + np.random.default_rng(3).normal(0, 0.005, len(x)))
    fit = fit_power_law(x, y)
    assert fit.c_identified and fit.c == pytest.approx(0.005, rel=0.15)
    assert fit.b_low <= 0.8 <= fit.b_high and not fit.exploratory


@pytest.mark.parametrize("kind", ["no floor", "plateau"])
def test_a_floor_at_a_bound_is_not_identified(kind):
    """A pure power law (c = 0) puts c at 0; errors flat from the third size on put c at the smallest error. Either
    way the table says c is not identified, the fit is exploratory, and the pure power law is given."""
    x = np.array([1719, 3438, 6875, 13750, 27500, 55000], dtype=float)
    rng = np.random.default_rng(2)
    if kind == "no floor":
        y = 20 * x ** -0.5 * (1 + rng.normal(0, 0.01, len(x)))
        bound = "0"
    else:
        y = np.array([0.40, 0.25, 0.15, 0.15, 0.15, 0.15])
        bound = "the smallest error"
    fit = fit_power_law(x, y)
    assert fit.c_bound == bound and not fit.c_identified
    assert f"c not identified (at {bound})" in fit.exploratory
    assert fit.boot_drawn == 300 and fit.boot_kept <= 300
    if kind == "no floor":
        assert fit.pure_b_low <= 0.5 <= fit.pure_b_high and fit.pure_b == pytest.approx(0.5, abs=0.03)
        row = fit_row(pd.DataFrame({"x": x, "error": y, "metric": "val"}), "x")
        assert row["c_status"] == "not identified (at 0)" and row["reading"].startswith("exploratory: ")
        sentence = scaling_sentences(pd.DataFrame([{"axis": "training images", **row}]))[0]
        assert "c is not identified (at 0)" in sentence and f"{row['b_pure']:.3f}" in sentence
        assert f"({row['refits_kept']} of 300 bootstrap refits) holds only for its fitted c" in sentence
        assert "so neither is b" in sentence and "exploratory" in sentence
        shown = formatted_scaling(pd.DataFrame([{"axis": "x", **row}])).iloc[0]  # the table quotes no b either
        assert shown["b (95% CI)"].startswith("not identified: ") and "[" not in shown["b (95% CI)"]
        # b rests on the floor put under it: held higher, c steepens b; the first share is the pure law
        assert row["b_profile"][0] == pytest.approx(row["b_pure"]) and np.all(np.diff(row["b_profile"]) > 0)
        assert "with c held at 0%, 50%, 90% of the smallest error, b = " in sentence


def test_few_points_and_failed_refits_make_a_fit_exploratory():
    fit = fit_power_law([1e3, 2e3, 4e3, 8e3], [0.5, 0.35, 0.26, 0.2])
    assert any(w.startswith("4 distinct x values") for w in fit.exploratory)
    fit = dataclasses.replace(fit, boot_kept=200)  # what the rule reads: 100 of 300 refits failed
    assert "100/300 refits failed (> 25%)" in fit.exploratory
    # the table and the figure share one fit of the same points, not two bootstraps that agree
    again = fit_power_law(np.array([1e3, 2e3, 4e3, 8e3]), [0.5, 0.35, 0.26, 0.2])
    assert again is fit_power_law([1e3, 2e3, 4e3, 8e3], [0.5, 0.35, 0.26, 0.2])
    assert again == fit_power_law_once([1e3, 2e3, 4e3, 8e3], [0.5, 0.35, 0.26, 0.2])


def test_system_scaling_reads_throughput(tmp_path):
    studies = []
    for workers, span in ((1, 100.0), (2, 50.0)):
        path = planted.build(tmp_path / f"w{workers}.db", name=f"w{workers}")
        from tuning.db import TrialDB

        db = TrialDB(f"sqlite:///{path}")
        db.upsert_study(f"w{workers}", search={"params": planted.SPECS, "max_concurrent": workers})
        s = load_study(path)
        # stretch the planted timestamps so the span is known
        ids = s.trials["trial_id"]
        for k, tid in enumerate(ids):
            db.upsert_trial(f"w{workers}", tid, started_at=0.0, ended_at=span * (k + 1) / len(ids), cpus=1.0,
                            wall_time=1.0)
        studies.append(load_study(path))
    table = system_scaling(studies)
    assert table["workers"].tolist() == [1, 2]
    assert table["speedup"].iloc[1] == pytest.approx(2.0)
    assert table["accelerator_hours"].iloc[0] == pytest.approx(len(studies[0].trials) / 3600)


def test_c_at_both_bounds_is_said():
    from analysis.stats.scaling import _c_bound

    assert _c_bound(0.5, 0.0, 1.0) == "both bounds" and _c_bound(1.0, 0.3, 1.0) == "the smallest error"
    assert _c_bound(0.0, 0.0, 0.5) == "0" and _c_bound(0.5, 0.3, 0.7) is None


def test_the_study_report_shows_the_scaling_table_as_the_docs_do(tmp_path):
    """The per-study report quotes no b interval where c is not identified; its CSV keeps every number."""
    from analysis.writeup.report import build_report

    study = load_study(planted.build_scaling(tmp_path / "s.db", lambda n: 20.0 * n ** -0.5))  # no floor
    rep = build_report(study, tmp_path / "r")
    md = (tmp_path / "r" / "experiments.md").read_text()
    section = md[md.index("### Scaling"):]
    assert "| training images (search view) | 6 | val | not identified: " in section
    assert "b_ci_low" not in section and "b_ci_low" in rep.tables["scaling"].with_suffix(".csv").read_text()
