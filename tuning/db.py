"""The trial database: the project's own tables beside Optuna's, in one SQLite file or any SQLAlchemy URL.

Rows are upserted by (study, trial_id[, epoch]), so replaying a result after a resume never counts it twice.
No Ray import here: analysis reads these tables too.
"""
from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()
# Trial statuses that never change again; a resume skips these trials. `interrupted` is not one: --resume continues
# it from its checkpoint. `cut` is: the time cap left it TERMINATED in Ray's experiment state (and the search
# finished), so Tuner.restore would not run it again; it keeps the epochs it reached. tuning/states.py decides them.
TERMINAL = ("completed", "early_stopped", "diverged", "errored", "cut")

studies = sa.Table(
    "ganrator_studies", metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("space", sa.String(200)), sa.Column("kind", sa.String(20)), sa.Column("description", sa.Text),
    sa.Column("roles", sa.JSON), sa.Column("budget", sa.JSON), sa.Column("search", sa.JSON),
    sa.Column("command", sa.Text), sa.Column("git_commit", sa.String(64)), sa.Column("versions", sa.JSON),
    sa.Column("hardware", sa.JSON), sa.Column("status", sa.String(20)),
    sa.Column("created_at", sa.Float), sa.Column("updated_at", sa.Float),
    # the driver's fixed start-up of its latest run, seconds: {"imports", "search_imports", "data", "searcher",
    # "ray_init" (the wait for Ray left once the search imports, the data and the searcher, which overlap its
    # start, were done), "ready_at"}
    sa.Column("startup", sa.JSON),
)
trials = sa.Table(
    "ganrator_trials", metadata,
    sa.Column("study", sa.String(200), primary_key=True), sa.Column("trial_id", sa.String(64), primary_key=True),
    sa.Column("params", sa.JSON), sa.Column("roles", sa.JSON), sa.Column("config", sa.JSON),
    # running | completed | early_stopped (by ASHA, at `rung` epochs) | diverged | errored | cut (by the search's
    # time cap) | interrupted (by SIGINT/SIGTERM; --resume continues it)
    sa.Column("status", sa.String(20)), sa.Column("epochs", sa.Integer), sa.Column("max_epochs", sa.Integer),
    sa.Column("rung", sa.Integer),
    sa.Column("best_val_acc", sa.Float), sa.Column("last_val_acc", sa.Float), sa.Column("test_acc", sa.Float),
    sa.Column("wall_time", sa.Float), sa.Column("cpus", sa.Float), sa.Column("gpus", sa.Float),
    sa.Column("node", sa.String(100)), sa.Column("hostname", sa.String(200)), sa.Column("pid", sa.Integer),
    sa.Column("seed", sa.Integer), sa.Column("param_count", sa.BigInteger), sa.Column("flops", sa.Float),
    sa.Column("failures", sa.Integer), sa.Column("error", sa.Text),
    # recorded at every ASHA rung, never stopped: the unbiased sample for the fidelity check
    sa.Column("calibration", sa.Boolean),
    sa.Column("git_commit", sa.String(64)), sa.Column("versions", sa.JSON),
    sa.Column("started_at", sa.Float), sa.Column("ended_at", sa.Float),
    # Where a trial's time outside its epochs went (timestamps in seconds since the epoch, the rest in seconds).
    # queued_at: the searcher proposed the trial (Tune creates it then); started_at: an actor (new or reused) took it; entered_at: the trial
    # function began. import_seconds: the worker's imports (its first trial only); data_seconds: the dataset
    # mapped into tensors; setup_seconds: model and optimizer built; report_seconds: inside Tune's report
    # (checkpoint upload, the driver's bookkeeping); db_seconds, search_seconds: the driver writing this trial's
    # rows, and the searcher (Optuna) proposing and recording it. Epoch-level parts: ganrator_epochs.
    sa.Column("queued_at", sa.Float), sa.Column("entered_at", sa.Float),
    sa.Column("import_seconds", sa.Float), sa.Column("data_seconds", sa.Float), sa.Column("setup_seconds", sa.Float),
    sa.Column("report_seconds", sa.Float), sa.Column("db_seconds", sa.Float), sa.Column("search_seconds", sa.Float),
)
epochs = sa.Table(
    "ganrator_epochs", metadata,
    sa.Column("study", sa.String(200), primary_key=True), sa.Column("trial_id", sa.String(64), primary_key=True),
    sa.Column("epoch", sa.Integer, primary_key=True),
    sa.Column("train_loss", sa.Float), sa.Column("val_loss", sa.Float), sa.Column("val_acc", sa.Float),
    sa.Column("lr", sa.Float), sa.Column("epoch_seconds", sa.Float), sa.Column("images_per_second", sa.Float),
    sa.Column("time_total", sa.Float), sa.Column("timestamp", sa.Float),
    # epoch_seconds = train_seconds (the steps) + val_seconds (the whole validation set); checkpoint_seconds: the
    # training state written after it
    sa.Column("train_seconds", sa.Float), sa.Column("val_seconds", sa.Float), sa.Column("checkpoint_seconds", sa.Float),
    sa.Column("threads", sa.Integer),  # torch's CPU threads; more than the trial's CPUs when idle cores were lent
)
final_evals = sa.Table(
    "ganrator_final_evals", metadata,
    sa.Column("study", sa.String(200), primary_key=True), sa.Column("trial_id", sa.String(64), primary_key=True),
    sa.Column("seed", sa.Integer, primary_key=True),
    sa.Column("rank", sa.Integer), sa.Column("config", sa.JSON), sa.Column("status", sa.String(20)),
    sa.Column("epochs", sa.Integer), sa.Column("val_acc", sa.Float), sa.Column("test_acc", sa.Float),
    sa.Column("wall_time", sa.Float),
    # accuracy on the run's own training images, unaugmented, after its last epoch: did the run fit its set?
    sa.Column("train_acc", sa.Float),
    sa.Column("test_correct", sa.Text),  # as in ganrator_confirm_runs: paired tests against other runs' images
)

