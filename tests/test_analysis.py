"""The analysis package on planted effects (known answers) and on a real smoke study."""
from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

import planted
from analysis import load_study
from analysis.present.figures import isolation_plot, strength_curve
from analysis.present.tables import formatted, to_latex, to_markdown
from analysis.stats.checks import study_warnings
from analysis.stats.importance import param_importance
from analysis.stats.search import ablation_table, leaderboard, main_comparison
from analysis.writeup.report import build_report
from tuning.db import TrialDB

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return load_study(planted.build(tmp_path_factory.mktemp("planted") / "trials.db"))


def test_load_gives_tidy_frames(study):
    assert len(study.trials) == 3 * 2 * 4 + 1 and study.scientific() == ["aug_strength", "optimizer"]
    assert study.nuisance() == ["lr"] and {"p:aug_strength", "p:lr", "status"} <= set(study.trials)
    assert study.epochs.groupby("trial_id").size().max() == planted.MAX_EPOCHS


def test_ablation_shows_planted_augmentation_effect(study):
    table = ablation_table(study, "aug_strength")
    assert table["aug_strength"].tolist() == [0.0, 0.5, 1.0]
    best = table["best_val_full"].tolist()
    expected = [planted.planted_acc(a, "sgd", 0.03) for a in planted.AUG]
    assert best == pytest.approx(expected)  # isolation finds the planted lr optimum for each value
    assert best[0] < best[1] < best[2]
    # the reference (best) trial uses sgd, so each row compares the sgd trials only: 4 per value (8 over both
    # optimizers), early-stopped ones never ranked at full budget, the diverged one counted
    assert table.attrs["fixed"] == {"optimizer": "sgd"} and "Within optimizer = sgd" in table.attrs["note"]
    assert table["trials"].tolist() == [4, 4, 5] and table["trials_at_value"].tolist() == [8, 8, 9]
    assert table["diverged"].tolist() == [0, 0, 1]
    assert (table["full_budget"] + table["early_stopped"] + table["diverged"] == table["trials"]).all()
    # final evaluation: mean of the 3 planted seeds, with a CI and n
    assert table["test_n"].tolist() == [3, 3, 3]
    assert table.loc[2, "test_mean"] == pytest.approx(planted.planted_acc(1.0, "sgd", 0.03) - 0.004)
    assert table["test_ci95"].gt(0).all()
    assert "ASHA-stopped trials are compared with all others at epoch 1" in table.attrs["note"]
    assert "over the nuisance parameters (isolation)" in table.attrs["note"]  # lr is tuned per value


def test_ablation_note_says_only_what_holds_for_the_study(tmp_path):
    """A FIFO study without nuisance parameters: no ASHA sentence, no 'isolation' (nothing was tuned per value)."""
    from tuning.db import TrialDB

    db = planted.build_headline(tmp_path / "h.db")
    s = load_study(db)
    assert s.nuisance() == []
    note = ablation_table(s, "model").attrs["note"]
    assert "isolation" not in note and "this space tunes no nuisance parameter" in note
    assert "ASHA-stopped" in note  # its search ran ASHA
    TrialDB(f"sqlite:///{db}").upsert_study(s.name, search={**s.meta["search"], "scheduler": "fifo"})
    note = ablation_table(load_study(db), "model").attrs["note"]
    assert "ASHA-stopped" not in note and "No trial was stopped early (FIFO scheduler)." in note


def test_ablation_shows_no_optimizer_effect(study):
    table = ablation_table(study, "optimizer")
    assert set(table["optimizer"]) == {"sgd", "adam"}
    assert table["best_val_full"].iloc[0] == pytest.approx(table["best_val_full"].iloc[1])


def test_importance_ranks_the_planted_story(study):
    imp = param_importance(study).set_index("param")
    assert imp.loc["aug_strength", "fanova"] > 5 * imp.loc["optimizer", "fanova"]
    assert imp.loc["optimizer", "fanova"] < 0.05
    assert imp.loc["lr", "fanova"] > imp.loc["optimizer", "fanova"]


def test_isolation_plot_and_strength_curve(study):
    assert isolation_plot(study, "aug_strength") is not None
    curve = strength_curve(study)
    assert curve["aug_strength"].tolist() == [0.0, 0.5, 1.0] and curve["best"].is_monotonic_increasing
    assert (curve["n"] > 1).all() and curve["ci95"].notna().all()


