"""optuna-dashboard reads our studies: the real server on the smoke study's database, checked through its HTTP API."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from test_tuning import query, trial_rows

DASHBOARD = Path(sys.executable).with_name("optuna-dashboard")  # the console script of the project's venv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def test_dashboard_shows_pruned_trials_with_their_curves_and_attributes(smoke_study):
    db, _ = smoke_study
    assert DASHBOARD.exists(), f"{DASHBOARD} missing: `make setup` installs the dashboard extra"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(DASHBOARD), f"sqlite:///{db}", "--host", "127.0.0.1", "--port", str(port),
                               "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        t0 = time.time()
        while True:
            try:
                studies = get(f"{base}/api/studies")["study_summaries"]
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.communicate()[0][-3000:]
                assert time.time() - t0 < 60, "optuna-dashboard did not answer within 60 s"
                time.sleep(0.3)
        (study,) = [s for s in studies if s["study_name"] == "smoke"]
        trials = get(f"{base}/api/studies/{study['study_id']}")["trials"]
    finally:
        server.kill()
        server.wait(timeout=30)

    rows = trial_rows(db)
    assert len(trials) == len(rows) == 6
    for t in trials:
        attrs = {a["key"]: a["value"] for a in t["user_attrs"]}
        r = rows[attrs["trial_id"]]
        assert attrs["status"] == r["status"] and attrs["node"] == r["node"] and attrs["seed"] == str(r["seed"])
        assert t["state"] == {"completed": "Complete", "diverged": "Complete", "early_stopped": "Pruned"}[r["status"]], (t["state"], r)
        curve = {v["step"]: v["value"] for v in t["intermediate_values"]}
        assert curve == dict(query(db, "select epoch, val_acc from ganrator_epochs where trial_id=?", r["trial_id"]))
        assert {p["name"] for p in t["params"]} == {"aug_strength", "lr", "cnn.width"}
    assert {t["state"] for t in trials} == {"Complete", "Pruned"}
