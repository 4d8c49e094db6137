"""The report of a plain Optuna study (made with optuna alone, no ganrator tables), with a planted best category
and a minimized objective, through the CLI."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OFFSET = {"a": 20.0, "b": 0.0, "c": 40.0}  # (x - 1)^2 <= 16 on [-3, 3]: any "b" trial beats every other


def objective(trial: optuna.Trial) -> float:
    cat = trial.suggest_categorical("cat", list(OFFSET))
    x = trial.suggest_float("x", -3.0, 3.0)
    lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
    value = (x - 1) ** 2 + OFFSET[cat] + 0.1 * abs(lr - 0.1)
    for step in range(3):
        trial.report(value * (3 - step), step)
        if trial.number % 5 == 4 and step == 1:
            raise optuna.TrialPruned()
    if trial.number == 7:
        raise ValueError("a failing trial")
    return value


@pytest.fixture(scope="module")
def plain_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("plain") / "plain.db"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=f"sqlite:///{db}", study_name="quad", direction="minimize",
                                sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(objective, n_trials=30, catch=(ValueError,))
    return db, study


def analysis(*args):
    return subprocess.run([sys.executable, "-m", "analysis", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)


def test_report_of_a_plain_optuna_study(plain_db, tmp_path):
    db, study = plain_db
    states = {t.state for t in study.trials}
    assert {optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL} <= states
    out = analysis("report", "--db", str(db), "--name", "quad", "--scientific", "cat", "--out", str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    md = (tmp_path / "r" / "experiments.md").read_text()
    assert "to minimize (lower is better)" in md and "#### cat" in md

    iso = pd.read_csv(tmp_path / "r" / "tables" / "isolation_cat.csv")
    assert iso["cat"].tolist() == ["a", "b", "c"]
    assert iso.loc[iso["best objective"].idxmin(), "cat"] == "b"
    assert iso["best objective"].min() == pytest.approx(study.best_value)
    assert iso["trials"].sum() == len(study.trials)
    assert iso["pruned"].sum() == sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    assert "Best at cat = b:" in md and f"trial {study.best_trial.number}," in md
    md_rows = [line for line in md.splitlines() if line.startswith("| b |")]
    assert md_rows and "**" in md_rows[0]  # the best row is marked in the markdown table
    best = pd.read_csv(tmp_path / "r" / "tables" / "best_trials.csv")
    assert best.loc[0, "trial"] == study.best_trial.number and best["objective"].is_monotonic_increasing

    for stem in ("optimization_history", "importance", "slices", "parallel_coordinates", "isolation_cat",
                 "intermediate_values"):
        png = tmp_path / "r" / "figures" / f"{stem}.png"
        with Image.open(png) as im:
            assert im.size[0] > 100 and im.size[1] > 100 and len(im.getcolors(1 << 20) or [0, 0]) > 1
    assert (tmp_path / "r" / "experiments.html").is_file()


def test_bad_scientific_name_and_list(plain_db, tmp_path):
    db, _ = plain_db
    out = analysis("report", "--db", str(db), "--name", "quad", "--scientific", "cat,nope", "--out",
                   str(tmp_path / "r"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "error: --scientific: 'nope' is not a parameter of study 'quad'; its parameters: cat, x, lr"]
    assert not (tmp_path / "r").exists()
    listed = analysis("list", "--db", str(db))
    assert listed.returncode == 0 and listed.stdout.split() == ["quad"]
