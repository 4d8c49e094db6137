"""The planned study: its plan file, the decisions derived from finished runs, and the driver on real Ray."""
from __future__ import annotations

import math
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, failed
from tuning.plan import PlanError, load_plan, pairs_needed, half_width
from tuning.planner import next_jobs

PLAN = ROOT / "results" / "plan.yaml"


def small_plan(tmp_path: Path, **edits: str) -> Path:
    """The committed plan at a scale a test can run: two sizes, a width-4 CNN, pixels + PCA for the classical."""
    text = PLAN.read_text()
    swaps = {
        "sizes: [550, 1185, 2553, 5500, 11850, 25529, 55000]": "sizes: [100, 200]",
        "held_out_size: 55000": "held_out_size: 200",
        "  size: 55000\n": "  size: 200\n",
        "    size: 5500\n": "    size: 100\n",
        "base_epochs: 5": "base_epochs: 1",
        "min_steps: 200": "min_steps: 2",
        "fixed: {model: cnn,": "fixed: {model: cnn, model_kwargs: {width: 4},",
        "features: hog+lbp+pixels": "features: pixels",
        "pca: 150": "pca: 10",
        "start_pairs: 4": "start_pairs: 2",
        "max_pairs: 10": "max_pairs: 3",
        "per_point: 3": "per_point: 2",
        "name: curves": "name: small",
        "single_pilot_from: 11850": "single_pilot_from: 200",
        **edits,
    }
    for old, new in swaps.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


def simulate(plan, val, rows=None):
    """Run the planner to the end with a planted validation accuracy per job; returns the last state and rows."""
    rows = {} if rows is None else rows
    for _ in range(50):
        state = next_jobs(plan, rows)
        if not state.jobs:
            return state, rows
        for job in state.jobs:
            rows[job.key] = {"status": "completed", "val_acc": val(job), "test_acc": 0.5}
    raise AssertionError("the planner never finished")


def planted(job, noise=0.0, rng=random.Random(0)):
    """Accuracy that rises with size and length; the CNN peaks at lr 0.2, wd 5e-4; the SVM at C 30."""
    c = job.config
    if job.family == "deep":
        acc = 0.95 - 0.3 * (job.size / 550) ** -0.3 - 0.02 * math.log(c["lr"] / 0.2) ** 2 \
            - 0.01 * math.log(c["weight_decay"] / 5e-4) ** 2 - 0.05 * math.exp(-job.steps / 700)
    else:
        acc = 0.93 - 0.3 * (job.size / 550) ** -0.25 - 0.01 * math.log(c["C"] / 30) ** 2
    return acc + rng.gauss(0, noise)


def test_the_committed_plan_loads_with_its_stated_design():
    plan = load_plan(PLAN)
    assert len(plan.sizes) >= 7 and max(plan.sizes) / min(plan.sizes) >= 100  # 7 sizes over 2 decades
    assert plan.seeds.per_point >= 3 and plan.augmentation.power.start_pairs == 4
    grids = [plan.deep.grid, plan.classical.grid]
    assert [math.prod(len(v) for v in g.values()) for g in grids] == [9, 9]  # equal tuning effort


@pytest.mark.parametrize("old,new,says", [
    ("held_out_size: 55000", "held_out_size: 123", "held_out_size 123 is not one of the sizes"),
    ("    lr: [0.05, 0.1, 0.2]", "    lr: [0.05, 0.1, 0.3]", "deep.grid.lr must be log-spaced"),
    ("  per_point: 3", "  per_point: 3\n  extra: 1", "unknown key(s) seeds.extra"),
    ("    gain: 0.002", "    gainz: 0.002", "unknown key(s) deep.length.gainz"),
    ("single_pilot_from: 11850", "single_pilot_from: 12000", "seeds.single_pilot_from 12000 is not one of"),
    ("fixed: {model: cnn,", "fixed: {model: cnnx,", "model='cnnx' is not one of"),
    ("classifier: svm_rbf}", "classifier: svm_rbf, gama: 1}", "Unknown ClassicalConfig key(s)"),
])
def test_a_bad_plan_is_one_line_naming_the_file_and_the_key(tmp_path, old, new, says):
    bad = tmp_path / "plan.yaml"
    bad.write_text(PLAN.read_text().replace(old, new))
    with pytest.raises(PlanError) as e:
        load_plan(bad)
    assert says in str(e.value) and str(bad) in str(e.value) and "\n" not in str(e.value)


