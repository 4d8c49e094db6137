"""Read a study from the trial database into tidy DataFrames (works while the study is still running)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from tuning.db import (DBError, check_db, db_url, driver_message, epochs, final_evals, make_engine, redact, studies,
                       trials)


class AnalysisError(RuntimeError):
    """Bad input to the analysis: a missing database, an unknown study, nothing to analyse."""


@dataclass
class Study:
    name: str
    meta: dict  # the ganrator_studies row: space, roles, budget, search settings, provenance
    trials: pd.DataFrame  # one row per trial; parameters as columns, prefixed "p:"
    epochs: pd.DataFrame  # one row per trial-epoch
    finals: pd.DataFrame  # one row per final-evaluation run (trial x seed)
    source: str = ""
    params: list[str] = field(default_factory=list)
    # load_confirmation's frames, read on first use: the docs ask for them from several sections
    confirmation: tuple[pd.DataFrame, pd.DataFrame] | None = field(default=None, repr=False, compare=False)

    @property
    def roles(self) -> dict[str, str]:
        return self.meta.get("roles") or {}

    @property
    def specs(self) -> dict[str, dict]:
        return (self.meta.get("search") or {}).get("params") or {}

    @property
    def max_epochs(self) -> int:
        return int((self.meta.get("budget") or {}).get("max_epochs") or self.trials["epochs"].max() or 1)

    def scientific(self) -> list[str]:
        return [p for p in self.params if self.roles.get(p) == "scientific"]

    def nuisance(self) -> list[str]:
        return [p for p in self.params if self.roles.get(p) == "nuisance"]


def _url(db: str | Path) -> str:
    """The URL of a trial database to read; a folder, a missing or non-SQLite file, another program's SQLite
    database fail here with one message (tuning.db.check_db, shared with tuning/run.py)."""
    url = db_url(str(db), Path())
    try:
        check_db(url)
    except DBError as e:
        raise AnalysisError(str(e)) from None
    return url


def list_studies(db: str | Path) -> list[str]:
    engine = make_engine(_url(db))
    try:
        if not sa.inspect(engine).has_table(studies.name):
            raise AnalysisError(f"{db} is not a ganrator trial database (no {studies.name} table)")
        with engine.connect() as conn:
            return list(conn.execute(sa.select(studies.c.name).order_by(studies.c.created_at)).scalars())
    except sa.exc.SQLAlchemyError as e:  # the server went away after the check, a damaged file
        raise AnalysisError(f"{redact(str(db))}: cannot read the trial database: {driver_message(e)}") from None


def _read(conn, table: sa.Table, where) -> pd.DataFrame:
    """The rows of `table`, JSON decoded. A column the database predates (made by an older version, which the
    analysis only reads, never migrates) comes back empty instead of failing the query."""
    have = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    cols = [c for c in table.columns if c.name in have]
    rows = [dict(r) for r in conn.execute(sa.select(*cols).where(where)).mappings()]
    out = pd.DataFrame(rows, columns=[c.name for c in cols])
    for c in table.columns:
        if c.name not in have:
            out[c.name] = None
    return out[[c.name for c in table.columns]]


def load_study(db: str | Path, name: str | None = None) -> Study:
    """Tidy DataFrames of one study. With one study in the database, `name` may be left out."""
    url = _url(db)
    from .optuna_study import is_plain_optuna, load_optuna_study  # imports this module

    if is_plain_optuna(url):  # Optuna's tables alone: a study made outside ganrator
        return load_optuna_study(url, name, db)
    names = list_studies(db)
    if name is None:
        if not names:
            raise AnalysisError(f"{db} holds no study yet (its run stopped before the search began?); run "
                                f"`python tuning/run.py --space NAME --db {db}` first")
        if len(names) != 1:
            raise AnalysisError(f"{db} holds {len(names)} studies ({', '.join(names)}); pass --name")
        name = names[0]
    if name not in names:
        raise AnalysisError(f"no study {name!r} in {db}; studies there: {', '.join(names) or 'none'}")
    engine = make_engine(url)
    with engine.connect() as conn:
        meta = _read(conn, studies, studies.c.name == name).iloc[0].to_dict()
        t = _read(conn, trials, trials.c.study == name)
        e = _read(conn, epochs, epochs.c.study == name)
        f = _read(conn, final_evals, final_evals.c.study == name)
    params: list[str] = []
    for p in t["params"]:
        for k in (p or {}):
            if k not in params:
                params.append(k)
    for k in params:
        t["p:" + k] = [(p or {}).get(k) for p in t["params"]]
    t = t.sort_values("started_at", kind="stable").reset_index(drop=True)
    return Study(name, meta, t, e.sort_values(["trial_id", "epoch"]).reset_index(drop=True), f, url, params)


def load_confirmation(study: Study) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The confirmation stage's arms and runs of `study` (tuning/confirm.py); empty frames when it never ran,
    also in a database written before the stage existed. Read once per Study, a snapshot like its trials."""
    from tuning.db import confirm_arms, confirm_runs

    if study.confirmation is None:
        with make_engine(study.source).connect() as conn:
            have = set(sa.inspect(conn).get_table_names())
            study.confirmation = tuple(
                _read(conn, t, t.c.study == study.name) if t.name in have
                else pd.DataFrame(columns=[c.name for c in t.columns]) for t in (confirm_arms, confirm_runs))
    return study.confirmation