# The confirmation stage (tuning/confirm.py): per scientific parameter, one arm per value, each retrained on
# fresh seeds shared by every arm. An arm row names its configuration by `arm_key`; arms with the same
# configuration (the reference appears under every parameter) share one set of runs.
confirm_arms = sa.Table(
    "ganrator_confirm_arms", metadata,
    sa.Column("study", sa.String(200), primary_key=True), sa.Column("param", sa.String(200), primary_key=True),
    sa.Column("value", sa.String(200), primary_key=True),  # the feasible point, or a bucket of a continuous one
    sa.Column("position", sa.Integer),  # order of the value in the space (feasible points, buckets low to high)
    sa.Column("point", sa.JSON),  # the parameter's value in the arm's configuration
    sa.Column("arm_key", sa.String(64)), sa.Column("is_reference", sa.Boolean),
    sa.Column("source", sa.Text), sa.Column("source_trial", sa.String(64)), sa.Column("source_rung", sa.Integer),
    sa.Column("config", sa.JSON),  # sampled parameters, as a trial's `params`
    sa.Column("updated_at", sa.Float),
)
confirm_runs = sa.Table(
    "ganrator_confirm_runs", metadata,
    sa.Column("study", sa.String(200), primary_key=True), sa.Column("arm_key", sa.String(64), primary_key=True),
    sa.Column("seed", sa.Integer, primary_key=True),
    sa.Column("status", sa.String(20)), sa.Column("epochs", sa.Integer), sa.Column("data_fraction", sa.Float),
    sa.Column("val_acc", sa.Float), sa.Column("test_acc", sa.Float),
    sa.Column("train_acc", sa.Float),  # as in ganrator_final_evals
    sa.Column("test_correct", sa.Text),  # pack_mask of the per-image test correctness, in test-set order
    sa.Column("config", sa.JSON), sa.Column("wall_time", sa.Float), sa.Column("error", sa.Text),
    sa.Column("updated_at", sa.Float),
)