def test_the_ladder_takes_the_shortest_rung_whose_next_gains_less_than_the_threshold():
    plan = load_plan(PLAN)
    state, _ = simulate(plan, planted)
    for (arm, size), pt in state.points.items():
        if pt.family != "deep":
            continue
        rungs = sorted(pt.ladder)
        i = rungs.index(pt.length)
        gains = [pt.ladder[b] - pt.ladder[a] for a, b in zip(rungs, rungs[1:])]
        assert all(g >= plan.deep.length.gain for g in gains[:i]), (arm, size)
        if pt.capped:
            assert pt.length == rungs[-1] == max(plan.deep.length.ladder) * pt.base
        else:
            assert gains[i] < plan.deep.length.gain and len(rungs) == i + 2  # no rung past the one that decided


def test_from_single_pilot_from_up_the_ladder_runs_on_the_first_pilot_seed_only():
    plan = load_plan(PLAN)
    assert plan.seeds.single_pilot_from == 11850 and len(plan.seeds.pilot) == 2
    pilot: dict[int, set[int]] = {}

    def val(job):
        if job.purpose == "pilot":
            pilot.setdefault(job.size, set()).add(job.seed)
        return planted(job)

    simulate(plan, val)
    assert {n for n, s in pilot.items() if s == set(plan.seeds.pilot)} == {n for n in plan.sizes if n < 11850}
    assert {n for n, s in pilot.items() if s == set(plan.seeds.pilot[:1])} == {n for n in plan.sizes if n >= 11850}


def test_a_choice_at_a_grid_edge_extends_the_grid_and_every_point_is_confirmed():
    plan = load_plan(PLAN)
    state, rows = simulate(plan, planted)
    cnn = state.points[("cnn", 550)]
    # the planted optimum lr 0.2 is the grid's top edge: one step beyond it was tried, and lost
    assert cnn.axes["lr"] == (0.05, 0.1, 0.2, 0.4) and cnn.choice["lr"] == 0.2 and not cnn.edge
    svm = state.points[("classical", 550)]
    assert svm.axes["C"][-1] > 30 and svm.choice["C"] == 30.0
    for (arm, size), pt in state.points.items():
        assert pt.choice is not None and len(pt.runs) == len(pt.seeds) >= plan.seeds.per_point, (arm, size)
        assert all(s >= plan.seeds.fresh for s in pt.seeds)  # fresh seeds, never the tuning seed
    assert state.pairs == plan.augmentation.power.start_pairs  # noise-free pairs: the first 4 reach the target


def test_the_power_rule_adds_pairs_until_the_interval_is_narrow_enough_or_the_cap():
    plan = load_plan(PLAN)
    power = plan.augmentation.power
    assert pairs_needed(0.001, power, 4) == 4
    n = pairs_needed(0.005, power, 4)
    assert half_width(0.005, n) <= power.half_width < half_width(0.005, n - 1)
    assert pairs_needed(0.05, power, 4) == power.max_pairs
    rng = random.Random(1)
    state, _ = simulate(plan, lambda j: planted(j, noise=0.004, rng=rng))
    assert power.start_pairs < state.pairs <= power.max_pairs and state.pairs_sd > 0
    assert len(state.points[("cnn", 55000)].runs) == state.pairs == len(state.points[("flip+shift", 55000)].runs)


def test_decisions_never_read_test_accuracy():
    plan = load_plan(PLAN)
    state, rows = simulate(plan, planted)
    for row in rows.values():
        row["test_acc"] = random.random()
    again = next_jobs(plan, rows)
    assert not again.jobs
    assert {k: (p.length, p.choice) for k, p in again.points.items()} == \
        {k: (p.length, p.choice) for k, p in state.points.items()}


