"""Which trial is "best on validation": one ranking rule for the driver and the analysis (pandas only, no Ray).

ASHA stops trials at rungs, so a validation accuracy is only comparable between trials that trained equally
long. Full-budget trials rank first; after them, trials stopped early rank by the highest rung they reached
(surviving more rungs is itself evidence), each compared on its validation accuracy at that rung; trials that
diverged or are still running come last.

Repeats (tuning/coverage.py's leader repeats: the same parameters on another seed) pool: a configuration with
several full-budget runs ranks by their mean validation accuracy, as one row (its first run's), with `runs`
saying how many runs the mean holds. One lucky run of a noisy configuration then cannot stay the reference once
it has been repeated.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

# Statuses with a validation result. Trials the time cap cut or an interrupt ended rank after every trial that
# was judged at a rung (rung_reached is 0 for them), with diverged and running ones.
LIVE = ("completed", "early_stopped", "diverged", "cut", "interrupted", "running")


def rung_reached(status: str, epochs) -> float:
    """How far a trial got before it was judged: the whole budget when completed (whatever its epoch count, which a
    step budget makes depend on the training-set size), its rung's epochs when ASHA stopped it, else none."""
    if status == "completed":
        return math.inf
    if status == "early_stopped" and epochs is not None and not pd.isna(epochs):
        return int(epochs)
    return 0


def rank_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """`trials` (columns trial_id, status, epochs, last_val_acc) ranked best first; rows without a result are
    dropped. The first row is the validation-selected configuration."""
    t = trials[trials["status"].isin(LIVE) & trials["last_val_acc"].notna()].copy()
    # completed trials first (rung_reached is infinite for them), then by the rung reached
    t["_reached"] = [rung_reached(s, e) for s, e in zip(t["status"], t["epochs"])]
    # trial_id last: equal accuracies rank the same way every time the table is read.
    t = pool_repeats(t)
    t = t.sort_values(["_reached", "last_val_acc", "trial_id"], ascending=[False, False, True], kind="stable")
    return t.drop(columns=["_reached"])


def config_key(params) -> str | None:
    """What makes runs repeats of one configuration: equal parameters."""
    return json.dumps(params, sort_keys=True, default=str) if isinstance(params, dict) and params else None


def pool_repeats(t: pd.DataFrame) -> pd.DataFrame:
    """Completed runs of one configuration as one row: the first run's, with the runs' mean validation accuracy
    and their count (`runs`); the configuration's other runs (a repeat cut or stopped) are dropped. Every table
    that ranks trials reads them pooled, as the driver selects."""
    return _pool(t.assign(_config=[config_key(p) for p in t["params"]], runs=1)).drop(columns=["_config"])


def _pool(t: pd.DataFrame) -> pd.DataFrame:
    done = t[(t["status"] == "completed") & t["_config"].notna()]
    pooled = done.groupby("_config", sort=False)["last_val_acc"].agg(["mean", "size"])
    if len(done) == len(pooled) and t["_config"].isin(pooled.index).sum() == len(done):
        return t  # no configuration has a second run
    if "started_at" in done and done["started_at"].notna().all():  # the configuration's first run stands for it
        done = done.sort_values("started_at", kind="stable")
    first = {key: i for i, key in zip(done.index[::-1], done["_config"][::-1])}  # first completed run per key
    keep = []
    for i, key in zip(t.index, t["_config"]):
        if key not in first:
            keep.append(i)
        elif i == first[key]:
            t.at[i, "last_val_acc"] = float(pooled.at[key, "mean"])
            t.at[i, "runs"] = int(pooled.at[key, "size"])
            keep.append(i)
    return t.loc[keep]


def buckets(low: float, high: float, log: bool, n: int) -> list[tuple[str, float, float, float]]:
    """n equal buckets (in log space for log-scaled parameters) of a continuous range: (label, lower edge,
    upper edge, centre). The last bucket is closed, so the range's maximum belongs to it."""
    edges = np.geomspace(low, high, n + 1) if log else np.linspace(low, high, n + 1)
    out = []
    for i in range(n):
        a, b = float(edges[i]), float(edges[i + 1])
        centre = math.sqrt(a * b) if log else (a + b) / 2
        out.append((f"[{a:.3g}, {b:.3g}{']' if i == n - 1 else ')'}", a, b, centre))
    return out


def bucket_of(value, edges: list[tuple[str, float, float, float]]) -> str | None:
    """The label of the bucket holding `value`, or None (a missing value, or one outside the range)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    for i, (label, a, b, _) in enumerate(edges):
        if a <= value < b or (i == len(edges) - 1 and value == b):
            return label
    return None


def trials_frame(rows: list[dict]) -> pd.DataFrame:
    """Trial rows of the database (tuning.db.trials) as the DataFrame the selection reads."""
    cols = ["trial_id", "status", "epochs", "rung", "last_val_acc", "params", "started_at"]
    return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)
