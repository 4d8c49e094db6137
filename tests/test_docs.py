"""The cross-study write-up is generated from databases, cites literature apart, and links only real files."""
import re
import subprocess
import sys
from pathlib import Path

import planted

ROOT = Path(__file__).resolve().parents[1]


def test_docs_from_databases(smoke_study, tmp_path):
    db, _ = smoke_study
    other = planted.build(tmp_path / "planted.db")
    out = subprocess.run([sys.executable, "-m", "analysis", "docs", "--db", str(db), "--db", str(other),
                          "--system-db", str(db), "--system-db", str(other), "--out", str(tmp_path / "docs")],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "docs" / "experiments.md").read_text()
    assert "## Classical computer vision against deep learning" in text and "## System scaling" in text
    assert "Reference results from the literature (not ours" in text and "Zhong et al. 2017" in text
    assert "`smoke`: space `smoke`, budget `smoke`" in text and "tuning/run.py --space smoke" in text
    for ref in re.findall(r"\]\(([^)]+)\)", text):
        assert (tmp_path / "docs" / ref).is_file()
    for png in (tmp_path / "docs" / "figures").glob("*.png"):
        assert png.stat().st_size < 300_000


def test_docs_bad_database_is_one_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "analysis", "docs", "--db", str(tmp_path / "x.db")],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"error: --db {tmp_path / 'x.db'}: no trial database there")
