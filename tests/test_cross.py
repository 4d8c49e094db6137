"""The confirmed cross of data size and augmentation (analysis/cross.py), on a planted database written through the
real TrialDB (SQLite): every cell paired against no augmentation at its own data size."""
from __future__ import annotations

import re
import numpy as np
import pytest

import planted
from analysis.present.figures import cross_plot
from analysis.present.tables import format_cross
from analysis.stats.cross import AUG_BY_SIZE, confirmed_cross, cross_params
from analysis.load import load_confirmation, load_study
from analysis.present.text import p_text
from analysis.stats.paired import confirmed_tables


@pytest.fixture
def aug_size(tmp_path):
    return load_study(planted.build_aug_size(tmp_path / "aug_size.db"))


def test_aug_by_size_recovers_the_planted_interaction(aug_size):
    arms, runs = load_confirmation(aug_size)
    assert cross_params(arms) == [AUG_BY_SIZE]
    df = confirmed_cross(arms, runs)
    assert len(df) == 9 and df["baseline"].sum() == 3
    cells = df.set_index(["data_fraction", "aug_strength"])
    for (frac, aug), r in cells.iterrows():
        assert r["seeds"] == 3 and r["images"] == round(frac * 55000)
        if aug == 0.0:
            assert r["verdict"] == "baseline (aug_strength = 0)"
            continue
        # a paired interval in every cell, around the planted gain
        assert r["n"] == 3 and np.isfinite(r["diff_low"]) and r["diff_low"] < r["diff_high"]
        assert r["diff_low"] <= planted.AUG_SIZE_GAIN[(frac, aug)] <= r["diff_high"]
    # the interaction: augmentation helps at 10%, not on all the data
    assert cells.loc[(0.1, 0.5), "verdict"] == cells.loc[(0.1, 1.0), "verdict"] == "better than aug_strength = 0"
    assert cells.loc[(1.0, 0.5), "verdict"] == cells.loc[(1.0, 1.0), "verdict"] == "inconclusive"
    # training accuracy per run, and the epochs the step budget gave each size
    assert cells.loc[(0.1, 0.0), "train_acc_mean"] == pytest.approx(0.998)
    assert cells.loc[(0.1, 0.0), "epochs"] == [72] and cells.loc[(1.0, 0.0), "epochs"] == [8]
    # the note names the cells whose runs had not fitted their training set (planted: below 99% training accuracy
    # everywhere but 10% without augmentation, which ended at 99.8%)
    fit = df.attrs["fit"]
    assert fit.startswith("Cells whose runs ended below 99% training accuracy") and fit in df.attrs["note"]
    assert "data_fraction = 0.1 with aug_strength = 0.5 (96.9%)" in fit and "aug_strength = 0 (99.8%)" not in fit
    assert "data_fraction = 1 with aug_strength = 0 (93.9%)" in fit
    # Holm over the table's 6 comparisons: never below the raw p; the smallest p is multiplied by the family's size
    compared = df[~df["baseline"]]
    assert len(compared) == 6 and (compared["p_holm"] >= compared["p"]).all()
    smallest = compared.loc[compared["p"].idxmin()]
    assert (smallest["data_fraction"], smallest["aug_strength"]) == (0.1, 1.0) and smallest["p"] < 0.05
    assert smallest["p_holm"] == pytest.approx(6 * smallest["p"])
    assert (cells.loc[[(1.0, 0.5), (1.0, 1.0)], "p_holm"] > 0.5).all()  # no planted gain on all the data
    assert "adjusts the paired t-test's p over the 6 comparisons of this table" in df.attrs["note"]


def test_aug_by_size_formatted_and_plotted(aug_size):
    df = confirmed_cross(*load_confirmation(aug_size))
    shown = format_cross(df).set_index("data_fraction")
    assert list(shown.index) == ["0.1", "0.25", "1"]
    assert shown.loc["0.1", "training images"] == "5,500"
    assert shown.loc["0.1", "training length"] == "1,500 steps = 72 epochs"
    small = shown.loc["0.1", "aug_strength = 1 minus 0 (points)"]
    # Holm over the table's 6 comparisons leaves 0.061 here: the interval alone says better, the family does not
    assert small.startswith("+3.00 [") and small.endswith(
        "better than aug_strength = 0 by its own interval, not after Holm (n=3; Holm p 0.061)")
    for cell in shown.filter(like="minus").to_numpy().ravel():  # the qualifier follows the adjusted p, cell by cell
        holm_p = re.search(r"Holm p ([<.\d]+)\)$", cell).group(1)
        adjusted_away = "better than" in cell and not holm_p.startswith("<") and float(holm_p) >= 0.05
        assert ("not after Holm" in cell) == adjusted_away, cell
    assert re.search(r"inconclusive \(n=3; Holm p [.\d]+\)$",
                     shown.loc["1", "aug_strength = 0.5 minus 0 (points)"])
    assert shown.loc["0.1", "train acc (%)"] == "0: 99.8; 0.5: 96.9; 1: 96.9"
    assert shown.loc["0.1", "aug_strength = 0: test acc (%)"].startswith("80.")
    assert cross_plot(df) is not None