# One driver per study (tuning/lease.py): the row of the driver running it now, deleted when it exits cleanly. Times
# are the database server's clock, in seconds since the epoch, so drivers on hosts whose clocks differ agree on them.
leases = sa.Table(
    "ganrator_leases", metadata,
    sa.Column("study", sa.String(200), primary_key=True),
    sa.Column("token", sa.String(64), nullable=False),  # random per driver: only its holder renews or releases it
    sa.Column("hostname", sa.String(200)), sa.Column("pid", sa.Integer),
    sa.Column("started_at", sa.Float),  # when this driver took the lease
    sa.Column("heartbeat_at", sa.Float),
    sa.Column("timeout_s", sa.Float),  # the holder's: its lease is free once its heartbeat is this old
)


# A planned study (tuning/study.py): the plan it ran under, one row per (configuration, seed) run, one per part.
plans = sa.Table(
    "ganrator_plans", metadata,
    sa.Column("study", sa.String(200), primary_key=True), sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("path", sa.Text), sa.Column("text", sa.Text),
    sa.Column("commit", sa.String(64)),  # the commit that last changed the plan file (None: not in a repository)
    sa.Column("committed_at", sa.Float),  # that commit's time
    sa.Column("first_run_at", sa.Float),  # when a run under this plan first started
    sa.Column("amendment", sa.Text),  # why the plan changed after the study began (None for the first plan)
)
plan_runs = sa.Table(
    "ganrator_plan_runs", metadata,
    sa.Column("study", sa.String(200), primary_key=True), sa.Column("job_key", sa.String(40), primary_key=True),
    sa.Column("family", sa.String(20)), sa.Column("arm", sa.String(100)), sa.Column("purpose", sa.String(20)),
    sa.Column("size", sa.Integer), sa.Column("steps", sa.Integer), sa.Column("epochs", sa.Integer),
    sa.Column("params", sa.JSON), sa.Column("seed", sa.Integer), sa.Column("data_seed", sa.Integer),
    sa.Column("status", sa.String(20)),  # completed | diverged | errored
    sa.Column("val_acc", sa.Float), sa.Column("test_acc", sa.Float),
    sa.Column("train_acc", sa.Float),  # on the run's own training images, unaugmented: did it fit them?
    sa.Column("test_correct", sa.Text),  # pack_mask of per-image test correctness (confirmation runs)
    sa.Column("wall_time", sa.Float), sa.Column("cpu_seconds", sa.Float), sa.Column("threads", sa.Integer),
    sa.Column("numerics", sa.String(10)),  # bf16 | fp32
    sa.Column("hostname", sa.String(200)), sa.Column("cpu", sa.Text), sa.Column("part", sa.Integer),
    sa.Column("plan_sha256", sa.String(64)),
    sa.Column("started_at", sa.Float), sa.Column("ended_at", sa.Float), sa.Column("error", sa.Text),
)
plan_parts = sa.Table(
    "ganrator_plan_parts", metadata,
    sa.Column("study", sa.String(200), primary_key=True), sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("started_at", sa.Float), sa.Column("ended_at", sa.Float),
    sa.Column("hostname", sa.String(200)), sa.Column("cpu", sa.Text), sa.Column("cpu_flags", sa.Text),
    sa.Column("cores", sa.Integer), sa.Column("parallel", sa.Integer),
    sa.Column("runs_done", sa.Integer), sa.Column("runs_left", sa.Integer),  # runs left that the plan could name then
    sa.Column("busy_seconds", sa.Float),  # summed wall time of the runs this part finished
    sa.Column("command", sa.Text), sa.Column("git_commit", sa.String(64)), sa.Column("status", sa.String(20)),
)


# Early stopping's fidelity rule (tuning/schedulers.py, tuning.fidelity.RULE), decided once per study when the
# calibration trials have ended: per model and rung, whether that rung stopped trials or promoted every one.
rung_decisions = sa.Table(
    "ganrator_rung_decisions", metadata,
    sa.Column("study", sa.String(200), primary_key=True), sa.Column("model", sa.String(100), primary_key=True),
    sa.Column("rung", sa.Integer, primary_key=True),  # epochs
    sa.Column("last_epoch", sa.Integer),
    sa.Column("calibration_trials", sa.Integer),  # the model's completed calibration trials the rule read
    sa.Column("spearman", sa.Float), sa.Column("ci_low", sa.Float), sa.Column("ci_high", sa.Float),
    sa.Column("stops", sa.Boolean),  # False: every trial of the model is promoted past this rung
    sa.Column("reason", sa.Text), sa.Column("decided_at", sa.Float),
)


