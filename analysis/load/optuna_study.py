"""A plain Optuna study (a database with Optuna's own tables and no ganrator ones, made by any
`optuna.create_study(storage=...)`) read into the same Study dataclass, for `analysis.optuna_report`.

The objective is whatever that study optimized, in its direction: it stays in `value` (also in `last_val_acc`,
so that functions keyed on that column still run, but nothing here calls it an accuracy). Optuna states map to
ours: COMPLETE -> completed, PRUNED -> early_stopped, FAIL -> errored, RUNNING -> running, WAITING -> waiting.
"""
from __future__ import annotations

import math
from pathlib import Path

import optuna
import pandas as pd
import sqlalchemy as sa

from tuning.db import make_engine, studies

from .study import AnalysisError, Study, _url, list_studies

OPTUNA_TABLES = {"studies", "trials", "version_info"}
STATUS = {optuna.trial.TrialState.COMPLETE: "completed", optuna.trial.TrialState.PRUNED: "early_stopped",
          optuna.trial.TrialState.FAIL: "errored", optuna.trial.TrialState.RUNNING: "running",
          optuna.trial.TrialState.WAITING: "waiting"}


def is_plain_optuna(url: str) -> bool:
    try:
        tables = set(sa.inspect(make_engine(url)).get_table_names())
    except (sa.exc.SQLAlchemyError, ImportError):  # unreachable or undriven: list_studies says so in one line
        return False
    return OPTUNA_TABLES <= tables and studies.name not in tables


def _storage(url: str, db) -> optuna.storages.RDBStorage:
    try:  # a report only reads: never create or migrate tables in someone else's database
        return optuna.storages.RDBStorage(url, skip_table_creation=True)
    except RuntimeError as e:  # a schema of another Optuna version
        raise AnalysisError(f"{db}: Optuna {optuna.__version__} cannot read this study database ({e})") from None


def optuna_study_names(url: str, db=None) -> list[str]:
    return optuna.get_all_study_names(_storage(url, db or url))


def study_names(db: str | Path) -> list[str]:
    """The studies in a database: ganrator's, or Optuna's in a database of Optuna's alone."""
    url = _url(db)
    return optuna_study_names(url, db) if is_plain_optuna(url) else list_studies(db)


def _spec(d: optuna.distributions.BaseDistribution) -> dict:
    """The distribution in the form of a ganrator search-space entry (what bucketing and plots read)."""
    if isinstance(d, optuna.distributions.CategoricalDistribution):
        return {"kind": "categorical", "low": None, "high": None, "log": False, "choices": list(d.choices)}
    kind = "int" if isinstance(d, optuna.distributions.IntDistribution) else "float"
    return {"kind": kind, "low": d.low, "high": d.high, "log": bool(d.log), "choices": []}


def load_optuna_study(url: str, name: str | None = None, db: str | Path | None = None) -> Study:
    db = db or url
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = _storage(url, db)
    names = optuna.get_all_study_names(storage)
    if name is None:
        if len(names) != 1:
            raise AnalysisError(f"{db} holds {len(names)} Optuna studies ({', '.join(names) or 'none'})"
                                + ("; pass --name" if names else ""))
        name = names[0]
    if name not in names:
        raise AnalysisError(f"no study {name!r} in {db}; studies there: {', '.join(names) or 'none'}")
    s = optuna.load_study(study_name=name, storage=storage)
    if len(s.directions) != 1:
        raise AnalysisError(f"study {name!r} in {db} has {len(s.directions)} objectives; the report reads "
                            f"single-objective studies only")
    direction = "minimize" if s.direction == optuna.study.StudyDirection.MINIMIZE else "maximize"
    trials = s.get_trials(deepcopy=False)
    params: list[str] = []
    specs: dict[str, dict] = {}
    for t in trials:
        for k, d in t.distributions.items():
            if k not in params:
                params.append(k)
            specs[k] = _spec(d)

    best_of = min if direction == "minimize" else max
    rows, epoch_rows = [], []
    for t in trials:
        steps = sorted(t.intermediate_values.items())
        value = t.value if t.state == optuna.trial.TrialState.COMPLETE else (steps[-1][1] if steps else math.nan)
        start = t.datetime_start.timestamp() if t.datetime_start else math.nan
        seen = [v for v in [*(v for _, v in steps), value] if v is not None and not math.isnan(v)]
        end = t.datetime_complete.timestamp() if t.datetime_complete else math.nan
        rows.append({"trial_id": str(t.number), "number": t.number, "status": STATUS.get(t.state, str(t.state.name)),
                     "params": dict(t.params), "value": value, "last_val_acc": value,
                     "best_val_acc": best_of(seen) if seen else math.nan,
                     "epochs": len(steps), "started_at": start, "finished_at": end, "duration_s": end - start,
                     **{"p:" + k: t.params.get(k) for k in params}})
        epoch_rows += [{"trial_id": str(t.number), "epoch": step, "val_acc": v, "timestamp": math.nan}
                       for step, v in steps]
    t_df = pd.DataFrame(rows, columns=["trial_id", "number", "status", "params", "value", "last_val_acc",
                                       "best_val_acc", "epochs", "started_at", "finished_at", "duration_s"]
                        + ["p:" + k for k in params])
    e_df = pd.DataFrame(epoch_rows, columns=["trial_id", "epoch", "val_acc", "timestamp"])
    meta = {"origin": "optuna", "direction": direction, "metric": (s.metric_names or ["objective"])[0],
            "roles": {p: "nuisance" for p in params}, "search": {"params": specs},
            "budget": {"max_epochs": int(t_df["epochs"].max()) if len(t_df) and t_df["epochs"].max() > 0 else 1},
            "user_attrs": dict(s.user_attrs)}
    return Study(name, meta, t_df, e_df, pd.DataFrame(columns=["trial_id", "seed", "test_acc"]), url, params)


def mark_scientific(study: Study, names: list[str]) -> Study:
    """Roles for a plain Optuna study, which has none of its own: the named parameters are scientific, the rest
    nuisance (tuned away in the isolation tables)."""
    if study.meta.get("origin") != "optuna":
        have = ", ".join(study.scientific()) or "none"
        raise AnalysisError(f"--scientific is for plain Optuna studies; the roles of study {study.name!r} come from "
                            f"its search space (scientific there: {have})")
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in study.params]
    if unknown or not names:
        what = ("names no parameter" if not names else f"{', '.join(map(repr, unknown))} "
                + ("is not a parameter" if len(unknown) == 1 else "are not parameters"))
        raise AnalysisError(f"--scientific: {what} of study {study.name!r}; its parameters: "
                            f"{', '.join(study.params) or 'none'}")
    study.meta["roles"] = {p: "scientific" if p in names else "nuisance" for p in study.params}
    return study