def test_cross_arms_stay_out_of_the_one_parameter_tables(aug_size):
    assert confirmed_tables(*load_confirmation(aug_size)) == {}


def test_report_and_docs_show_aug_by_size(aug_size, tmp_path):
    from analysis.writeup.docs import write_docs
    from analysis.writeup.report import build_report

    rep = build_report(aug_size, tmp_path / "report")
    assert rep.tables["aug_by_size"].is_file() and rep.figures["aug_by_size"].is_file()
    text = rep.markdown.read_text()
    assert "### Confirmed cross: data_fraction x aug_strength (`aug_by_size`)" in text
    assert "### Scaling" not in text  # three data sizes crossed with augmentation are not a scaling law
    assert "FIFO (every trial runs its fixed 1,500 optimizer steps, epochs varying with its training-set size)" in text
    docs = write_docs([aug_size], tmp_path / "docs").read_text()
    section = docs[docs.index("## Augmentation against data size (`aug_size`)"):]
    # the one planted search trial sits in the (1, 0.5) cell: every other cell took the reference's settings
    assert ("Search trials per cell of `aug_size` (data_fraction / aug_strength), of 1 in all: 0.1 / 0: 0; "
            "0.1 / 0.5: 0; 0.1 / 1: 0; 0.25 / 0: 0; 0.25 / 0.5: 0; 0.25 / 1: 0; 1 / 0: 0; 1 / 0.5: 1; 1 / 1: 0.") \
        in section
    assert "1,500 optimizer steps per run" in section
    assert "better than aug_strength = 0 by its own interval, not after Holm (n=3; Holm p" in section
    # the runs line says which sizes the space holds, not only the one its single search trial drew
    assert "data fraction varied per trial (a scientific parameter: 0.1, 0.25, 1 in the space; its 1 trial drew 1)" \
        in docs
    assert "## Ablation of aug_strength" not in docs  # no search-based table pooling data sizes


def test_docs_take_the_full_data_row_from_the_headline(tmp_path):
    """A cross of 10% and 25% gets its all-the-data row from the headline study's confirmed augmentation arms:
    the same runs, paired within the row, and the table says which study each row comes from."""
    from analysis.writeup.docs import write_docs

    small = load_study(planted.build_aug_size(tmp_path / "aug_size.db", fractions=(0.1, 0.25)))
    headline = load_study(planted.build_headline(tmp_path / "headline.db"))
    docs = write_docs([headline, small], tmp_path / "docs").read_text()
    section = docs[docs.index("## Augmentation against data size (`aug_size`, `headline`)"):]
    section = section[:section.index("![")]
    assert "the data_fraction = 1 row from `headline`: 10 epochs" in section
    assert "The data_fraction = 1 row reuses the confirmed runs of study `headline`" in section
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if line.startswith("| 0.") or
            line.startswith("| 1 ")}
    assert list(rows) == ["0.1", "0.25", "1"]
    assert "| aug_size |" in rows["0.1"] and "| headline |" in rows["1"] and "55,000" in rows["1"]
    # the full-data row pairs the headline's runs: aug 0.5 minus none, seed by seed
    diffs = [planted.HEADLINE_ARMS["a-cnn-05"][3] - planted.HEADLINE_ARMS["a-cnn-0"][3]
             - 0.001 * (((1 + s) % 3 - 1) - (s % 3 - 1)) for s in range(3)]
    assert f"{100 * np.mean(diffs):+.2f} [" in rows["1"]
    # with a full-data row of its own, the crossing study keeps it and takes none from the headline
    full = load_study(planted.build_aug_size(tmp_path / "aug_size_full.db"))
    docs = write_docs([headline, full], tmp_path / "docs_full").read_text()
    assert "## Augmentation against data size (`aug_size`)" in docs and "reuses the confirmed runs" not in docs