def pack_mask(mask) -> str:
    """A boolean vector as base64 text of its packed bits (10,000 test images: 1,668 characters)."""
    import base64

    import numpy as np

    return base64.b64encode(np.packbits(np.asarray(mask, dtype=bool)).tobytes()).decode("ascii")


def unpack_mask(text: str, n: int):
    """The inverse of pack_mask: a numpy bool vector of length n."""
    import base64

    import numpy as np

    bits = np.unpackbits(np.frombuffer(base64.b64decode(text), dtype=np.uint8))
    return bits[:n].astype(bool)


# A study name becomes a folder (<storage>/<name>, reports/<name>) and file names: it must not be a path.
# It must not start with '.' (hidden, or `..`) nor '-' (read as a flag in the commands we print).
STUDY_NAME_RULE = "1 to 100 of letters, digits, '.', '_' and '-', starting with a letter, digit or '_'"
_STUDY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}", re.ASCII)


def study_name_problem(name: str) -> str | None:
    """Why `name` cannot name a study (it would leave its folder or hide in it), or None when it can."""
    if _STUDY_NAME.fullmatch(name):
        return None
    return f"{name!r} is not a valid study name (use {STUDY_NAME_RULE})"


class DBError(ValueError):
    """A database argument that cannot serve as a trial database: the message starts with it, says what is
    wrong and what to do. CLIs print it after the flag: `error: --db <message>`."""


# Optuna's own tables (optuna/storages/_rdb/models.py): a plain Optuna study may gain ours beside them.
OPTUNA_TABLES = frozenset({"studies", "trials", "version_info"})
SQLITE_MAGIC = b"SQLite format 3\x00"


def db_url(db: str | None, default_path: Path) -> str:
    """A SQLAlchemy URL from `--db`: a URL is kept, a path (or nothing: `default_path`) becomes SQLite.
    Creates nothing: `open_db` makes the folder once the database has passed its checks."""
    if db and "://" in db:
        return db
    return f"sqlite:///{Path(db or default_path).expanduser().resolve()}"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases and in-memory SQLite."""
    try:
        u = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None
    if u.get_backend_name() != "sqlite" or u.database in (None, "", ":memory:") or u.database.startswith("file:"):
        return None
    return Path(u.database)


def driver_message(e: BaseException) -> str:
    """The driver's own first line, without SQLAlchemy's wrapping (and never a password: drivers omit it)."""
    orig = getattr(e, "orig", None) or e
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def _connect(url: str) -> None:
    """Fail now, with one line, where a server cannot be reached, the login is wrong or the driver is missing."""
    engine = None
    try:
        engine = make_engine(url)
        with engine.connect():
            pass
    except (sa.exc.SQLAlchemyError, ImportError, OSError) as e:
        raise DBError(f"{redact(url)}: cannot open the trial database: {driver_message(e)}; check that the server "
                      f"is up, the login and that its driver is installed") from None
    finally:
        if engine is not None:
            engine.dispose()


def _tables(path: Path, hint: str) -> set[str]:
    """Table names of a SQLite file, read without writing anything (read-only, no journal)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as e:
        raise DBError(f"{path}: cannot be read ({e.strerror or e}); {hint}") from None
    if not head:
        return set()  # an empty file is an empty SQLite database
    if head != SQLITE_MAGIC:
        raise DBError(f"{path}: not a SQLite database (some other kind of file); {hint}")
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            return {n for (n,) in conn.execute("select name from sqlite_master where type = 'table'")}
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise DBError(f"{path}: a damaged SQLite file ({e}); restore it from a copy, or {hint}") from None


