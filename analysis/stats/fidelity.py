"""The fidelity check of a study's early stopping, read from its database (computed in tuning.fidelity)."""
from __future__ import annotations

import pandas as pd

from tuning.fidelity import fidelity_warnings  # noqa: F401  (re-exported for the report)
from tuning.fidelity import rung_correlation as _rung_correlation

from ..load import Study


def rung_correlation(study: Study, n_boot: int = 2000) -> pd.DataFrame:
    return _rung_correlation(study.trials, study.epochs, study.meta.get("budget") or {},
                             (study.meta.get("search") or {}).get("scheduler"), n_boot)