def test_the_figure_joins_no_rows(tmp_path):
    """Rows of a cross ran different protocols (epochs at a step budget; the full-data row taken from the headline
    its whole protocol): the figure draws each row's points and intervals and no line from one row to another."""
    from analysis.writeup.docs import _with_reused_rows

    small = load_study(planted.build_aug_size(tmp_path / "aug_size.db", fractions=(0.1, 0.25)))
    headline = load_study(planted.build_headline(tmp_path / "headline.db"))
    df = confirmed_cross(*_with_reused_rows(small, [headline, small], *load_confirmation(small), AUG_BY_SIZE),
                         AUG_BY_SIZE)
    ax = cross_plot(df).axes[0]
    xs = [np.unique(np.asarray(line.get_xdata(), dtype=float)) for line in ax.get_lines()
          if len(line.get_xdata()) and line.get_transform() == ax.transData]  # not the zero line, across the axes
    assert xs and all(len(x) == 1 for x in xs), xs  # every drawn line stays at one x: one row's seeds


def test_the_settings_sentence_says_whether_a_row_compares_augmentation_alone(tmp_path):
    """Cells that share their settings compare augmentation alone; a row whose cells were tuned apart does not,
    and the note names it. A cell with no run yet leaves the interaction out rather than printing nan."""
    shared = confirmed_cross(*load_confirmation(load_study(planted.build_aug_size(tmp_path / "shared.db"))))
    assert "Within every row the cells share their settings" in shared.attrs["note"]
    assert "each paired difference is aug_strength alone" in shared.attrs["note"]
    tuned = load_study(planted.build_aug_size(tmp_path / "tuned.db", tuned={(0.1, 0.5): {"lr": 0.04}}))
    note = confirmed_cross(*load_confirmation(tuned)).attrs["note"]
    assert "data_fraction = 0.1, aug_strength = 0.5: reference with one cell (lr 0.04)" in note
    assert "They differ within the rows data_fraction = 0.1: there a paired difference compares" in note
    assert "Within every row" not in note
    # that row's verdicts and the interaction say the cells trained at different settings; the other rows' do not
    cells = confirmed_cross(*load_confirmation(tuned)).set_index(["data_fraction", "aug_strength"])
    assert cells.loc[(0.1, 1.0), "verdict"] == "better than aug_strength = 0, cells at different settings"
    assert cells.loc[(1.0, 1.0), "verdict"] == "inconclusive"
    assert not cells.loc[(0.25, 0.5), "verdict"].endswith("different settings")
    assert "so these differences mix aug_strength with the cells' settings" in note
    partial = load_study(planted.build_aug_size(tmp_path / "partial.db", missing=((0.25, 0.5), (0.25, 1.0))))
    df = confirmed_cross(*load_confirmation(partial))
    note = df.attrs["note"]
    assert "nan" not in note and "gain at data_fraction = 0.1 minus its gain at 0.25" not in note
    assert "aug_strength = 0.5's gain at data_fraction = 0.25 minus its gain at 1" not in df.attrs["note"]
    assert "Model: cnn. " in df.attrs["note"]


def test_a_reused_row_keeps_its_own_studys_holm_p_and_a_control_says_it_searched_nothing(tmp_path):
    """The headline's row in a cross of 10% and 25% shows the Holm p of the headline's own table and stays out of
    the cross's family (4 comparisons, not 6); a control whose space searches no nuisance parameter says so."""
    from analysis.writeup.docs import write_docs

    small = load_study(planted.build_aug_size(tmp_path / "aug_size.db", fractions=(0.1, 0.25), nuisance=False))
    headline = load_study(planted.build_headline(tmp_path / "headline.db"))
    own = confirmed_tables(*load_confirmation(headline))["aug_strength"].set_index("aug_strength")
    docs = write_docs([headline, small], tmp_path / "docs").read_text()
    section = docs[docs.index("## Augmentation against data size (`aug_size`, `headline`)"):]
    assert "over the 4 comparisons of this table from its own study" in section
    assert "its `Holm p` is the one that study's own table reports for the same pair of arms" in section
    full = next(line for line in section.splitlines() if line.startswith("| 1 "))
    # the planted headline's reference is strength 0.5: its table compared 0 with 0.5 (the same pair as the cross's
    # 0.5 minus 0, the same p) but never 1 with 0, which therefore has no Holm p here
    assert own.loc["0.5", "reference"] and f"(n=3; Holm p {p_text(own.loc['0.0', 'p_holm'])} in `headline`)" in full
    assert full.count("Holm p") == 1 and "(n=3)" in full
    assert "`aug_size` searched no nuisance parameter: its 1 search trial(s) only picked the reference" in section
    assert "Search trials per cell" not in section