def study(plan: Path, db: Path, *extra: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuning.study", "--plan", str(plan), "--db", str(db), *extra],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def rows_of(db: Path) -> dict[str, tuple]:
    with sqlite3.connect(db) as conn:
        return {k: (s, t, v) for k, s, t, v in conn.execute(
            "SELECT job_key, status, started_at, val_acc FROM ganrator_plan_runs")}


@pytest.mark.slow
def test_a_study_cut_after_some_runs_continues_from_its_database_alone(tmp_path, fmnist):
    plan = small_plan(tmp_path)
    first = tmp_path / "a" / "small.db"
    out = study(plan, first, "--max-runs", "5")  # the part ends with runs still to do
    assert out.returncode == 0, failed(out)
    assert "part 1 part ended" in out.stdout and "commit" in out.stdout, failed(out)
    before = rows_of(first)
    assert before and all(s == "completed" for s, _, _ in before.values())
    # a fresh clone: only the database travels; no Ray folder, no checkpoints
    moved = tmp_path / "b" / "small.db"
    moved.parent.mkdir()
    shutil.copy(first, moved)
    assert not list(moved.parent.glob("*-journal")) and not list(first.parent.glob("*-wal"))
    out = study(plan, moved)
    assert out.returncode == 0, failed(out)
    assert "is complete after part 2" in out.stdout, failed(out)
    after = rows_of(moved)
    assert {k: after[k] for k in before} == before  # nothing finished was redone
    assert len(after) > len(before)
    with sqlite3.connect(moved) as conn:
        parts = conn.execute("SELECT part, cpu, runs_done, status FROM ganrator_plan_parts ORDER BY part").fetchall()
        tested = conn.execute("SELECT purpose, COUNT(*), COUNT(test_acc) FROM ganrator_plan_runs "
                              "GROUP BY purpose").fetchall()
    assert [p[0] for p in parts] == [1, 2] and all(p[1] for p in parts) and parts[-1][3] == "done"
    for purpose, n, with_test in tested:  # test accuracy exists for confirmation seeds only
        assert with_test == (n if purpose in ("confirm", "secondary") else 0), purpose
    out = study(plan, moved, "--dry-run")
    assert "0 runs can start now" in out.stdout
    # the study's page: the plan verbatim, and each part with its time and CPU, from the database alone
    page = subprocess.run([sys.executable, "-m", "analysis", "study", "--plan", str(plan), "--db", str(moved),
                           "--out", str(tmp_path / "docs")], capture_output=True, text=True, cwd=ROOT)
    assert page.returncode == 0, page.stderr
    text = (tmp_path / "docs" / "studies.md").read_text()
    assert plan.read_text().strip() in text and "the study is complete" in text
    from ganrator.machine import cpu_model_flags

    rows = [line for line in text.splitlines() if line.startswith("| 1 |") or line.startswith("| 2 |")]
    assert len(rows) == 2 and all(cpu_model_flags()[0] in r for r in rows)
    assert rows[0].split("|")[4].strip() == "5"  # runs finished in part 1


def test_a_changed_plan_is_refused_until_the_change_is_explained(tmp_path):
    plan = small_plan(tmp_path)
    db = tmp_path / "small.db"
    from tuning.db import open_db, db_url
    from tuning.study import check_plan

    handle = open_db(db_url(str(db), db))
    assert check_plan(handle, load_plan(plan), None) is None
    plan.write_text(plan.read_text().replace("per_point: 2", "per_point: 3"))
    problem = check_plan(handle, load_plan(plan), None)
    assert "differs from the one study 'small' began under" in problem and "--amend" in problem
    assert check_plan(handle, load_plan(plan), "a third seed per point") is None
    out = study(plan, db, "--dry-run")
    assert out.returncode == 0


def test_a_plan_inside_the_repository_must_be_committed(tmp_path):
    from tuning.study import plan_commit

    commit, at, problem = plan_commit(PLAN)
    assert problem is None and len(commit) == 40 and at > 0
    stray = ROOT / "results" / "stray-plan-for-a-test.yaml"
    stray.write_text(PLAN.read_text())
    try:
        assert "is not committed" in plan_commit(stray)[2]
    finally:
        stray.unlink()


def test_a_second_driver_of_the_same_study_is_refused_naming_the_first(tmp_path):
    from tuning.db import db_url, open_db
    from tuning.lease import Lease

    plan = small_plan(tmp_path)
    db = tmp_path / "small.db"
    open_db(db_url(str(db), db))
    first = Lease(db_url(str(db), db), "small", on_lost=lambda reason: None)
    assert first.take() is None
    try:
        out = study(plan, db)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
        assert "study 'small'" in out.stderr and f"pid {__import__('os').getpid()}" in out.stderr
        assert not rows_of(db)  # it ran nothing
    finally:
        first.release()
