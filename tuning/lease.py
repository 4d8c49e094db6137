"""One driver per study: a lease row in the trial database (ganrator_leases), taken atomically on the database's
clock before Ray starts, renewed by a heartbeat thread through the search, confirmation and final evaluation, and
deleted when the driver exits cleanly.

A second driver is refused, naming the holder. A holder on this host whose process is gone (a killed driver) is
taken over at once, so `--resume` after a crash needs no flag; a holder on another host only once its heartbeat is
older than its timeout, since this host cannot see whether it still runs. A holder that finds its row taken, or
cannot renew it for its timeout, stops at once (fencing): the study is another driver's by then, and anything it
wrote on the way out (interrupted trials, the study's status, Ray's experiment state) would be written over that
driver's.
"""
from __future__ import annotations

import os
import secrets
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import sqlalchemy as sa

from tuning.db import driver_message, leases

TIMEOUT_ENV = "GANRATOR_LEASE_TIMEOUT_S"  # tests shorten it; a holder's own value is stored in its row
DEFAULT_TIMEOUT_S = 60.0
BEATS_PER_TIMEOUT = 6  # renewals within one timeout: a few may fail (a busy database) before the lease is lost
LOST_EXIT = 3  # the exit code of a driver that lost its lease


def timeout_s() -> float:
    """The lease timeout of this driver: GANRATOR_LEASE_TIMEOUT_S, else 60 s. ValueError names a bad value."""
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise ValueError(f"{TIMEOUT_ENV}={raw!r}: the lease timeout must be a number of seconds > 0")
    return value


def db_now(dialect: str) -> sa.ColumnElement:
    """The database server's clock in seconds since the epoch: drivers on several hosts compare heartbeats on one
    clock. SQLite has no server; its clock is that of the host writing the file."""
    if dialect == "sqlite":
        return sa.literal_column("((julianday('now') - 2440587.5) * 86400.0)", sa.Float)
    if dialect == "postgresql":  # clock_timestamp(), not now(): now() is the transaction's start
        return sa.literal_column("CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)", sa.Float)
    if dialect in ("mysql", "mariadb"):
        return sa.literal_column("UNIX_TIMESTAMP(NOW(6))", sa.Float)
    return sa.literal(time.time(), sa.Float)  # another database: this host's clock


def process_gone(pid: int | None) -> bool:
    """Whether no process `pid` runs on this host. A zombie (killed, not yet reaped) is gone; so is this very
    process's pid in someone else's row (an earlier driver whose pid this one reuses, e.g. pid 1 in a container)."""
    if not pid or pid < 1 or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")


@dataclass(frozen=True)
class Holder:
    """The driver a lease row names, and how long ago (on the database's clock) it last renewed it."""
    hostname: str
    pid: int
    started_at: float
    silent_s: float
    timeout_s: float

    def __str__(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started_at))
        return f"host {self.hostname}, pid {self.pid}, started {started}"


class LeaseHeld(Exception):
    """Another driver runs the study: the message names it and says when this one may start."""


