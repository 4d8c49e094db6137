"""Small statistics: mean with a t confidence interval, buckets for continuous parameters, row order."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


FITTED = 0.99  # mean training accuracy from which runs count as having fitted their training set


def mean_ci(values, level: float = 0.95) -> tuple[float, float, int]:
    """Mean, half-width of the `level` t-interval, and n (half-width NaN when n < 2)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    n = len(v)
    if n == 0:
        return math.nan, math.nan, 0
    if n == 1:
        return float(v[0]), math.nan, 1
    half = stats.t.ppf(0.5 + level / 2, n - 1) * v.std(ddof=1) / math.sqrt(n)
    return float(v.mean()), float(half), n


def bucketize(values: pd.Series, spec: dict | None, bins: int = 4) -> pd.Series:
    """Categorical values stay as they are; numeric ones with many distinct values go into equal bins
    (in log space for log-scaled parameters) over the searched range."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any() or values.nunique() <= bins or (spec and spec.get("kind") == "categorical"):
        return values.astype(object)
    low = spec["low"] if spec and spec.get("low") is not None else numeric.min()
    high = spec["high"] if spec and spec.get("high") is not None else numeric.max()
    log = bool(spec and spec.get("log"))
    edges = np.geomspace(low, high, bins + 1) if log else np.linspace(low, high, bins + 1)
    idx = np.clip(np.searchsorted(edges, numeric, side="right") - 1, 0, bins - 1)
    labels = [f"[{edges[i]:.3g}, {edges[i + 1]:.3g}{']' if i == bins - 1 else ')'}" for i in range(bins)]
    return pd.Series([labels[i] for i in idx], index=values.index, dtype=object)


def sort_key(value):
    """Order table rows by value: numbers numerically, bucket labels by their lower edge, the rest as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    text = str(value)
    if text.startswith("["):
        try:
            return (0, float(text[1:].split(",")[0]), "")
        except ValueError:
            pass
    return (1, 0.0, text)

