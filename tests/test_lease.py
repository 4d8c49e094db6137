"""One driver per study (tuning/lease.py). On SQLite and a real PostgreSQL server: of drivers racing for a study
exactly one takes it, and a holder whose row is taken, or that cannot renew it, stops. Through the real driver: a
second driver is refused naming the first, a driver that lost its lease stops at once and writes nothing more, and
another host's lease is waited for, then taken over. (A killed driver's lease, taken over at once by --resume:
test_tuning.test_killed_driver_then_resume_runs_every_trial_once; a lease released as a study finishes:
test_postgres.test_study_on_postgresql and that test.)"""
from __future__ import annotations

import multiprocessing
import os
import queue
import re
import signal
import socket
import subprocess
import time

import pytest
import sqlalchemy as sa

from test_tuning import ROOT, RUN, SLOW_TRIALS, query, run_rejected, wait_for
from tuning.db import TrialDB, leases
from tuning.lease import TIMEOUT_ENV, Lease, LeaseHeld, db_now

STARTED = r"started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A trial database with its tables, on either backend; the PostgreSQL server is shared, so its leases go."""
    url = f"sqlite:///{tmp_path / 'trials.db'}" if request.param == "sqlite" else request.getfixturevalue(
        "postgres_url")
    TrialDB(url)
    yield url
    forget(url)


