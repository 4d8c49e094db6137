"""Shared fixtures: the real Fashion-MNIST (required under `make test`) and generated IDX files."""
from __future__ import annotations

import glob
import gzip
import os
import shutil
import socket
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from ganrator import data as data_lib


def write_idx(path: Path, array: np.ndarray, magic: int, gz: bool = True) -> Path:
    payload = struct.pack(">i", magic) + struct.pack(f">{array.ndim}i", *array.shape) + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload, compresslevel=1) if gz else payload)
    return path


def make_idx_dir(root: Path, gz: bool = True, seed: int = 0) -> Path:
    """Four valid IDX files of the real sizes, with random pixels (labels balanced)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, n in data_lib.COUNTS.items():
        stem = "train" if split == "train" else "t10k"
        write_idx(root / f"{stem}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28)), data_lib.IMAGE_MAGIC, gz)
        write_idx(root / f"{stem}-labels-idx1-ubyte{suffix}", np.arange(n) % 10, data_lib.LABEL_MAGIC, gz)
    return root


@pytest.fixture(scope="session")
def idx_dir(tmp_path_factory) -> Path:
    return make_idx_dir(tmp_path_factory.mktemp("idx"))


@pytest.fixture(scope="session")
def fmnist():
    """The real dataset. Under `make test` (GANRATOR_REQUIRE_DATA=1) its absence is a failure, not a skip."""
    try:
        return data_lib.load_fashion_mnist()
    except data_lib.DataError as e:
        if os.environ.get("GANRATOR_REQUIRE_DATA") == "1":
            raise
        pytest.skip(f"real Fashion-MNIST not installed: {e}")


ROOT = Path(__file__).resolve().parents[1]


def failed(out) -> str:
    """A failed study's output for the assertion message; where Ray's own processes died, the tail of the latest
    local Ray session's GCS and raylet logs too (they are gone with the test machine otherwise)."""
    text = out.stdout[-3000:] + out.stderr[-3000:]
    if "GCS" in out.stderr or "raylet" in out.stderr:
        import tempfile

        session = Path(os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()) / "ray" / "session_latest" / "logs"
        for name in ("gcs_server.out", "gcs_server.err", "raylet.out", "raylet.err"):
            log = session / name
            if log.is_file():
                text += f"\n--- {log} (tail)\n" + log.read_text(errors="replace")[-2000:]
    return text


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory):
    """One real smoke study through the CLI (real Ray, Optuna, SQLite), shared by the tests that read it: the
    search, then its confirmation stage (tiny on the smoke budget) and the final evaluation of the best trial."""
    import subprocess
    import sys

    storage = tmp_path_factory.mktemp("smoke_runs")
    # -X importtime: the driver's imports, one line each on its stderr (trials run in Ray's worker processes)
    out = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "tuning" / "run.py"), "--space", "smoke",
                          "--budget", "smoke", "--storage-path", str(storage), "--final-eval", "1", "--confirm"],
                         capture_output=True, text=True, timeout=900, cwd=ROOT)
    lines = out.stderr.splitlines(keepends=True)
    out.imports = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    out.imports.discard("imported package")  # the header
    out.stderr = "".join(line for line in lines if not line.startswith("import time:"))
    assert out.returncode == 0, failed(out)
    return storage / "smoke" / "trials.db", out


BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_postgres(*cmd: str) -> subprocess.CompletedProcess:
    # PostgreSQL refuses to run as root; the Debian package's `postgres` user runs it.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL cluster on loopback, for the tests that run the trial database on a real server."""
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
