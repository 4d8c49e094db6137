"""The power rule: the smallest effect a comparison's design detects, for an inconclusive finding to state.

A two-sided test at level alpha with power 1 - beta detects a true difference of (t_{1-alpha/2} + t_{1-beta}) x SE or
more, SE the standard error of the difference: s_d / sqrt(n) for n paired seeds (degrees of freedom n - 1), Welch's
for two unpaired groups (his degrees of freedom). With alpha = 0.05 and 80% power this is the design's smallest
detectable effect, in the units of the difference.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

ALPHA = 0.05
POWER = 0.80


def detectable(se: float, dof: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """(t_{1-alpha/2, dof} + t_{power, dof}) x se; NaN without a standard error or a degree of freedom."""
    if not (np.isfinite(se) and np.isfinite(dof) and dof > 0):
        return math.nan
    return float((stats.t.ppf(1 - alpha / 2, dof) + stats.t.ppf(power, dof)) * se)


def paired_detectable(diffs, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest effect n paired differences detect: (t_{0.975, n-1} + t_{0.80, n-1}) x s_d / sqrt(n)."""
    d = np.asarray([x for x in diffs if x is not None and np.isfinite(x)], dtype=float)
    if len(d) < 2:
        return math.nan
    return detectable(d.std(ddof=1) / math.sqrt(len(d)), len(d) - 1, alpha, power)