def check_db(url: str, create: bool = False) -> None:
    """Refuse, before anything is written, a SQLite database this project must not use: a folder, a file that is
    not SQLite, another program's database, one it cannot write (create=True) or, when reading, a missing one.

    Another program's database is refused rather than given our tables: a file belongs to one program. A server
    database (PostgreSQL...) is shared by design, so for one only the connection is checked.
    """
    path = sqlite_path(url)
    if path is None:
        if not url.startswith("sqlite"):  # in-memory SQLite has nothing to check
            _connect(url)
        return
    hint = "pass a trial database" + (", or a new file path to create one" if create else "")
    if path.is_dir():
        raise DBError(f"{path}: is a folder, not a database file; pass a file path, e.g. {path / 'trials.db'}")
    if not path.exists():
        if not create:
            raise DBError(f"{path}: no trial database there (run `python tuning/run.py --space NAME` first, or "
                          f"pass a file path or SQLAlchemy URL)")
        parent = path.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise DBError(f"{path}: cannot create it: {parent} is a file, not a folder; pass another path")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise DBError(f"{path}: cannot create it: {parent} is read-only; pass a path in a writable folder")
        return
    tables = _tables(path, hint)
    if tables and not any(t.startswith("ganrator_") for t in tables) and not OPTUNA_TABLES <= tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise DBError(f"{path}: a SQLite database of another program (tables: {shown}), not a trial database; "
                      f"{hint}")
    if create and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)):
        where = path if not os.access(path, os.W_OK) else path.parent
        raise DBError(f"{path}: read-only ({where} cannot be written); copy the database to a writable folder "
                      f"and pass that path")


def redact(url: str) -> str:
    """The URL with its password masked, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def make_engine(url: str) -> sa.Engine:
    # SQLite: wait for the other writer (Optuna's storage in the same process) instead of failing.
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    return sa.create_engine(url, **kwargs)


def add_missing_columns(engine: sa.Engine) -> None:
    """Columns added to a table since a database was created: nullable, so old rows simply read as unknown."""
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


# Ray pickles the driver's database handles (the recorder's TrialDB, Optuna's storage inside the searcher) with the
# URL the study started with. A study directory that moved since (copied off a cluster, a renamed checkout) would
# resume against the old path; a resuming driver sets this to the database it opened, and the handles it unpickles
# reopen that one instead.
RESUMED_URL: str | None = None


def optuna_storage(url: str):
    """Optuna's storage on the same database (the searcher needs an object, not a URL)."""
    from .search import StudyStorage

    return StudyStorage(url)