def forget(url: str) -> None:
    """Delete every lease (the PostgreSQL server serves every test of the session)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(leases.delete())
    engine.dispose()


def plant(url: str, study: str, silent_s: float, **values) -> None:
    """Another driver's row, on the database's clock: its last heartbeat `silent_s` ago."""
    engine = sa.create_engine(url)
    now = db_now(engine.dialect.name)
    row = {"token": "other", "hostname": "elsewhere", "pid": 4242, "timeout_s": 60.0, **values,
           "started_at": now - silent_s - 30, "heartbeat_at": now - silent_s}
    with engine.begin() as conn:
        if conn.execute(leases.update().where(leases.c.study == study).values(**row)).rowcount == 0:
            conn.execute(leases.insert().values(study=study, **row))
    engine.dispose()


def holder(url: str, study: str) -> dict | None:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(sa.select(leases).where(leases.c.study == study)).mappings().first()
    engine.dispose()
    return dict(row) if row else None


def _contend(url: str, study: str, start, done, results) -> None:
    """One driver of a race: take the lease when all are ready; the winner holds it until every one has tried."""
    lease = Lease(url, study, timeout=60)
    start.wait()
    try:
        lease.take()
        results.put(("took", os.getpid()))
    except LeaseHeld as e:
        results.put(("refused", str(e)))
    done.wait()
    lease.release()


@pytest.mark.parametrize("row", ["none", "silent"])
def test_of_drivers_racing_for_a_study_exactly_one_takes_it(url, row):
    """Four processes take the same lease at once, when there is no row and when the row is another host's gone
    silent past its timeout (each then replaces it): one wins, the three others are refused naming the winner."""
    if row == "silent":
        plant(url, "race", silent_s=120)
    ctx = multiprocessing.get_context("fork")
    start, done, results = ctx.Barrier(4), ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(url, "race", start, done, results)) for _ in range(4)]
    for p in procs:
        p.start()
    try:
        outcomes = [results.get(timeout=60) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
    winners = [pid for what, pid in outcomes if what == "took"]
    assert len(winners) == 1, outcomes
    for what, message in outcomes:
        if what == "refused":
            assert re.fullmatch(rf"study 'race' is run by another driver: host {re.escape(socket.gethostname())}, "
                                rf"pid {winners[0]}, {STARTED} \(last heartbeat \d+ s ago\); wait for it to end, "
                                rf"or stop it", message), message
    assert holder(url, "race") is None  # the winner released it


@pytest.mark.parametrize("how", ["taken", "locked"])
def test_a_holder_that_loses_its_lease_is_told_within_its_timeout(url, how):
    """taken: another driver replaced the row. locked: the row cannot be renewed (a lock held elsewhere, for longer
    than the timeout), so another driver may take it over: the holder stops before it could."""
    lost = queue.Queue()
    lease = Lease(url, "fenced", timeout=1.5, on_lost=lost.put)
    assert lease.take() is None
    t0 = time.monotonic()
    if how == "taken":
        plant(url, "fenced", silent_s=0)
        reason = lost.get(timeout=10)
        assert re.fullmatch(rf"study 'fenced' was taken over by another driver: host elsewhere, pid 4242, {STARTED}",
                            reason), reason
    else:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":  # a write holds the file's write lock until the transaction ends
                conn.execute(leases.update().where(leases.c.study == "fenced").values(pid=os.getpid()))
            else:
                conn.execute(sa.select(leases).where(leases.c.study == "fenced").with_for_update())
            reason = lost.get(timeout=10)
        engine.dispose()
        assert reason.startswith("could not renew the lease of study 'fenced' for "), reason
        assert reason.endswith("and another driver may take the study over after 1.5 s"), reason
    assert time.monotonic() - t0 < 1.5 + 1.0  # within the timeout (and some scheduling on a busy machine)
    lease.release()
    if how == "taken":  # not deleted: it is the other driver's
        assert holder(url, "fenced")["token"] == "other"


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_another_hosts_lease_is_waited_for_then_taken_over(backend, tmp_path, request):
    """A lease of a driver on another host. With a recent heartbeat: refused in one line naming it, although its
    pid means nothing here (no such process on this host). Silent past its timeout: taken over, and said; this run
    then stops at its next check (--resume of a study that was never recorded) and releases the lease as it exits.
    Both before Ray starts."""
    url = f"sqlite:///{tmp_path / 'smoke' / 'trials.db'}"
    if backend == "sqlite":
        (tmp_path / "smoke").mkdir()
    else:
        url = request.getfixturevalue("postgres_url")
    TrialDB(url)
    gone = _dead_pid()
    flags = ["--space", "smoke", "--budget", "smoke", "--db", url, "--storage-path", str(tmp_path), "--resume"]
    try:
        plant(url, "smoke", silent_s=5, pid=gone)
        live = run_rejected(tmp_path, *flags)
        assert holder(url, "smoke")["token"] == "other"
        plant(url, "smoke", silent_s=61, pid=gone)
        silent = run_rejected(tmp_path, *flags)
        assert holder(url, "smoke") is None
    finally:
        if backend == "postgresql":
            forget(url)
    assert live.returncode == 2 and len(live.stderr.strip().splitlines()) == 1, live.stderr
    m = re.fullmatch(rf"error: study 'smoke' is run by another driver: host elsewhere, pid {gone}, {STARTED} "
                     rf"\(last heartbeat (\d+) s ago\); a driver on another host is taken over once it has sent no "
                     rf"heartbeat for 60 s \(in (\d+) s\)", live.stderr.strip())
    assert m and 5 <= int(m[1]) < 30 and abs(int(m[1]) + int(m[2]) - 60) <= 1, live.stderr
    m = re.fullmatch(rf"lease: took study 'smoke' over from a driver silent for (\d+) s, past its 60 s timeout "
                     rf"\(host elsewhere, pid {gone}, {STARTED}\)", silent.stdout.strip())
    assert m and 61 <= int(m[1]) < 90, silent.stdout
    assert silent.returncode == 2 and "--resume: no study 'smoke'" in silent.stderr, silent.stderr


def test_a_second_driver_is_refused_and_one_that_lost_its_lease_stops(tmp_path):
    """The reported case: a study, then the same --name with --resume in a second shell while it runs. Then the
    lease is taken from the first driver (as by a driver on another host once this one had gone silent): it stops
    at once, writing nothing more, and its local Ray goes with it."""
    args = [*SLOW_TRIALS, "--num-samples", "4", "--max-concurrent", "2", "--storage-path", str(tmp_path)]
    proc = subprocess.Popen([*RUN, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, TIMEOUT_ENV: "3"})
    db = tmp_path / "smoke" / "trials.db"
    try:
        wait_for(lambda: query(db, "select count(*) from ganrator_epochs")[0][0] >= 1, 240, "a first epoch")
        second = run_rejected(tmp_path, *args, "--resume")
        assert second.returncode == 2 and len(second.stderr.strip().splitlines()) == 1, second.stderr
        assert re.fullmatch(rf"error: study 'smoke' is run by another driver: host "
                            rf"{re.escape(socket.gethostname())}, pid {proc.pid}, {STARTED} \(last heartbeat [0-2] s "
                            rf"ago\); wait for it to end, or stop it", second.stderr.strip()), second.stderr
        plant(f"sqlite:///{db}", "smoke", silent_s=0)
        output, errors = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 3, output[-2000:] + errors[-3000:]
    assert re.search(rf"^error: study 'smoke' was taken over by another driver: host elsewhere, pid 4242, {STARTED}; "
                     rf"this driver stops here, keeping what it wrote$", errors, re.M), errors[-3000:]
    assert "Traceback" not in errors
    # Nothing written on the way out: no trial closed as interrupted, the study still the other driver's to run.
    assert query(db, "select status from ganrator_studies") == [("running",)]
    assert not query(db, "select trial_id from ganrator_trials where status = 'interrupted'")
    assert holder(f"sqlite:///{db}", "smoke")["token"] == "other"
    # The local Ray's GCS and raylet die with the driver (their parent-death signal), the trials' workers with the
    # raylet. Its node agents notice too, but first try to tell the dead GCS, for up to a minute; they train nothing.
    time.sleep(2)
    ps = subprocess.run(["ps", "-eo", "pgid=,stat=,args="], capture_output=True, text=True).stdout.splitlines()
    alive = [line.split(None, 2)[2] for line in ps if line.split()[0] == str(proc.pid) and line.split()[1][0] != "Z"]
    assert set(alive) <= {"ray::DashboardAgent", "ray::RuntimeEnvAgent"}, alive


@pytest.mark.parametrize("raw", ["0", "-5", "soon", "inf", "nan"])
def test_a_bad_lease_timeout_names_the_variable(raw, monkeypatch):
    from tuning.lease import timeout_s

    monkeypatch.setenv(TIMEOUT_ENV, raw)
    with pytest.raises(ValueError, match=rf"^GANRATOR_LEASE_TIMEOUT_S='{raw}': the lease timeout must be a number of "
                                         rf"seconds > 0$"):
        timeout_s()
    monkeypatch.setenv(TIMEOUT_ENV, "2.5")
    assert timeout_s() == 2.5
