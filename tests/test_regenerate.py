"""The committed write-up regenerates from the committed study database alone, as `make docs` writes it: the same
text on this machine kind (figures aside), dated by the study's own newest run, from a closed database file."""
from __future__ import annotations

import datetime
import os
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import ROOT

DB = ROOT / "results" / "curves.db"
TEXTS = ["experiments.md", "experiments.tex", "studies.md"]


def regenerate(out) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "analysis", "study", "--plan", "results/plan.yaml", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    done = regenerate(out)
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("name", TEXTS)
def test_the_committed_write_up_is_what_the_committed_database_gives(regenerated, name):
    assert (regenerated / name).read_text() == (ROOT / "docs" / name).read_text(), \
        f"docs/{name} differs from what `make docs` writes from results/: regenerate it and commit both"


def test_every_committed_table_is_regenerated_identically(regenerated):
    committed = sorted(p.name for p in (ROOT / "docs" / "tables").glob("*"))
    assert committed == sorted(p.name for p in (regenerated / "tables").glob("*"))
    for name in committed:
        if name.endswith((".md", ".tex")):
            assert (regenerated / "tables" / name).read_text() == (ROOT / "docs" / "tables" / name).read_text(), name


def test_the_date_line_is_the_studys_newest_run_and_no_path_is_this_machines(regenerated):
    with sqlite3.connect(f"file:{DB}?mode=ro", uri=True) as conn:
        newest = conn.execute("SELECT MAX(ended_at) FROM ganrator_plan_runs").fetchone()[0]
    stamp = datetime.datetime.fromtimestamp(newest, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = (regenerated / "experiments.md").read_text()
    assert f"whose newest run ended {stamp}" in text
    assert str(ROOT) not in text and str(regenerated) not in text


def test_the_committed_database_is_a_closed_file():
    tracked = subprocess.run(["git", "ls-files", "results"], capture_output=True, text=True, cwd=ROOT).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    assert "results/curves.db" in tracked
    assert not [t for t in tracked if t.endswith(("-journal", "-wal", "-shm"))]
    with sqlite3.connect(f"file:{DB}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "ganrator_leases" in tables:  # no driver left holding it
            assert conn.execute("SELECT COUNT(*) FROM ganrator_leases").fetchone()[0] == 0
