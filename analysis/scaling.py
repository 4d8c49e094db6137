"""Scaling laws: saturating power laws error = a * x^(-b) + c fitted to the best error reached at each training-set
size, parameter count and training compute, with bootstrap confidence intervals for the exponent b; and the
system view (trials per hour, accelerator-hours) against the number of workers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

from ganrator.data import COUNTS

from .load import Study



def power_law(x, a, b, c):
    return a * np.power(x, -b) + c


@dataclass
class PowerLawFit:
    a: float
    b: float  # the scaling exponent
    c: float  # irreducible error
    b_low: float  # bootstrap 95% interval of b
    b_high: float
    n: int
    boot: int  # successful bootstrap refits

    def predict(self, x):
        return power_law(np.asarray(x, dtype=float), self.a, self.b, self.c)


def _fit_once(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    # Fit in units where x starts at 1: a stays O(y) and the optimizer is well conditioned.
    scale = x.min()
    xs = x / scale
    c0 = max(0.0, 0.9 * y.min())
    b0 = 0.5
    a0 = max(1e-6, (y.max() - c0))
    (a, b, c), _ = curve_fit(power_law, xs, y, p0=(a0, b0, c0), bounds=([0, 0, 0], [np.inf, 3.0, y.min()]),
                             maxfev=20000)
    return a * scale ** b, b, c  # back to the original units of x


def fit_power_law(x, y, n_boot: int = 300, seed: int = 0) -> PowerLawFit:
    """Least-squares fit of y = a x^-b + c (a, b, c >= 0, c below the smallest y), with a bootstrap over points."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0)
    x, y = x[keep], y[keep]
    if len(np.unique(x)) < 4:
        raise ValueError(f"a saturating power law has 3 parameters; need at least 4 distinct x values, got "
                         f"{len(np.unique(x))}")
    a, b, c = _fit_once(x, y)
    rng = np.random.default_rng(seed)
    bs = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(x), len(x))
        if len(np.unique(x[idx])) < 4:
            continue
        try:
            bs.append(_fit_once(x[idx], y[idx])[1])
        except RuntimeError:  # a resample the optimizer cannot fit
            continue
    low, high = (np.percentile(bs, [2.5, 97.5]) if bs else (math.nan, math.nan))
    return PowerLawFit(a, b, c, float(low), float(high), len(x), len(bs))


def train_size(config: dict) -> int:
    """Training images a trial used: its stratified fraction of the 60k minus the validation split
    (the rule of FashionMNIST.subsample, at least one image per class)."""
    return max(10, round(config.get("data_fraction", 1.0) * (COUNTS["train"] - config.get("val_size", 5000))))


def scaling_points(study: Study) -> pd.DataFrame:
    """One row per full-budget trial: training-set size, parameter count, training FLOPs and error
    (test error of final evaluations where they exist, else validation error, said in `metric`)."""
    t = study.trials[(study.trials["status"] == "completed") & study.trials["config"].notna()].copy()
    if not len(t):
        return pd.DataFrame(columns=["trial_id", "model", "train_size", "params", "train_flops", "error", "val_error",
                                     "metric"])
    finals = study.finals[study.finals["test_acc"].notna()] if len(study.finals) else study.finals
    test = finals.groupby("trial_id")["test_acc"].mean() if len(finals) else pd.Series(dtype=float)
    rows = []
    for _, r in t.iterrows():
        cfg = r["config"]
        n = train_size(cfg)
        epochs = int(r["epochs"] or cfg.get("epochs", 1))
        acc, metric = (test[r["trial_id"]], "test") if r["trial_id"] in test.index else (r["last_val_acc"], "val")
        rows.append({"trial_id": r["trial_id"], "model": cfg.get("model", "?"), "train_size": n,
                     "params": r["param_count"], "train_flops": 3.0 * (r["flops"] or math.nan) * n * epochs,
                     "error": 1.0 - acc, "val_error": 1.0 - r["last_val_acc"], "metric": metric})
    return pd.DataFrame(rows)


