"""The trial database on a real PostgreSQL server (a throwaway cluster on loopback), not only SQLite."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest

from analysis import load_study
from conftest import failed

ROOT = Path(__file__).resolve().parents[1]
BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_postgres(*cmd: str) -> subprocess.CompletedProcess:
    # PostgreSQL refuses to run as root; the Debian package's `postgres` user runs it.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def postgres_url():
    if not BIN:
        pytest.skip("no PostgreSQL server binaries (Debian package postgresql) on this machine")
    # Not under pytest's tmp (private to root): the postgres user must reach the data directory.
    home = Path(tempfile.mkdtemp(prefix="ganrator-pg-"))
    data = home / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
        shutil.chown(data, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    init = _as_postgres(f"{BIN[-1]}/initdb", "-D", str(data), "--auth=trust", "-U", "postgres")
    assert init.returncode == 0, init.stderr
    start = _as_postgres(f"{BIN[-1]}/pg_ctl", "-D", str(data), "-w", "-l", str(data / "log"), "-o",
                         f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start")
    assert start.returncode == 0, start.stderr + start.stdout
    try:
        made = subprocess.run([f"{BIN[-1]}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                               "ganrator"], capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/ganrator"
    finally:
        _as_postgres(f"{BIN[-1]}/pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(home, ignore_errors=True)


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