def test_warnings_on_planted_edges_and_divergence(study, tmp_path):
    warnings = study_warnings(study)
    # the best trial's aug_strength, 1, is the largest feasible point, but a strength cannot exceed 1: no warning
    assert study.trials.loc[study.trials["last_val_acc"].idxmax(), "p:aug_strength"] == 1.0
    assert not any("aug_strength" in w and "feasible points" in w for w in warnings)
    assert not any("diverged" in w for w in warnings)  # 1 of 25
    # a range that can be extended is named: the best lr, 0.03, made the lower edge of its searched range
    narrowed = load_study(planted.build(tmp_path / "edge.db"))
    narrowed.meta["search"]["params"]["lr"] = {**planted.SPECS["lr"], "low": 0.03}
    assert any(w.startswith("best value of lr (0.03) lies at the lower edge") for w in study_warnings(narrowed))
    # feasible points that can be extended are named; one at a limit of the parameter (a strength of 0) is not
    widths = {**planted.SPECS["aug_strength"], "choices": [0.5, 0.75, 1.0]}
    narrowed.meta["search"]["params"].update(lr=planted.SPECS["lr"], aug_strength=widths)
    assert not any("aug_strength" in w for w in study_warnings(narrowed))
    narrowed.meta["search"]["params"]["optimizer"] = {**planted.SPECS["optimizer"], "choices": [0.01, 0.02, 0.03]}
    narrowed.trials["p:optimizer"] = 0.03  # a numeric setting whose best value is its largest point, 0.03
    assert any("optimizer (0.03) is the largest of its feasible points" in w for w in study_warnings(narrowed))
    from analysis.stats.checks import limits

    assert limits("aug_strength") == (0.0, 1.0) and limits("one_minus_beta1") == (0.0, 1.0)
    assert limits("cnn.width") == (0.0, float("inf"))
    many = load_study(planted.build(tmp_path / "div.db", diverged=20))
    assert any(re.search(r"\d+% of trials diverged \(20 of 44\)", w) for w in study_warnings(many))


def test_leaderboard_and_main_comparison(study):
    top = leaderboard(study, k=5)
    assert top["val_acc"].is_monotonic_decreasing and (top["status"] == "completed").all()
    assert top.loc[0, "aug_strength"] == 1.0 and top.loc[0, "lr"] == 0.03
    main = main_comparison(study)
    assert main["augmentation"].tolist() == ["with", "without"] and (main["model"] == "cnn").all()
    assert main.loc[0, "best_val_full"] > main.loc[1, "best_val_full"]


def test_exports_mark_the_best_and_carry_uncertainty(study):
    f = formatted(ablation_table(study, "aug_strength"))
    md, tex = to_markdown(f), to_latex(f)
    assert "**89.00**" in md and "± " in md and "(n=3)" in md
    assert tex.startswith(r"\begin{tabular}") and r"\toprule" in tex and r"\textbf{89.00}" in tex
    assert r"$\pm$" in tex and "aug\\_strength" in tex