class TrialDB:
    """Writes and reads the project's tables. Picklable (Ray Tune pickles callbacks): the engine is rebuilt."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        metadata.create_all(self.engine)
        add_missing_columns(self.engine)

    def __getstate__(self):
        return {"url": self.url}

    def __setstate__(self, state):
        self.__init__(RESUMED_URL or state["url"])

    def _upsert(self, table: sa.Table, key: dict[str, Any], values: dict[str, Any],
                on_insert: dict[str, Any] | None = None, conn=None) -> None:
        """Update the row with `key`, or insert it with `values` plus the insert-only `on_insert` (in `conn`'s
        transaction when given, else in one of its own)."""
        if conn is None:
            with self.engine.begin() as conn:
                return self._upsert(table, key, values, on_insert, conn)
        cond = sa.and_(*(table.c[k] == v for k, v in key.items()))
        if conn.execute(sa.select(sa.func.count()).select_from(table).where(cond)).scalar():
            if values:
                conn.execute(table.update().where(cond).values(**values))
        else:
            conn.execute(table.insert().values(**key, **values, **(on_insert or {})))

    def record_epoch(self, study: str, trial_id: str, epoch: int, epoch_values: dict[str, Any],
                     trial_values: dict[str, Any]) -> None:
        """An epoch's row and its trial's row in one transaction: a driver killed between two separate writes left
        an epoch row past the trial's `epochs`, which a resumed trial that then errored never mended."""
        with self.engine.begin() as conn:
            self._upsert(epochs, {"study": study, "trial_id": trial_id, "epoch": epoch}, epoch_values, conn=conn)
            self._upsert(trials, {"study": study, "trial_id": trial_id}, trial_values, conn=conn)

    def study(self, name: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(studies).where(studies.c.name == name)).mappings().first()
        return dict(row) if row else None

    def upsert_study(self, name: str, **values) -> None:
        self._upsert(studies, {"name": name}, {**values, "updated_at": time.time()})

    def upsert_trial(self, study: str, trial_id: str, on_insert: dict[str, Any] | None = None, **values) -> None:
        self._upsert(trials, {"study": study, "trial_id": trial_id}, values, on_insert)

    def upsert_epoch(self, study: str, trial_id: str, epoch: int, **values) -> None:
        self._upsert(epochs, {"study": study, "trial_id": trial_id, "epoch": epoch}, values)

    def best_val_before(self, study: str, trial_id: str, epoch: int) -> float:
        """The best validation accuracy among a trial's stored epochs before `epoch` (0 when none)."""
        with self.engine.connect() as conn:
            best = conn.execute(sa.select(sa.func.max(epochs.c.val_acc)).where(
                (epochs.c.study == study) & (epochs.c.trial_id == trial_id) & (epochs.c.epoch < epoch))).scalar()
        return float(best or 0.0)

    def val_accs(self, study: str, trial_id: str) -> dict[int, float]:
        """A trial's stored validation accuracy by epoch."""
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(epochs.c.epoch, epochs.c.val_acc).where(
                (epochs.c.study == study) & (epochs.c.trial_id == trial_id))).all())

    def drop_epochs_after(self, study: str, trial_id: str, epoch: int) -> None:
        """Forget a trial's epochs after `epoch`: they belong to an attempt that was lost (a trial restored from
        an earlier checkpoint, or restarted, after a crash), and the trial is training them again."""
        with self.engine.begin() as conn:
            conn.execute(epochs.delete().where((epochs.c.study == study) & (epochs.c.trial_id == trial_id)
                                               & (epochs.c.epoch > epoch)))

    def upsert_final_eval(self, study: str, trial_id: str, seed: int, **values) -> None:
        self._upsert(final_evals, {"study": study, "trial_id": trial_id, "seed": seed}, values)

    def upsert_confirm_arm(self, study: str, param: str, value: str, **values) -> None:
        self._upsert(confirm_arms, {"study": study, "param": param, "value": value},
                     {**values, "updated_at": time.time()})

    def keep_confirm_arms(self, study: str, keep: set[tuple[str, str]]) -> list[tuple[str, str]]:
        """Delete the study's stored arms whose (param, value) is not in `keep`: a selection made by an earlier
        run that this one no longer makes. Runs stay; no arm points to them then. Returns what was deleted."""
        with self.engine.begin() as conn:
            stored = conn.execute(sa.select(confirm_arms.c.param, confirm_arms.c.value)
                                  .where(confirm_arms.c.study == study)).all()
            gone = [(p, v) for p, v in stored if (p, v) not in keep]
            for p, v in gone:
                conn.execute(confirm_arms.delete().where((confirm_arms.c.study == study) & (confirm_arms.c.param == p)
                                                         & (confirm_arms.c.value == v)))
        return gone

    def upsert_confirm_run(self, study: str, arm_key: str, seed: int, **values) -> None:
        self._upsert(confirm_runs, {"study": study, "arm_key": arm_key, "seed": seed},
                     {**values, "updated_at": time.time()})

    def upsert_row(self, table: sa.Table, key: dict[str, Any], **values) -> None:
        self._upsert(table, key, values)

    def upsert_rung_decision(self, study: str, model: str, rung: int, **values) -> None:
        self._upsert(rung_decisions, {"study": study, "model": model, "rung": rung}, values)

    def finished_trials(self, study: str) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(trials.c.trial_id).where(
                trials.c.study == study, trials.c.status.in_(TERMINAL))).scalars())

    def rows(self, table: sa.Table, study: str) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(table).where(table.c.study == study)).mappings()]


def open_db(url: str) -> TrialDB:
    """The trial database at `url`, for writing: checked first (`check_db`), then its folder and tables made.
    Every failure is a DBError naming the database, so a CLI prints one line and has written nothing."""
    check_db(url, create=True)
    path = sqlite_path(url)
    shown = str(path) if path is not None else redact(url)
    try:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        return TrialDB(url)
    except (sa.exc.SQLAlchemyError, ImportError, OSError) as e:  # e.g. /proc: root may "write" but not create
        hint = "pass a path in a writable folder" if path is not None else "check the login may create tables"
        raise DBError(f"{shown}: cannot open the trial database: {driver_message(e)}; {hint}") from None
