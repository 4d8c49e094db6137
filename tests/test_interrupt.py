"""Ctrl-C and SIGTERM end a real study cleanly (in-flight trials recorded as interrupted, a --resume line printed),
and the printed command continues it to a study where every trial ran once and both records agree."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess

import optuna
from conftest import failed
from test_tuning import (ROOT, RUN, SLOW_TRIALS, assert_consistent, assert_optuna_agrees, query, trial_rows,
                         wait_for)


def start(tmp_path, *extra, sql: str = "select count(*) from ganrator_epochs") -> tuple[subprocess.Popen, object]:
    """Start a study; return once `sql` counts a row (by default: a first epoch)."""
    # Its own session, so a signal to its process group is what Ctrl-C in a terminal sends.
    proc = subprocess.Popen([*RUN, *SLOW_TRIALS, "--max-concurrent", "2", "--storage-path", str(tmp_path), *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    db = tmp_path / "smoke" / "trials.db"
    try:
        wait_for(lambda: query(db, sql)[0][0] >= 1, 240, sql)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc, db


def stopped(proc: subprocess.Popen) -> str:
    try:
        return proc.communicate(timeout=180)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def assert_interrupted(db, output: str, done_at_most: int, total: int) -> str:
    """The in-flight trials are interrupted (ours and Optuna's), nothing runs; returns the printed command."""
    assert "search done" not in output and "leaderboard" not in output and "Traceback" not in output, output
    assert "Tuner.restore" not in output  # Tune's own hint names its API, not our command line
    m = re.search(r"^interrupted after (\d+) of (\d+) trials; continue with:\n  (.+)$", output, re.M)
    assert m and int(m[1]) <= done_at_most and int(m[2]) == total, output[-3000:]
    rows = trial_rows(db)
    assert "running" not in {r["status"] for r in rows.values()}
    interrupted = {tid for tid, r in rows.items() if r["status"] == "interrupted"}
    assert interrupted and query(db, "select status from ganrator_studies") == [("interrupted",)]
    study = optuna.load_study(study_name="smoke", storage=f"sqlite:///{db}")
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    closed = {t.user_attrs["trial_id"] for t in study.trials if t.user_attrs.get("interrupted")}
    assert interrupted <= closed
    assert all(t.state.name == "FAIL" and t.user_attrs["status"] == "interrupted"
               for t in study.trials if t.user_attrs.get("interrupted"))
    return m[3]


def test_ctrl_c_then_the_printed_resume_command_finishes_the_study(tmp_path):
    # ASHA always promotes the first trial at a rung, so one reaches a second epoch: then a checkpoint resume is
    # visible (its first epoch is not trained again). 4 epochs: it is still running when the signal lands.
    proc, db = start(tmp_path, "--num-samples", "4", "--max-epochs", "4",
                     sql="select count(*) from ganrator_trials where status = 'running' and epochs >= 2")
    os.killpg(proc.pid, signal.SIGINT)
    output = stopped(proc)
    assert proc.returncode == 130, output[-3000:]
    command = assert_interrupted(db, output, done_at_most=2, total=4)
    assert command.endswith(" --resume") and "--num-samples 4" in command
    before = trial_rows(db)
    stamps = {tid: dict(query(db, "select epoch, timestamp from ganrator_epochs where trial_id=?", tid))
              for tid in before}

    out = subprocess.run(shlex.split(command), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, failed(out)
    assert "search done" in out.stdout
    assert "lease:" not in out.stdout  # the interrupted driver released its lease as it exited
    after = assert_consistent(db, max_epochs=4)
    assert len(after) == 4 and set(before) <= set(after)  # every trial once; the interrupted ones continued
    by_id = assert_optuna_agrees(db)
    study = optuna.load_study(study_name="smoke", storage=f"sqlite:///{db}")
    for old in (t for t in study.trials if t.user_attrs.get("interrupted")):
        new = by_id[old.user_attrs["trial_id"]]  # continued as a new Optuna trial with the same parameters
        assert new.number != old.number and new.user_attrs["continues"] == old.number and new.params == old.params
        assert old.intermediate_values.items() <= new.intermediate_values.items()
    # Continued from its checkpoint, not restarted: the epochs before its last one were not trained again (the
    # last may be: Tune records a result before it registers that result's checkpoint).
    continued = [tid for tid, r in before.items() if r["status"] == "interrupted" and r["epochs"] >= 2]
    assert continued
    for tid in continued:
        now = dict(query(db, "select epoch, timestamp from ganrator_epochs where trial_id=?", tid))
        assert all(now[e] == ts for e, ts in stamps[tid].items() if e < before[tid]["epochs"]), (now, stamps[tid])


def test_sigterm_stops_like_ctrl_c(tmp_path):
    proc, db = start(tmp_path, "--num-samples", "2")
    proc.send_signal(signal.SIGTERM)  # to the driver only, as a service manager or `kill` sends it
    output = stopped(proc)
    assert proc.returncode == 143, output[-3000:]
    assert_interrupted(db, output, done_at_most=1, total=2)