class Lease:
    """The study's lease, for this driver. take() takes it (or raises LeaseHeld) and starts the heartbeat;
    release() stops the heartbeat and deletes the row. on_lost(reason) runs on the heartbeat's thread when the lease
    is lost; by default (the driver's) it prints the reason and exits at once."""

    def __init__(self, url: str, study: str, timeout: float | None = None,
                 on_lost: Callable[[str], None] | None = None):
        self.study = study
        self.timeout = timeout_s() if timeout is None else timeout
        self.interval = self.timeout / BEATS_PER_TIMEOUT
        self.token = secrets.token_hex(16)
        self.hostname = socket.gethostname()
        self.on_lost = on_lost or stop_driver
        self.engine = _engine(url, busy_s=self.interval)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self) -> Holder | None:
        """Take the lease: None when it was free, the holder that was taken over when that driver is gone (this
        host) or silent past its timeout (any host). LeaseHeld when it runs. One transaction each try, the row
        locked (SQLite: BEGIN IMMEDIATE, PostgreSQL: FOR UPDATE) and replaced only if still the holder's, so of two
        drivers racing exactly one wins; the loser reads the winner's row and is refused."""
        for _ in range(5):
            try:
                with self.engine.begin() as conn:
                    taken, holder = self._try_take(conn)
            except sa.exc.IntegrityError:
                continue  # another driver inserted the row between our read and our insert: read it again
            if taken:  # committed: from now on the row is this driver's to renew
                self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)
                self._thread.start()
                return holder
        raise LeaseHeld(f"study {self.study!r}: its lease changed hands five times while this driver tried to take "
                        f"it; try again")

    def _try_take(self, conn: sa.Connection) -> tuple[bool, Holder | None]:
        """One try in `conn`'s transaction: (taken, the holder replaced or None)."""
        row = conn.execute(sa.select(leases).where(leases.c.study == self.study).with_for_update()).mappings().first()
        now = conn.execute(sa.select(self._now())).scalar_one()  # after the wait for the row's lock
        mine = {"token": self.token, "hostname": self.hostname, "pid": os.getpid(), "started_at": now,
                "heartbeat_at": now, "timeout_s": self.timeout}
        if row is None:
            conn.execute(leases.insert().values(study=self.study, **mine))
            return True, None
        holder = Holder(row["hostname"], row["pid"], row["started_at"], now - (row["heartbeat_at"] or 0.0),
                        row["timeout_s"] or self.timeout)
        if not self._replaceable(holder):
            raise LeaseHeld(self._refusal(holder))
        replaced = conn.execute(leases.update().where((leases.c.study == self.study) & (leases.c.token == row["token"]))
                                .values(**mine))
        return replaced.rowcount == 1, holder

    def _now(self) -> sa.ColumnElement:
        return db_now(self.engine.dialect.name)

    def _replaceable(self, holder: Holder) -> bool:
        return holder.silent_s > holder.timeout_s or (holder.hostname == self.hostname and process_gone(holder.pid))

    def _refusal(self, holder: Holder) -> str:
        text = (f"study {self.study!r} is run by another driver: {holder} (last heartbeat {holder.silent_s:.0f} s "
                f"ago)")
        if holder.hostname == self.hostname:
            return f"{text}; wait for it to end, or stop it"
        return (f"{text}; a driver on another host is taken over once it has sent no heartbeat for "
                f"{holder.timeout_s:g} s (in {holder.timeout_s - holder.silent_s:.0f} s)")

    def _beat(self) -> None:
        """Renew the row every interval. Lost: the row is gone or another driver's, or no renewal succeeded for the
        timeout less two intervals. A renewal waits at most an interval, so the last check that could find the lease
        lost ends before the timeout, when another driver may see the row as stale and take it over."""
        renewed = time.monotonic()
        while not self._stop.wait(self.interval):
            sent = time.monotonic()
            try:
                with self.engine.begin() as conn:
                    kept = conn.execute(leases.update().where((leases.c.study == self.study)
                                                              & (leases.c.token == self.token))
                                        .values(heartbeat_at=self._now())).rowcount
                    holder = None if kept else conn.execute(
                        sa.select(leases, (self._now() - leases.c.heartbeat_at).label("silent_s"))
                        .where(leases.c.study == self.study)).mappings().first()
            except (sa.exc.SQLAlchemyError, OSError) as e:
                if time.monotonic() - renewed > self.timeout - 2 * self.interval:
                    return self._lose(f"could not renew the lease of study {self.study!r} for "
                                      f"{time.monotonic() - renewed:.0f} s ({driver_message(e)}), and another driver "
                                      f"may take the study over after {self.timeout:g} s")
                continue
            if kept:
                renewed = sent
                continue
            if holder is None:
                return self._lose(f"the lease of study {self.study!r} was deleted by someone else")
            taker = Holder(holder["hostname"], holder["pid"], holder["started_at"], holder["silent_s"],
                           holder["timeout_s"])
            return self._lose(f"study {self.study!r} was taken over by another driver: {taker}")

    def _lose(self, reason: str) -> None:
        if not self._stop.is_set():
            self.on_lost(reason)

    def release(self) -> None:
        """Stop the heartbeat and delete the row if it is still this driver's (a clean exit)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        try:
            with self.engine.begin() as conn:
                conn.execute(leases.delete().where((leases.c.study == self.study) & (leases.c.token == self.token)))
        except (sa.exc.SQLAlchemyError, OSError) as e:
            print(f"warning: could not release the lease of study {self.study!r} ({driver_message(e)}); the next "
                  f"driver on this host takes it over at once", file=sys.stderr)
        finally:
            self.engine.dispose()


def stop_driver(reason: str) -> None:
    """The driver's response to a lost lease: one line, then exit at once, writing nothing more (no trial closed as
    interrupted, no study status, no final Ray experiment state: all the new holder's now). A local Ray instance
    ends with it: its GCS and raylet die with the thread that started them, the trials' workers with the raylet."""
    print(f"error: {reason}; this driver stops here, keeping what it wrote", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(LOST_EXIT)


def _engine(url: str, busy_s: float) -> sa.Engine:
    """An engine of the lease's own, whose statements wait for a lock at most `busy_s` (a heartbeat interval), so a
    renewal never blocks past the timeout. SQLite: transactions begin with BEGIN IMMEDIATE, which takes the write
    lock before the read, so two drivers' takes run one after the other."""
    if url.startswith("postgresql"):  # a row lock held elsewhere fails a renewal after one interval, not never
        wait_ms = int(busy_s * 1000)
        return sa.create_engine(url, pool_pre_ping=True,
                                connect_args={"options": f"-c lock_timeout={wait_ms} -c statement_timeout={wait_ms}"})
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"timeout": busy_s})

    @sa.event.listens_for(engine, "connect")
    def _no_driver_begin(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # the driver's implicit BEGIN is deferred; ours follows

    @sa.event.listens_for(engine, "begin")
    def _begin_immediate(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
