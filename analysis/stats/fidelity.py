"""The fidelity check of a study's early stopping, read from its database (computed in tuning.fidelity)."""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from tuning.db import make_engine
from tuning.db import rung_decisions as _decisions_table
from tuning.fidelity import fidelity_warnings  # noqa: F401  (re-exported for the report)
from tuning.fidelity import rung_correlation as _rung_correlation

from ..load.study import Study, _read


def rung_correlation(study: Study, n_boot: int = 2000) -> pd.DataFrame:
    return _rung_correlation(study.trials, study.epochs, study.meta.get("budget") or {},
                             (study.meta.get("search") or {}).get("scheduler"), n_boot)


def rung_decisions(study: Study) -> pd.DataFrame:
    """Early stopping's decision per model and rung (tuning/schedulers.py), as the search stored it; empty for a
    study without one (FIFO, or a database written before the rule)."""
    with make_engine(study.source).connect() as conn:
        if _decisions_table.name not in sa.inspect(conn).get_table_names():
            return pd.DataFrame(columns=[c.name for c in _decisions_table.columns])
        rows = _read(conn, _decisions_table, _decisions_table.c.study == study.name)
    return rows.sort_values(["model", "rung"], kind="stable").reset_index(drop=True)
