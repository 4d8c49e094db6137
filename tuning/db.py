"""The trial database: the project's own tables beside Optuna's, in one SQLite file or any SQLAlchemy URL.

Rows are upserted by (study, trial_id[, epoch]), so replaying a result after a resume never counts it twice.
No Ray import here: analysis reads these tables too.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()
TERMINAL = ("completed", "early_stopped", "diverged", "errored")  # trial statuses that never change again

studies = sa.Table(
    "ganrator_studies", metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("space", sa.String(200)), sa.Column("kind", sa.String(20)), sa.Column("description", sa.Text),
    sa.Column("roles", sa.JSON), sa.Column("budget", sa.JSON), sa.Column("search", sa.JSON),
    sa.Column("command", sa.Text), sa.Column("git_commit", sa.String(64)), sa.Column("versions", sa.JSON),
    sa.Column("hardware", sa.JSON), sa.Column("status", sa.String(20)),
    sa.Column("created_at", sa.Float), sa.Column("updated_at", sa.Float),
)
trials = sa.Table(
    "ganrator_trials", metadata,
    sa.Column("study", sa.String(200), primary_key=True), sa.Column("trial_id", sa.String(64), primary_key=True),
    sa.Column("params", sa.JSON), sa.Column("roles", sa.JSON), sa.Column("config", sa.JSON),
    # running | completed | early_stopped (by ASHA, at `rung` epochs) | diverged | errored
    sa.Column("status", sa.String(20)), sa.Column("epochs", sa.Integer), sa.Column("max_epochs", sa.Integer),
    sa.Column("rung", sa.Integer),
    sa.Column("best_val_acc", sa.Float), sa.Column("last_val_acc", sa.Float), sa.Column("test_acc", sa.Float),
    sa.Column("wall_time", sa.Float), sa.Column("cpus", sa.Float), sa.Column("gpus", sa.Float),
    sa.Column("node", sa.String(100)), sa.Column("hostname", sa.String(200)), sa.Column("pid", sa.Integer),
    sa.Column("seed", sa.Integer), sa.Column("param_count", sa.BigInteger), sa.Column("flops", sa.Float),
    sa.Column("failures", sa.Integer), sa.Column("error", sa.Text),
    sa.Column("git_commit", sa.String(64)), sa.Column("versions", sa.JSON),
    sa.Column("started_at", sa.Float), sa.Column("ended_at", sa.Float),
)
epochs = sa.Table(
    "ganrator_epochs", metadata,
    sa.Column("study", sa.String(200), primary_key=True), sa.Column("trial_id", sa.String(64), primary_key=True),
    sa.Column("epoch", sa.Integer, primary_key=True),
    sa.Column("train_loss", sa.Float), sa.Column("val_loss", sa.Float), sa.Column("val_acc", sa.Float),
    sa.Column("lr", sa.Float), sa.Column("epoch_seconds", sa.Float), sa.Column("images_per_second", sa.Float),
    sa.Column("time_total", sa.Float), sa.Column("timestamp", sa.Float),
)
final_evals = sa.Table(
    "ganrator_final_evals", metadata,
    sa.Column("study", sa.String(200), primary_key=True), sa.Column("trial_id", sa.String(64), primary_key=True),
    sa.Column("seed", sa.Integer, primary_key=True),
    sa.Column("rank", sa.Integer), sa.Column("config", sa.JSON), sa.Column("status", sa.String(20)),
    sa.Column("epochs", sa.Integer), sa.Column("val_acc", sa.Float), sa.Column("test_acc", sa.Float),
    sa.Column("wall_time", sa.Float),
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
    sa.Column("test_correct", sa.Text),  # pack_mask of the per-image test correctness, in test-set order
    sa.Column("config", sa.JSON), sa.Column("wall_time", sa.Float), sa.Column("error", sa.Text),
    sa.Column("updated_at", sa.Float),
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


def db_url(db: str | None, default_path: Path) -> str:
    """A SQLAlchemy URL from `--db`: a URL is kept, a path (or nothing: `default_path`) becomes SQLite."""
    if db and "://" in db:
        return db
    path = Path(db or default_path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


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


class TrialDB:
    """Writes and reads the project's tables. Picklable (Ray Tune pickles callbacks): the engine is rebuilt."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        metadata.create_all(self.engine)

    def __getstate__(self):
        return {"url": self.url}

    def __setstate__(self, state):
        self.__init__(state["url"])

    def _upsert(self, table: sa.Table, key: dict[str, Any], values: dict[str, Any],
                on_insert: dict[str, Any] | None = None) -> None:
        """Update the row with `key`, or insert it with `values` plus the insert-only `on_insert`."""
        cond = sa.and_(*(table.c[k] == v for k, v in key.items()))
        with self.engine.begin() as conn:
            if conn.execute(sa.select(sa.func.count()).select_from(table).where(cond)).scalar():
                if values:
                    conn.execute(table.update().where(cond).values(**values))
            else:
                conn.execute(table.insert().values(**key, **values, **(on_insert or {})))

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

    def upsert_final_eval(self, study: str, trial_id: str, seed: int, **values) -> None:
        self._upsert(final_evals, {"study": study, "trial_id": trial_id, "seed": seed}, values)

    def upsert_confirm_arm(self, study: str, param: str, value: str, **values) -> None:
        self._upsert(confirm_arms, {"study": study, "param": param, "value": value},
                     {**values, "updated_at": time.time()})

    def upsert_confirm_run(self, study: str, arm_key: str, seed: int, **values) -> None:
        self._upsert(confirm_runs, {"study": study, "arm_key": arm_key, "seed": seed},
                     {**values, "updated_at": time.time()})

    def finished_trials(self, study: str) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(trials.c.trial_id).where(
                trials.c.study == study, trials.c.status.in_(TERMINAL))).scalars())

    def rows(self, table: sa.Table, study: str) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(table).where(table.c.study == study)).mappings()]