def test_report_on_real_smoke_study(smoke_study, tmp_path):
    db, _ = smoke_study
    out = subprocess.run([sys.executable, "-m", "analysis", "report", "--db", str(db), "--out", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert f"report written to {tmp_path / 'r' / 'experiments.md'}" in out.stdout
    report = (tmp_path / "r" / "experiments.md").read_text()
    for stem in ("leaderboard", "main_comparison", "ablation_aug_strength"):
        for ext in ("md", "tex", "csv"):
            assert (tmp_path / "r" / "tables" / f"{stem}.{ext}").stat().st_size > 0
        assert len(pd.read_csv(tmp_path / "r" / "tables" / f"{stem}.csv")) > 0
    figures = list((tmp_path / "r" / "figures").glob("*.png"))
    assert {"learning_curves.png", "search_efficiency.png", "isolation_aug_strength.png"} <= {f.name for f in figures}
    for f in figures:
        with Image.open(f) as im:
            assert im.size[0] > 100 and im.size[1] > 100 and len(im.getcolors(1 << 20) or [0, 0]) > 1
        assert f.with_suffix(".pdf").stat().st_size > 1000
    refs = re.findall(r"\]\(([^)]+)\)", report)
    assert refs and all((tmp_path / "r" / ref).is_file() for ref in refs)
    assert "ASHA (grace period 1" in report and (tmp_path / "r" / "experiments.html").is_file()
    assert (tmp_path / "r" / "experiments.tex").read_text().startswith("\\documentclass")
    # The findings first, then the methods once; the confirmed results before the search's view in the appendix.
    headings = [line for line in report.splitlines() if line.startswith("## ")]
    assert headings == ["## Findings", "## Methods", "## Results", "## Warnings", "## Appendix"], headings
    assert report.index("### Confirmed ablations") < report.index("## Appendix") < \
        report.index("### Ablations of the scientific")
    # The claims in words, from the confirmation: augmentation's comparison with none, with its n and budget.
    findings = report[report.index("## Findings"):report.index("## Methods")]
    assert "**Augmentation.** `aug_strength = " in findings and "minus `aug_strength = [0, " in findings  # the least
    assert "n = 2 paired seeds" in findings and "2 epochs" in findings
    confirmed = pd.read_csv(tmp_path / "r" / "tables" / "confirmed_aug_strength.csv")
    assert len(confirmed) == 3 and (confirmed["seeds"] == 2).all() and confirmed["reference"].sum() == 1
    # early stopping's decisions, as the search stored them, beside the fidelity check; and the arms that are the
    # reference with one value changed, named (or none)
    decisions = pd.read_csv(tmp_path / "r" / "tables" / "rung_decisions.csv")
    assert decisions[["model", "rung"]].values.tolist() == [["cnn", 1], ["cnn", 2]]
    assert "#### Early stopping's decisions" in report and "at least 0.5 with at least 4 trials" in report
    fallback = confirmed[confirmed["source"].str.startswith("reference with")]
    assert ("without a searched trial in the reference's slice" in report) == bool(len(fallback))


def run_report(*args):
    return subprocess.run([sys.executable, "-m", "analysis", "report", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def test_missing_database_is_one_clear_error(tmp_path):
    out = run_report("--db", str(tmp_path / "nope.db"))
    assert out.returncode == 2 and f"error: --db {tmp_path / 'nope.db'}: no trial database there" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("command, kind, message", [
    ("report", "folder", "is a folder, not a database file; pass a file path"),
    ("report", "text", "not a SQLite database (some other kind of file); pass a trial database"),
    ("report", "foreign", "a SQLite database of another program (tables: customers), not a trial database"),
    ("list", "text", "not a SQLite database"),
    ("docs", "foreign", "a SQLite database of another program"),
])
def test_bad_database_is_one_line(command, kind, message, tmp_path):
    db = tmp_path / "trials.db"
    if kind == "folder":
        db.mkdir()
    elif kind == "text":
        db.write_text("epoch,val_acc\n1,0.8\n")
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("create table customers (id integer)")
    before = (db.read_bytes(), db.stat().st_mtime_ns) if db.is_file() else None
    out = subprocess.run([sys.executable, "-m", "analysis", command, "--db", str(db),
                          *(["--out", str(tmp_path / "out")] if command != "list" else [])],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith(f"error: --db {db}: {message}") and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    if before is not None:
        assert (db.read_bytes(), db.stat().st_mtime_ns) == before


@pytest.mark.parametrize("command", ["report", "docs"])
def test_study_name_from_database_never_leaves_the_output_folder(command, tmp_path):
    db = TrialDB(f"sqlite:///{tmp_path / 't.db'}")  # as an older version, or a hand-edited database, may hold
    db.upsert_study("../escaped", space="smoke", roles={}, budget={"max_epochs": 1}, search={"params": {}})
    db.upsert_trial("../escaped", "t1", params={"lr": 0.1}, status="completed", epochs=1, best_val_acc=0.8)
    work = tmp_path / "work"
    work.mkdir()
    out = subprocess.run([sys.executable, "-m", "analysis", command, "--db", str(tmp_path / "t.db")],
                         capture_output=True, text=True, timeout=300, cwd=work,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"error: --db {tmp_path / 't.db'}: its study name cannot name files: '../escaped' is not a valid study " \
           f"name" in out.stderr
    assert ("pass --out" if command == "report" else "rename the study") in out.stderr
    assert not (tmp_path / "escaped").exists() and not list(work.iterdir())


def test_unknown_study_lists_the_ones_there(tmp_path):
    db = planted.build(tmp_path / "t.db")
    out = run_report("--db", str(db), "--name", "other")
    assert out.returncode == 2 and "no study 'other'" in out.stderr and "studies there: planted" in out.stderr


def test_empty_study_gets_a_report_that_says_so(tmp_path):
    db = TrialDB(f"sqlite:///{tmp_path / 'e.db'}")
    db.upsert_study("empty", space="smoke", roles={}, budget={"max_epochs": 3}, search={"params": {}})
    db.upsert_trial("empty", "t1", params={"lr": 0.1}, status="running", epochs=0)
    out = run_report("--db", str(tmp_path / "e.db"), "--out", str(tmp_path / "r"))
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert "No trial has completed its full budget yet" in (tmp_path / "r" / "experiments.md").read_text()


def test_build_report_in_process_on_planted(study, tmp_path):
    rep = build_report(study, tmp_path / "p")
    assert {"ablation_aug_strength", "ablation_optimizer", "importance", "leaderboard", "cross_aug_strength_optimizer",
            "expected_best_aug_strength", "expected_best_optimizer"} <= set(rep.tables)
    assert {"importance", "main_comparison", "expected_best_aug_strength"} <= set(rep.figures)
    text = rep.markdown.read_text()
    assert "Dodge et al. 2019" in text and "Within optimizer = sgd" in text and "##### aug_strength x optimizer" in text
    assert "importance" in rep.figures and rep.html and rep.html.read_text().startswith("<!doctype html>")


def test_database_without_a_study_says_so(tmp_path):
    from analysis.load import AnalysisError

    db = tmp_path / "trials.db"
    TrialDB(f"sqlite:///{db}")  # the tables, as a run that stopped before its search began leaves them
    with pytest.raises(AnalysisError, match="holds no study yet"):
        load_study(db)
