"""Every command-line entry point prints its help: argparse formats help strings with %, so a help text built from
data (a budget's summary with "10%") can crash `--help` while every other flag works."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [
    ["tuning/run.py"],
    ["-m", "tuning.study"],
    ["-m", "analysis"],
    ["-m", "analysis", "report"],
    ["-m", "analysis", "docs"],
    ["-m", "analysis", "study"],
    ["-m", "analysis", "list"],
] + [[f"benchmarks/{p.name}"] for p in sorted((ROOT / "benchmarks").glob("*.py"))]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_prints_usage(command):
    r = subprocess.run([sys.executable, *command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("usage:"), r.stdout[:300]
