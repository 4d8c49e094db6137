"""End-to-end tests of tuning/run.py: real Ray, real Optuna, a real SQLite database, the real dataset."""
from __future__ import annotations

import json
import os
import secrets
import signal
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest

from conftest import failed
from tuning.budgets import repeat_seed

ROOT = Path(__file__).resolve().parents[1]
RUN = [sys.executable, str(ROOT / "tuning" / "run.py")]


def run_cli(*args, timeout=600, env=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*RUN, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, **(env or {})}, **kw)


def run_rejected(tmp_path: Path, *args, **kw) -> subprocess.CompletedProcess:
    """A run whose input is rejected: checked before Ray starts, so no Ray instance is started for it (Ray's
    temporary folder, pointed into tmp_path, is never created)."""
    ray_tmp = tmp_path / "ray-tmp"
    out = run_cli(*args, env={"RAY_TMPDIR": str(ray_tmp)}, timeout=120, **kw)
    assert not ray_tmp.exists(), ("a Ray instance was started for rejected input", out.stdout, out.stderr)
    return out


def query(db: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def trial_rows(db: Path) -> dict[str, dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return {r["trial_id"]: dict(r) for r in conn.execute("select * from ganrator_trials")}


def assert_consistent(db: Path, max_epochs: int, deep: bool = True, may_error: frozenset = frozenset(),
                      lost: frozenset = frozenset()) -> dict[str, dict]:
    """Every trial has a terminal status that agrees with its epoch rows, each epoch stored once; only the trials
    in `may_error` may have errored; those in `lost` (interrupted with a killed driver) are left out."""
    rows = trial_rows(db)
    for tid, r in rows.items():
        if tid in lost:
            continue
        epochs = [e for (e,) in query(db, "select epoch from ganrator_epochs where trial_id=? order by epoch", tid)]
        assert epochs == list(range(1, (r["epochs"] or 0) + 1)), (tid, epochs)
        if tid in may_error and r["status"] == "errored":
            assert r["error"], r
            continue
        assert r["status"] in ("completed", "early_stopped", "diverged"), r
        if r["status"] == "completed":
            assert r["epochs"] == max_epochs and r["rung"] is None
        if r["status"] == "early_stopped":
            assert r["rung"] == r["epochs"] < max_epochs
        assert 0 < r["best_val_acc"] <= 1 and r["node"] and r["git_commit"]
        assert (r["param_count"] or 0) > 0 or not deep  # a classical pipeline has no parameter count
    return rows


# What Optuna must say for each ganrator_trials.status (written independently of tuning/states.py).
OPTUNA_STATE = {"completed": "COMPLETE", "early_stopped": "PRUNED", "diverged": "COMPLETE", "errored": "FAIL",
                "cut": "FAIL", "interrupted": "FAIL"}


def assert_optuna_agrees(db: Path, name: str = "smoke", killed: bool = False) -> dict[str, optuna.trial.FrozenTrial]:
    """Each of our trials has exactly one Optuna trial that is not a closed interrupted one, in the matching
    state, with every epoch's val_acc as an intermediate value and the user attributes; nothing RUNNING.

    killed: the driver was SIGKILLed, so Optuna may hold a trial proposed after Ray's last snapshot, which no
    resumed run knows; it must be closed as cut (FAIL), never left RUNNING.
    """
    # a trial interrupted with a killed driver is closed in both records, as the interrupt test checks
    rows = {tid: r for tid, r in trial_rows(db).items() if not (killed and r["status"] == "interrupted")}
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    assert not [t.number for t in study.trials if t.state.name == "RUNNING"]
    live = [t for t in study.trials if not t.user_attrs.get("interrupted")]
    if killed:
        live = [t for t in live if t.user_attrs.get("trial_id") in rows or t.user_attrs.get("status") != "cut"]
    by_id = {t.user_attrs["trial_id"]: t for t in live}
    assert len(by_id) == len(live) and set(by_id) == set(rows), (sorted(by_id), sorted(rows))
    for tid, t in by_id.items():
        r = rows[tid]
        assert t.state.name == OPTUNA_STATE[r["status"]] and t.user_attrs["status"] == r["status"], (r, t)
        assert t.user_attrs["node"] == r["node"] and t.user_attrs["seed"] == r["seed"]
        vals = dict(query(db, "select epoch, val_acc from ganrator_epochs where trial_id=?", tid))
        assert set(t.intermediate_values) == set(vals), ("Optuna's epochs differ from ours", tid,
                                                         t.intermediate_values, vals)
        # After a kill an epoch may be trained twice: Optuna keeps its first report, our table the last.
        assert killed or t.intermediate_values == vals, (tid, t.intermediate_values, vals)
        if r["status"] == "completed" and not killed:
            assert t.value == r["last_val_acc"]
        if r["status"] == "early_stopped":  # Optuna takes a pruned trial's last report as its value
            assert t.value == t.intermediate_values[r["rung"]]
    return by_id


def test_the_driver_never_imports_torch(smoke_study):
    """Search, confirmation and final evaluation run torch in Ray's workers only: the driver checks the space
    against the registry and puts the data in the object store as numpy arrays (1.6 s of start-up saved)."""
    _, out = smoke_study
    assert {"tuning.trainable", "ganrator.data", "ganrator.recipe", "search_spaces.loader"} <= out.imports
    assert not {m for m in out.imports if m == "torch" or m.startswith("torch.")}, sorted(out.imports)[:20]
    assert "ganrator.train" not in out.imports


def test_tensorboard_event_files_only_when_asked():
    from tuning.run import trial_loggers

    assert [type(c).__name__ for c in trial_loggers(False)] == ["CSVLoggerCallback", "JsonLoggerCallback"]
    assert [type(c).__name__ for c in trial_loggers(True)][-1] == "TBXLoggerCallback"


def test_smoke_study_end_to_end(smoke_study):
    db, out = smoke_study
    tmp_path = db.parent.parent
    rows = assert_consistent(db, max_epochs=3)
    assert len(rows) == 6
    statuses = [r["status"] for r in rows.values()]
    assert "early_stopped" in statuses and "completed" in statuses  # ASHA stopped some, not all
    # The budget's calibration trials (the first 4 created: the space's one model) ran every epoch, whatever ASHA
    # would have said, and their rankings decided each rung once they had ended: stored, printed, obeyed.
    calibration = {tid for tid, r in rows.items() if r["calibration"]}
    assert len(calibration) == 4 and all(rows[t]["status"] in ("completed", "diverged") for t in calibration)
    decisions = {(m, rung): (bool(stops), n) for m, rung, stops, n in query(
        db, "select model, rung, stops, calibration_trials from ganrator_rung_decisions")}
    assert set(decisions) == {("cnn", 1), ("cnn", 2)}, decisions
    assert "early stopping, decided now that the 4 calibration trial(s) have ended" in out.stdout
    for (model, rung), (stops, n) in decisions.items():
        assert f"  cnn, epoch {rung} against 3: " in out.stdout and n <= 4
    for tid, r in rows.items():
        if r["status"] == "early_stopped":  # only where its rung held, and never a calibration trial
            assert decisions[("cnn", r["rung"])][0] and tid not in calibration, (r, decisions)
    search = json.loads(query(db, "select search from ganrator_studies")[0][0])
    assert search["startup"] == {"trials": 4, "calibration": [1, 2, 3, 4]}
    # Optuna agrees with our table: ASHA-stopped trials PRUNED, with their intermediate values and attributes.
    by_id = assert_optuna_agrees(db)
    assert len(by_id) == 6 and {t.state.name for t in by_id.values()} == {"COMPLETE", "PRUNED"}
    roles = next(iter(rows.values()))["roles"]
    assert '"aug_strength": "scientific"' in roles and '"lr": "nuisance"' in roles
    # final eval: the best config retrained over the budget's 2 fresh seeds (never the search's 0), test stored
    finals = query(db, "select trial_id, seed, test_acc from ganrator_final_evals")
    assert len(finals) == 2 and {s for _, s, _ in finals} == {1000, 1001} and all(0 < a <= 1 for *_, a in finals)
    assert "leaderboard" in out.stdout and "report:  python -m analysis report" in out.stdout
    assert str(db) in out.stdout

    # The same name again without --resume is refused, and nothing already written is touched.
    again = run_cli("--space", "smoke", "--budget", "smoke", "--storage-path", str(tmp_path), timeout=120)
    assert again.returncode == 2 and "already exists" in again.stderr and "--resume" in again.stderr
    assert len(trial_rows(db)) == 6


def test_trials_reuse_actors_and_record_their_overhead(smoke_study):
    """Trials share worker processes (reuse_actors), yet each has its own config and row; every part of the time
    outside a trial's epochs is recorded, non-negative and in order, and the imports are paid once per process."""
    db, _ = smoke_study
    rows = trial_rows(db)
    # every trial once, its own configuration (or the same on another seed: a repeat of the leading one)
    assert len(rows) == 6 and len({(r["params"], r["seed"]) for r in rows.values()}) == 6
    pids = {r["pid"] for r in rows.values()}
    assert len(pids) < len(rows), pids  # some process ran more than one trial
    for pid in pids:  # only the first trial of a process paid its imports
        paid = sorted((r["queued_at"], r["import_seconds"]) for r in rows.values() if r["pid"] == pid)
        assert paid[0][1] > 0 and all(s == 0 for _, s in paid[1:]), paid
    for r in rows.values():
        assert r["queued_at"] <= r["started_at"] <= r["entered_at"] <= r["ended_at"], r
        for key in ("data_seconds", "setup_seconds", "report_seconds", "db_seconds", "search_seconds"):
            assert r[key] is not None and 0 <= r[key] < r["ended_at"] - r["queued_at"], (key, r)
        assert r["db_seconds"] > 0 and r["search_seconds"] > 0  # the driver's part is measured, not assumed zero
    for epoch_s, train_s, val_s, ckpt_s in query(db, "select epoch_seconds, train_seconds, val_seconds, "
                                                     "checkpoint_seconds from ganrator_epochs"):
        assert train_s > 0 and val_s > 0 and ckpt_s >= 0 and train_s + val_s == pytest.approx(epoch_s)
    startup = json.loads(query(db, "select startup from ganrator_studies")[0][0])
    assert all(startup[k] > 0 for k in ("imports", "search_imports", "data"))
    assert startup["ray_init"] >= 0  # only the wait left after the imports and the data, which overlap Ray's start
    assert startup["ready_at"] <= min(r["queued_at"] for r in rows.values())


@pytest.mark.parametrize("args, message", [
    (["--space", "nope"], "no search space 'nope'"),
    (["--space", "smoke", "--budget", "huge"], "invalid choice: 'huge'"),
    (["--space", "smoke", "--data-fraction", "1.5"], r"--data-fraction must be in (0, 1], got 1.5"),
    (["--space", "smoke", "--confirm-seeds", "0"], "--confirm-seeds must be >= 1, got 0"),
    (["--space", "smoke", "--num-samples", "0"], "--num-samples must be >= 1, got 0"),
    (["--space", "smoke", "--reduction-factor", "1"], "--reduction-factor must be >= 2"),
    (["--space", "smoke", "--val-size", "50"], "--val-size must be between 1000 and 30000 images, got 50"),
    (["--space", "smoke", "--startup-trials", "0"], "--startup-trials must be >= 1, got 0"),
    (["--space", "smoke", "--calibration-per-model", "2"], "--calibration-per-model must be 0 (no rung's fidelity "
                                                           "measured: ASHA stops nothing) or at least 4"),
    (["--space", "smoke", "--address", "127.0.0.1:1"], "--address 127.0.0.1:1: no Ray head answers there"),
    (["--space", "smoke", "--address", "head-node"], "expected HOST:PORT or auto"),
    (["--space", "smoke", "--budget", "smoke", "--grace-period", "5"], "grace period 5 exceeds max epochs 3"),
    (["--space", "smoke", "--sampler", "cmaes"], "invalid choice: 'cmaes'"),
    ([], "--space is required (one of: "),
    # A study name becomes a folder: one that is a path, hidden or empty would write outside --storage-path.
    (["--space", "smoke", "--name", "../escaped"], "--name '../escaped' is not a valid study name (use 1 to 100 of "
                                                   "letters, digits, '.', '_' and '-', starting with a letter"),
    (["--space", "smoke", "--name", "a/b"], "--name 'a/b' is not a valid study name"),
    (["--space", "smoke", "--name", ".hidden"], "--name '.hidden' is not a valid study name"),
    (["--space", "smoke", "--name", ""], "--name '' is not a valid study name"),
])
def test_bad_flags_fail_before_ray_starts(args, message, tmp_path):
    out = run_cli(*args, "--storage-path", str(tmp_path), timeout=120)
    assert out.returncode == 2 and message in out.stderr
    if not args:  # the valid choices are listed
        assert "cnn_aug" in out.stderr and "smoke" in out.stderr
    assert "ray:" not in out.stdout and not list(tmp_path.iterdir())
    assert not (tmp_path.parent / "escaped").exists()


def _ray_processes() -> set[str]:
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return {line.split()[0] for line in ps.splitlines() if "raylet" in line or "gcs_server" in line}


@pytest.mark.parametrize("files, message", [
    ({}, "lacks train-images-idx3-ubyte[.gz]"),  # checked before the search starts
    # present but truncated: found only when read, while Ray is starting; that Ray is stopped again
    ({"train-images-idx3-ubyte": b"\0\0\x08\x03", "train-labels-idx1-ubyte": b"", "t10k-images-idx3-ubyte": b"",
      "t10k-labels-idx1-ubyte": b""}, "the file is truncated"),
])
def test_bad_dataset_fails_and_leaves_no_ray_behind(files, message, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name, content in files.items():
        (data / name).write_bytes(content)
    before = _ray_processes()
    out = run_cli("--space", "smoke", "--budget", "smoke", "--data-dir", str(data), "--storage-path",
                  str(tmp_path / "runs"), timeout=120)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert "ray:" not in out.stdout
    assert _ray_processes() <= before  # the driver's GCS and raylet, if it started them, are gone


def test_plain_name_with_dots_and_dashes_is_accepted(tmp_path):
    # --resume of a study that does not exist stops after the database is opened: the name got that far.
    out = run_rejected(tmp_path, "--space", "smoke", "--name", "s1.v2-final_3", "--resume", "--storage-path",
                       str(tmp_path))
    assert out.returncode == 2 and "no study 's1.v2-final_3'" in out.stderr
    assert (tmp_path / "s1.v2-final_3" / "trials.db").is_file()


def test_space_file_whose_name_is_no_study_name_is_refused(tmp_path):
    bad = tmp_path / "my space.yaml"
    bad.write_text((ROOT / "search_spaces" / "smoke.yaml").read_text())
    out = run_rejected(tmp_path, "--space", str(bad), "--storage-path", str(tmp_path / "runs"))
    assert out.returncode == 2, out.stderr
    assert f"--space {bad}: the study would be named after the file, but 'my space' is not a valid study name" \
        in out.stderr and "pass --name" in out.stderr
    assert not (tmp_path / "runs").exists()


def _read_only(path: Path) -> None:
    """Make `path` unwritable even for root (who ignores permission bits): the immutable attribute."""
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        if os.geteuid() == 0:
            pytest.skip("chattr +i is not available here, and root ignores permission bits")
        path.chmod(0o444)


@pytest.mark.parametrize("kind, message", [
    ("folder", "is a folder, not a database file; pass a file path, e.g. "),
    ("text", "not a SQLite database (some other kind of file); pass a trial database, or a new file path"),
    ("foreign", "a SQLite database of another program (tables: customers), not a trial database"),
    ("proc", "cannot open the trial database: unable to open database file; pass a path in a writable folder"),
    ("read-only", "read-only ("),
])
def test_bad_database_is_one_line_and_left_untouched(kind, message, tmp_path):
    storage, db = tmp_path / "runs", tmp_path / "dbs" / "trials.db"
    db.parent.mkdir()
    if kind == "folder":
        db.mkdir()
    elif kind == "text":
        db.write_text("epoch,val_acc\n1,0.8\n")
    elif kind == "foreign":
        with sqlite3.connect(db) as conn:
            conn.execute("create table customers (id integer)")
    elif kind == "proc":
        db = Path("/proc/ganrator-trials.db")  # even root cannot create a file there
    else:
        from tuning.db import TrialDB

        TrialDB(f"sqlite:///{db}")
        _read_only(db)
    before = (db.read_bytes(), db.stat().st_mtime_ns) if db.is_file() else None
    try:
        out = run_rejected(tmp_path, "--space", "smoke", "--db", str(db), "--storage-path", str(storage))
    finally:
        if kind == "read-only":
            subprocess.run(["chattr", "-i", str(db)], capture_output=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.strip() == out.stderr.strip().splitlines()[0], out.stderr  # one line
    assert out.stderr.startswith(f"error: --db {db}: {message}"), out.stderr
    assert "ray:" not in out.stdout and not storage.exists() and not Path("/proc/ganrator-trials.db").exists()
    if before is not None:
        assert (db.read_bytes(), db.stat().st_mtime_ns) == before


@pytest.mark.parametrize("kind", ["read-only", "file"])
def test_unwritable_storage_path_is_one_line_before_ray_starts(kind, tmp_path):
    """A --storage-path that cannot be written, with a writable --db: refused before anything is written (Ray
    used to fail once started, with a traceback from its file system layer)."""
    storage, db = tmp_path / "runs", tmp_path / "dbs" / "trials.db"
    if kind == "file":
        storage.write_text("not a folder\n")
        reason = f"cannot make {storage}/smoke: {storage} is a file, not a folder"
    else:
        storage.mkdir()
        _read_only(storage)
        reason = f"cannot write {storage}/smoke: {storage} is read-only"
    try:
        out = run_rejected(tmp_path, "--space", "smoke", "--db", str(db), "--storage-path", str(storage))
    finally:
        subprocess.run(["chattr", "-i", str(storage)], capture_output=True)
    assert out.returncode == 2 and out.stderr.strip() == f"error: --storage-path {storage}: {reason}; pass " \
        f"{'another' if kind == 'file' else 'a writable'} --storage-path", out.stderr
    assert not db.parent.exists() and "ray:" not in out.stdout


@pytest.mark.parametrize("text, message", [
    ("scientific:\n  lr: {min: 1, max: 0.1, scaling: log}\n", "lr: min 1 > max 0.1"),
    # a parameter that would never be sampled: its `when` contradicts a fixed value
    ((ROOT / "search_spaces" / "smoke.yaml").read_text().replace(
        "cnn.width: {feasible_points: [4, 8]}", "cnn.width: {feasible_points: [4, 8], when: {model: [cnnx]}}"),
     "cnn.width: `when` model in ['cnnx'] can never hold: model is fixed to 'cnn'"),
])
def test_bad_space_file_is_reported_with_its_key(text, message, tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text(text)
    out = run_rejected(tmp_path, "--space", str(bad), "--storage-path", str(tmp_path))
    assert out.returncode == 2 and f"error: {bad}: {message}" in out.stderr, out.stderr


def test_list_spaces():
    out = run_cli("--list-spaces", timeout=120)
    assert out.returncode == 0 and "cnn_aug" in out.stdout and "The main search" in out.stdout and "headline" in out.stdout


def test_resume_without_study_is_refused(tmp_path):
    out = run_rejected(tmp_path, "--space", "smoke", "--resume", "--storage-path", str(tmp_path))
    assert out.returncode == 2 and "no study 'smoke'" in out.stderr


def wait_for(predicate, timeout: float, what: str):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            value = predicate()
        except sqlite3.OperationalError:  # table not created yet, or locked for a moment
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# Trials of a few seconds (2,750 images an epoch): long enough to be caught running by a kill or a signal.
SLOW_TRIALS = ["--space", "smoke", "--budget", "smoke", "--data-fraction", "0.05"]


def test_killed_worker_resumes_from_checkpoint(tmp_path):
    """SIGKILL the process running a trial: FailureConfig retries it from its last epoch, and it completes."""
    proc = subprocess.Popen([*RUN, *SLOW_TRIALS, "--num-samples", "1", "--max-epochs", "5", "--scheduler", "fifo",
                             "--storage-path", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    db = tmp_path / "smoke" / "trials.db"
    try:
        tid, pid, reached = wait_for(lambda: query(db, "select trial_id, pid, epochs from ganrator_trials "
                                                      "where epochs >= 3"), 180, "a trial at epoch 3")[0]
        killed_at = time.time()
        os.kill(pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, output[-3000:]
    row = assert_consistent(db, max_epochs=5)[tid]
    assert row["status"] == "completed" and row["failures"] >= 1 and row["pid"] != pid
    # Resumed, not restarted: the epochs before the last one reported were never trained (or written) again.
    # The last one may be: Tune records a result (our callback writes it) before it registers that result's
    # checkpoint, so a kill in between resumes from the epoch before (tune_controller._process_trial_result).
    kept = query(db, "select epoch, timestamp from ganrator_epochs where trial_id=? and epoch < ?", tid, reached)
    assert len(kept) == reached - 1 >= 2 and all(ts < killed_at for _, ts in kept), (kept, killed_at)


def test_killed_driver_then_resume_runs_every_trial_once(tmp_path):
    args = [*SLOW_TRIALS, "--num-samples", "6", "--max-concurrent", "2", "--storage-path", str(tmp_path)]
    proc = subprocess.Popen([*RUN, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    db = tmp_path / "smoke" / "trials.db"
    try:
        wait_for(lambda: query(db, "select count(*) from ganrator_trials where status in "
                                   "('completed', 'early_stopped')")[0][0] >= 2
                 and query(db, "select count(*) from ganrator_trials where status = 'running'")[0][0] >= 1,
                 240, "2 finished trials and 1 running")
        time.sleep(2)  # let the experiment state be snapshotted with trials in flight
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray instance it started, nothing else
        proc.wait()
    # The local Ray instance died with the driver's process group: nothing of it is left to leak.
    time.sleep(1)
    ps = subprocess.run(["ps", "-eo", "pid=,pgid=,stat="], capture_output=True, text=True).stdout.split("\n")
    alive = [line for line in ps if line.split()[1:2] == [str(proc.pid)] and not line.split()[2].startswith("Z")]
    assert not alive, alive  # (zombies wait for a reaper; they hold no resources)
    before = trial_rows(db)
    assert any(r["status"] == "running" for r in before.values())
    # Damage every checkpoint of one trial in flight, as a crash mid-write on shared storage could. The study must
    # still finish: that trial either restarts (when Ray's last snapshot holds no checkpoint of it) or errors alone,
    # naming the file.
    damaged = {}
    for tid, r in before.items():
        states = sorted((tmp_path / "smoke").glob(f"train_trial_{tid}_*/checkpoint_*/state.pt"))
        if r["status"] == "running" and states:
            for state in states:
                state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
            damaged[tid] = states
            break

    out = run_cli(*args, "--resume")
    assert out.returncode == 0, failed(out)
    # The killed driver's lease is taken over at once: it was on this host and its process is gone.
    assert f"lease: took study 'smoke' over from a driver that is gone (host {socket.gethostname()}, pid {proc.pid}, " \
           f"started " in out.stdout, out.stdout[-3000:]
    # A trial the killed driver started after Ray's last snapshot is unknown to the resumed run, whose searcher
    # proposes its configuration again: it ended with that driver, as interrupted, and only such a trial may.
    lost = {tid for tid, r in trial_rows(db).items() if r["status"] == "interrupted"}
    assert all(before[tid]["status"] == "running" for tid in lost), lost
    assert_consistent(db, max_epochs=3, may_error=frozenset(damaged), lost=frozenset(lost))
    after = {tid: r for tid, r in trial_rows(db).items() if tid not in lost}
    for tid in damaged:
        if tid in after and after[tid]["status"] == "errored":
            # it names what it could not load: our state file (damaged), or Ray's checkpoint folder, when the killed
            # driver's last snapshot pointed at one never written (seen once on an AMX CPU)
            err = after[tid]["error"]
            assert ("CheckpointError" in err and "state.pt" in err) or \
                ("does not exist on storage anymore" in err and "/checkpoint_" in err), err
    assert len(after) == 6  # every planned trial exactly once
    for tid, r in before.items():  # finished trials were not rerun
        if r["status"] in ("completed", "early_stopped"):
            assert after[tid]["ended_at"] == r["ended_at"]
    assert len(assert_optuna_agrees(db, killed=True)) == 6
    assert query(db, "select count(*) from ganrator_leases") == [(0,)]  # released as the resumed driver finished


@pytest.mark.slow
def test_multi_node_cluster(tmp_path):
    """A real two-node Ray cluster on this machine (two raylets), joined with --address; trials run on both."""
    # Every process of one cluster must agree on token authentication (Ray 2.60 enables it locally).
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    # In its own process: it reads the auth settings at start and stops only its own processes.
    cluster = subprocess.Popen([sys.executable, "-m", "tuning.local_cluster", "--nodes", "2"], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, **env})
    try:
        address = cluster.stdout.readline().strip()
        assert address, "the cluster did not start"
        out = run_cli("--space", "smoke", "--budget", "smoke", "--address", address,
                      "--storage-path", str(tmp_path), env=env)
        # Without --address a study starts its own Ray, even with this cluster recorded on the machine as the
        # last one started (ray.init's default would join it; 1 CPU per node there, 2 CPUs here).
        local = run_cli("--space", "smoke", "--budget", "smoke", "--num-samples", "1", "--max-epochs", "1",
                        "--grace-period", "1", "--no-confirm", "--storage-path", str(tmp_path / "local"))
    finally:
        cluster.stdin.close()
        cluster.wait(timeout=120)
    assert out.returncode == 0, failed(out)
    assert "ray: 2 node(s), 2 CPUs" in out.stdout
    assert local.returncode == 0 and "ray: 1 node(s), 2 CPUs" in local.stdout, local.stdout[-2000:] + local.stderr
    rows = assert_consistent(tmp_path / "smoke" / "trials.db", max_epochs=3)
    assert len({r["node"] for r in rows.values()}) == 2


def test_classical_study_end_to_end(tmp_path):
    out = run_cli("--space", "classical", "--budget", "smoke", "--storage-path", str(tmp_path), "--final-eval", "1")
    assert out.returncode == 0, failed(out)
    assert "fifo scheduler" in out.stdout  # no epochs, so no ASHA rungs
    db = tmp_path / "classical" / "trials.db"
    rows = assert_consistent(db, max_epochs=1, deep=False)
    assert len(rows) == 6 and all(r["status"] == "completed" and r["epochs"] == 1 for r in rows.values())
    assert all(0 < r["best_val_acc"] <= 1 for r in rows.values())  # learning itself: tests/claims.py
    assert '"classifier"' in next(iter(rows.values()))["config"]
    finals = query(db, "select test_acc, test_correct from ganrator_final_evals")
    assert len(finals) == 2 and all(0 < a <= 1 for a, _ in finals)
    # each run's per-image test correctness, for McNemar against a deep run on the same images (the headline)
    from tuning.db import unpack_mask

    for acc, mask in finals:
        correct = unpack_mask(mask, 10_000)
        assert correct.mean() == pytest.approx(acc)


def test_confirmation_end_to_end(smoke_study, tmp_path):
    """The smoke study's confirmation: every arm x seed once, on seeds no search trial used; a resume redoes none,
    also after the study's directory moved (Ray's pickled state holds the database path it started with)."""
    from tuning.db import unpack_mask

    shared, out = smoke_study
    db = tmp_path / "moved" / "smoke" / "trials.db"
    shutil.copytree(shared.parent.parent, db.parent.parent)
    arms = query(db, "select param, value, arm_key, is_reference, source from ganrator_confirm_arms")
    # aug_strength is continuous: 3 buckets, one of them the reference's
    assert [p for p, *_ in arms] == ["aug_strength"] * 3 and sum(r for *_, r, _ in arms) == 1
    for *_, source in arms:
        assert source.startswith("trial ") or source.startswith("reference with aug_strength = "), source
    # the confirmation says which arms are the reference with one value changed, or that none is
    fallback = [f"aug_strength = {v}" for _, v, _, _, source in arms if source.startswith("reference with")]
    if fallback:
        assert f"{len(fallback)} value(s) without a searched trial in the reference's slice" in out.stdout
        assert f"tuned for the reference's value: {', '.join(fallback)}" in out.stdout, out.stdout
    else:
        assert "confirmation: every arm is a searched trial of the reference's slice" in out.stdout
    keys = {k for _, _, k, _, _ in arms}
    runs = query(db, "select arm_key, seed, status, epochs, test_acc, test_correct from ganrator_confirm_runs")
    assert sorted((k, s) for k, s, *_ in runs) == sorted((k, s) for k in keys for s in (1000, 1001))
    fits = query(db, "select train_acc from ganrator_confirm_runs where status = 'completed'")
    assert fits and all(a is not None and 0 < a <= 1 for (a,) in fits)  # each run on its own training images
    search_seeds = {s for (s,) in query(db, "select distinct seed from ganrator_trials")}
    # the search's seed, and its leader repeats' own: none is a confirmation seed
    assert search_seeds - {0} <= {repeat_seed(0, k) for k in range(1, 5)}
    assert not search_seeds & {s for _, s, *_ in runs}
    # An arm far from the reference may diverge in 2 epochs (then it has no mask); the reference never does.
    ref_key = next(k for _, _, k, is_ref, _ in arms if is_ref)
    assert all(st == "completed" for k, _, st, *_ in runs if k == ref_key)
    for _, _, status, epochs, acc, mask in runs:
        assert status in ("completed", "diverged") and acc is not None
        if status == "completed":
            assert epochs == 2 and 0 < acc <= 1
            correct = unpack_mask(mask, 10_000)
            assert correct.mean() == pytest.approx(acc)  # the mask is the test accuracy, image by image
    assert "confirmation: " in out.stdout and "ETA" in out.stdout

    before = query(db, "select arm_key, seed, updated_at from ganrator_confirm_runs")
    # A final-evaluation run that crashed is recorded as errored, with no test accuracy: a resume runs it alone.
    kept = query(db, "select trial_id, seed, status, test_acc from ganrator_final_evals where seed = 1000")
    with sqlite3.connect(db) as conn:
        conn.execute("update ganrator_final_evals set status='errored', test_acc=NULL where seed=1001")
    # Retraining the arms for another length would mix run lengths in one confirmation: refused before Ray starts.
    studies = "select budget, updated_at from ganrator_studies"
    stored = query(db, studies)
    longer = run_cli("--space", "smoke", "--budget", "smoke", "--storage-path", str(db.parent.parent),
                     "--confirm", "--resume", "--confirm-epochs", "3")
    assert longer.returncode == 2 and "confirm_epochs = 2, this run asks for 3" in longer.stderr, longer.stderr
    assert "ray:" not in longer.stdout and query(db, studies) == stored
    hidden = shared.parent.parent.with_name("away")
    shared.parent.parent.rename(hidden)  # the old path is gone, as after a move
    try:  # and a third seed for every arm: the two done stay, the third is run and the budget records it
        again = run_cli("--space", "smoke", "--budget", "smoke", "--storage-path", str(db.parent.parent),
                        "--final-eval", "1", "--confirm", "--resume", "--confirm-seeds", "3")
    finally:
        hidden.rename(shared.parent.parent)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"= {len(keys) * 3} runs, {len(keys)} to do" in again.stdout and "(1 runs to do)" in again.stdout
    assert "3 fresh seeds per arm, up from the study's 2" in again.stdout
    assert json.loads(query(db, studies)[0][0])["confirm_seeds"] == 3
    assert query(db, "select arm_key, seed, updated_at from ganrator_confirm_runs where seed < 1002") == before
    assert sorted(k for k, in query(db, "select arm_key from ganrator_confirm_runs where seed = 1002")) == sorted(keys)
    (status, acc), = query(db, "select status, test_acc from ganrator_final_evals where seed = 1001")
    assert status == "completed" and 0 < acc <= 1
    assert query(db, "select trial_id, seed, status, test_acc from ganrator_final_evals where seed = 1000") == kept


def test_resume_without_ray_state_changes_nothing(smoke_study, tmp_path):
    db, _ = smoke_study
    before = query(db, "select status, updated_at, budget, command from ganrator_studies")
    out = run_rejected(tmp_path, "--space", "smoke", "--resume", "--db", str(db), "--storage-path", str(tmp_path))
    assert out.returncode == 2 and f"no Ray experiment state at {tmp_path}/smoke" in out.stderr
    assert "ray:" not in out.stdout  # refused before Ray started
    assert query(db, "select status, updated_at, budget, command from ganrator_studies") == before


def test_unreachable_database_is_one_line_with_the_password_masked(tmp_path):
    out = run_rejected(tmp_path, "--space", "smoke", "--db", "postgresql://someone:hunter2@127.0.0.1:1/study",
                       "--storage-path", str(tmp_path))
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "error: --db postgresql://someone:***@127.0.0.1:1/study: cannot open the trial database" in out.stderr
    assert "hunter2" not in out.stderr and "ray:" not in out.stdout


STEP_CROSS_SPACE = """
description: a step budget and a confirmed cross, tiny
scientific:
  data_fraction: {feasible_points: [0.5, 1.0]}
  aug_strength: {feasible_points: [0.0, 1.0]}
nuisance:
  lr: {min: 0.05, max: 0.2, scaling: log}
fixed:
  model: cnn
  cnn.width: 4
  batch_size: 128
  eval_batch_size: 2500
  steps: 12
confirm: {cross: [data_fraction, aug_strength]}
"""


def test_step_budget_study_with_a_confirmed_cross(tmp_path):
    """A space with a step budget runs FIFO (ASHA's epoch rungs would compare unequal compute), and every trial
    completes although the two data sizes need different epochs (550 images: 4 steps an epoch, 3 epochs;
    1,100: 8 steps an epoch, 2 epochs, the second cut short); the confirmation trains all 4 cells on 3 seeds, and
    the augmentation-by-size table of this real study has a paired interval in every cell."""
    space = tmp_path / "steps_cross.yaml"
    space.write_text(STEP_CROSS_SPACE)
    out = run_cli("--space", str(space), "--budget", "smoke", "--num-samples", "3", "--storage-path",
                  str(tmp_path), "--confirm", "--confirm-seeds", "3")
    assert out.returncode == 0, failed(out)
    assert "scheduler: fifo, not asha: space 'steps_cross' fixes steps = 12 per trial" in out.stdout
    db = tmp_path / "steps_cross" / "trials.db"
    rows = trial_rows(db)
    assert len(rows) == 3 and all(r["status"] == "completed" for r in rows.values()), rows
    for r in rows.values():
        assert r["epochs"] == {0.5: 3, 1.0: 2}[json.loads(r["params"])["data_fraction"]]
    arms = query(db, "select param, point from ganrator_confirm_arms")
    assert len(arms) == 4 and {p for p, _ in arms} == {"data_fraction x aug_strength"}
    runs = query(db, "select status, epochs, train_acc, config, data_fraction from ganrator_confirm_runs")
    assert len(runs) == 12 and all(st == "completed" and 0 < fit <= 1 for st, _, fit, _, _ in runs)
    assert sorted(e for _, e, *_ in runs) == [2] * 6 + [3] * 6 and all('"steps": 12' in c for _, _, _, c, _ in runs)
    # each run's row holds the data fraction it trained on (the smoke budget's share times the cell's), and the
    # confirmation says how long its runs train: the space's steps, not the budget's epochs
    assert sorted(f for *_, f in runs) == [0.01] * 6 + [0.02] * 6
    assert all(json.loads(c)["data_fraction"] == f for _, _, _, c, f in runs)
    assert "retrained without early stopping for the space's 12 optimizer steps on each arm's data fraction" \
        in out.stdout
    from analysis.stats.cross import AUG_BY_SIZE, confirmed_cross
    from analysis.load import load_confirmation, load_study

    table = confirmed_cross(*load_confirmation(load_study(db)), AUG_BY_SIZE)
    cells = table[table["aug_strength"] != 0.0]
    assert len(cells) == 2 and all(n == 3 for n in cells["n"]), table
    assert np.isfinite(cells["diff_low"]).all() and np.isfinite(cells["diff_high"]).all(), table
    assert (cells["diff_low"] <= cells["diff_mean"]).all() and (cells["diff_mean"] <= cells["diff_high"]).all()


IDLE_SPACE = """
description: equal trials, to see a slot go idle at the end
scientific:
  aug_strength: {feasible_points: [0.0, 0.5]}
nuisance:
  lr: {min: 0.05, max: 0.2, scaling: log}
fixed:
  model: cnn
  cnn.width: 8
  batch_size: 128
  eval_batch_size: 1000
"""


def test_a_finished_search_lends_idle_cores_to_the_running_trial(tmp_path):
    """3 equal trials, 2 at once, no early stopping: the third starts when one of the first two ends and runs on
    alone once the other ends, with nothing left to propose. From then its epochs run with the idle slot's core
    too (2 threads), at least for the epochs that try the loan (tests/test_idle_cores.py: it keeps them only if
    they train faster); no epoch ran with more threads than its CPUs while another trial of the study ran."""
    space = tmp_path / "idle.yaml"
    space.write_text(IDLE_SPACE)
    out = run_cli("--space", str(space), "--budget", "smoke", "--num-samples", "3", "--max-epochs", "8",
                  "--scheduler", "fifo", "--sampler", "random", "--max-concurrent", "2", "--cpus-per-trial", "1",
                  "--storage-path", str(tmp_path), "--no-confirm")
    assert out.returncode == 0, failed(out)
    db = tmp_path / "idle" / "trials.db"
    rows = trial_rows(db)
    assert len(rows) == 3 and all(r["status"] == "completed" for r in rows.values()), rows
    last = max(rows, key=lambda t: rows[t]["started_at"])
    others_ended = max(r["ended_at"] for t, r in rows.items() if t != last)
    epochs = query(db, "select trial_id, epoch, threads, timestamp - epoch_seconds from ganrator_epochs")
    assert len(epochs) == 24 and all(threads in (1, 2) for _, _, threads, _ in epochs), epochs
    lent = [(t, e, began) for t, e, threads, began in epochs if threads == 2]
    assert lent and {t for t, _, _ in lent} == {last}, epochs
    # the driver lends only after it saw the other trial end; the epoch began after that (ended_at is written
    # in the same driver step, so allow for the write)
    assert all(began >= others_ended - 1.0 for *_, began in lent), (lent, others_ended)
