"""The trial database on a real PostgreSQL server (a throwaway cluster on loopback: conftest.postgres_url), not only
SQLite."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import sqlalchemy as sa

from analysis import load_study
from conftest import failed

ROOT = Path(__file__).resolve().parents[1]


def test_study_on_postgresql(postgres_url, tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "tuning" / "run.py"), "--space", "smoke", "--budget", "smoke",
                          "--num-samples", "3", "--db", postgres_url, "--storage-path", str(tmp_path)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, failed(out)
    assert f"trial database {postgres_url}" in out.stdout
    assert not list(tmp_path.rglob("*.db"))  # nothing fell back to SQLite
    study = load_study(postgres_url)
    assert len(study.trials) == 3 and study.trials["status"].isin(["completed", "early_stopped"]).all()
    assert len(study.epochs) == study.trials["epochs"].sum()
    assert len(optuna.load_study(study_name="smoke", storage=postgres_url).trials) == 3
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:  # the driver's lease, taken on the server's clock, released as it finished
        assert conn.execute(sa.text("select count(*) from ganrator_leases")).scalar() == 0
    engine.dispose()
