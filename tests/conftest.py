"""Shared fixtures: the real Fashion-MNIST (required under `make test`) and generated IDX files."""
from __future__ import annotations

import gzip
import os
import struct
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