def frontier(points: pd.DataFrame, x: str) -> pd.DataFrame:
    """The best trial at each x value; for compute, the Pareto frontier (no cheaper point is better). Chosen on
    validation error where the points carry it: a test error only reports the chosen trial, never picks it."""
    by = "val_error" if "val_error" in points else "error"
    p = points.dropna(subset=[x, "error", by]).sort_values(x, kind="stable")
    if x == "train_flops":
        best, keep = math.inf, []
        for i, e in zip(p.index, p[by]):
            if e < best:
                best = e
                keep.append(i)
        return p.loc[keep].reset_index(drop=True)
    return p.loc[p.groupby(x)[by].idxmin()].sort_values(x).reset_index(drop=True)


def scaling_table(study: Study) -> pd.DataFrame:
    """Fitted exponents against training-set size, parameter count and training FLOPs."""
    points = scaling_points(study)
    rows = []
    for x, label in (("train_size", "training images"), ("params", "parameters"), ("train_flops", "training FLOPs")):
        f = frontier(points, x) if len(points) else points
        row = {"axis": label, "points": len(f), "metric": ",".join(sorted(set(f["metric"]))) if len(f) else ""}
        try:
            fit = fit_power_law(f[x], f["error"])
            row.update(a=fit.a, b=fit.b, b_ci_low=fit.b_low, b_ci_high=fit.b_high, c=fit.c)
        except (ValueError, RuntimeError) as e:
            row.update(a=math.nan, b=math.nan, b_ci_low=math.nan, b_ci_high=math.nan, c=math.nan, note=str(e))
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(title="Scaling exponents", note="error = a x^-b + c fitted to the error of the best trial on "
                     "validation at each x (for FLOPs: the Pareto frontier, on validation error); b with a 95% "
                     "bootstrap interval over the frontier points.")
    return out


def scaling_plot(study: Study):
    import matplotlib.pyplot as plt

    from .figures import style

    points = scaling_points(study)
    if not len(points):
        return None
    style()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, (x, label) in zip(axes, (("train_size", "training images"), ("params", "parameters"),
                                     ("train_flops", "training FLOPs"))):
        ax.scatter(points[x], points["error"], s=10, color="0.65", label="trials")
        f = frontier(points, x)
        ax.plot(f[x], f["error"], "o", color="C0", label="frontier")
        try:
            fit = fit_power_law(f[x], f["error"])  # the same fit (and bootstrap) as scaling_table
            grid = np.geomspace(f[x].min(), f[x].max(), 100)
            ax.plot(grid, fit.predict(grid), "-", color="C1",
                    label=f"fit: b = {fit.b:.2f} [{fit.b_low:.2f}, {fit.b_high:.2f}]")
        except (ValueError, RuntimeError):
            pass
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.legend(fontsize=7)
    axes[0].set_ylabel(f"error ({'/'.join(sorted(set(points['metric'])))})")
    fig.suptitle("Scaling: error = a x^-b + c")
    fig.tight_layout()
    return fig


def system_throughput(study: Study) -> dict:
    """Trials per hour and accelerator-hours of one study, with the workers and nodes it ran on."""
    t = study.trials[study.trials["ended_at"].notna() & study.trials["started_at"].notna()]
    if not len(t):
        return {"study": study.name, "trials": 0}
    span_h = (t["ended_at"].max() - t["started_at"].min()) / 3600
    per_trial = np.where(t["gpus"].fillna(0) > 0, t["gpus"].fillna(0), t["cpus"].fillna(1))
    search = study.meta.get("search") or {}
    return {"study": study.name, "nodes": int(t["node"].nunique()), "workers": search.get("max_concurrent"),
            "trials": len(t), "hours": span_h, "trials_per_hour": len(t) / span_h if span_h > 0 else math.nan,
            "accelerator_hours": float((per_trial * t["wall_time"].fillna(0)).sum() / 3600),
            "accelerator": "GPU" if (t["gpus"].fillna(0) > 0).any() else "CPU"}


def system_scaling(studies: list[Study]) -> pd.DataFrame:
    """Throughput against the number of workers, across studies of the same work on different clusters."""
    out = pd.DataFrame([system_throughput(s) for s in studies]).sort_values("workers").reset_index(drop=True)
    if len(out) and out["trials_per_hour"].notna().any():
        out["speedup"] = out["trials_per_hour"] / out["trials_per_hour"].iloc[0]
    return out
