"""Numbers as the write-up prints them: percentages with their interval and n, parameter values, p values."""
from __future__ import annotations

import math

import numpy as np


def format_value(v) -> str:
    """A parameter value: a dash when it does not apply (NaN), whole numbers as integers (NaN makes pandas
    store an integer column as float), other floats to 3 significant digits."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e9 else f"{v:.3g}"
    return str(v)



def points_text(values, signed: bool = False) -> str:
    return ", ".join((f"{100 * v:+.2f}" if signed else f"{100 * v:.2f}") for v in values) or "—"


def p_text(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"  # a run without a correctness mask (it diverged)
    return "<0.001" if p < 1e-3 else f"{p:.2g}"



def point_text(v) -> str:
    """A parameter value as the tables print it: 0.5, 1, cnn."""
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)



def fmt_pct(x: float, half: float | None = None, n: int | None = None) -> str:
    """`93.42 ± 0.31 (n=3)` in percent; `—` for missing. Seeds that all gave the same value (a deterministic
    pipeline) say so instead of a `± 0.00` that would read as a measured precision."""
    if x is None or not np.isfinite(x):
        return "—"
    out = f"{100 * x:.2f}" + _spread(half, n, " ± —")
    return out + (f" (n={n})" if n is not None else "")


def pct_text(x: float, half: float | None = None, n: int | None = None) -> str:
    """For running text: `93.42% ± 0.31 (n = 3)`."""
    if x is None or not np.isfinite(x):
        return "n/a"
    out = f"{100 * x:.2f}%" + _spread(half, n, "")
    return out + (f" (n = {n})" if n is not None else "")


def _spread(half: float | None, n: int | None, unknown: str) -> str:
    """` ± 0.31` after a value; `unknown` when the half-width is NaN (n < 2)."""
    if half is None:
        return ""
    if half == 0 and (n or 0) >= 2:
        return ", identical over seeds"
    return f" ± {100 * half:.2f}" if np.isfinite(half) else unknown



def objective_text(v) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4g}"

