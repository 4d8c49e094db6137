"""Figures of a plain Optuna study: optimization history, intermediate values, slices, parallel coordinates and
isolation, in the study's own direction."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...load import Study
from ...stats.intervals import bucketize, sort_key
from ...stats.optuna_search import _metric, _minimize, ranked
from ..text import objective_text
from .theme import STATUS_COLORS, plt, style


def _positions(study: Study, p: str, values: pd.Series) -> tuple[pd.Series, list | None]:
    """Numeric x for a parameter's values; categorical ones become their index among the choices."""
    spec = study.specs.get(p, {})
    if spec.get("kind") != "categorical":
        return pd.to_numeric(values, errors="coerce"), None
    choices = spec.get("choices") or sorted(values.dropna().unique(), key=sort_key)
    return values.map({c: i for i, c in enumerate(choices)}), choices


def history_plot(study: Study):
    done = study.trials[(study.trials["status"] == "completed") & study.trials["value"].notna()]
    if not len(done):
        return None
    style()
    done = done.sort_values("number")
    best = done["value"].cummin() if _minimize(study) else done["value"].cummax()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.scatter(done["number"], done["value"], s=16, color=STATUS_COLORS["completed"], label="completed trial")
    ax.step(done["number"], best, where="post", color="#d55e00", lw=2, label="best so far")
    ax.set_xlabel("trial number")
    ax.set_ylabel(_metric(study))
    ax.set_title(f"Optimization history ({study.meta.get('direction')})")
    ax.legend(fontsize=8)
    return fig


def intermediate_plot(study: Study):
    e = study.epochs.merge(study.trials[["trial_id", "status"]], on="trial_id")
    if not len(e):
        return None
    style()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for (_, status), grp in e.groupby(["trial_id", "status"]):
        ax.plot(grp["epoch"], grp["val_acc"], "o-", ms=3, lw=1.1, alpha=0.7, color=STATUS_COLORS.get(status, "0.5"))
    for status in e["status"].unique():
        ax.plot([], [], color=STATUS_COLORS.get(status, "0.5"), label=status.replace("early_stopped", "pruned"))
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel(f"intermediate {_metric(study)}")
    ax.set_title("Intermediate values")
    ax.legend(fontsize=8)
    return fig


def slice_plot(study: Study):
    done = study.trials[(study.trials["status"] == "completed") & study.trials["value"].notna()]
    params = [p for p in study.params if done["p:" + p].notna().any()]
    if not len(done) or not params:
        return None
    style()
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False, sharey=True)
    for ax, p in zip(axes.flat, params):
        x, choices = _positions(study, p, done["p:" + p])
        sc = ax.scatter(x, done["value"], c=done["number"], cmap="viridis", s=16)
        if choices is not None:
            ax.set_xticks(range(len(choices)), [str(c) for c in choices])
        elif study.specs.get(p, {}).get("log"):
            ax.set_xscale("log")
        ax.set_xlabel(f"{p} ({study.roles.get(p, 'nuisance')})")
    for ax in axes[:, 0]:
        ax.set_ylabel(_metric(study))
    for ax in list(axes.flat)[len(params):]:
        ax.axis("off")
    fig.colorbar(sc, ax=axes, label="trial number", shrink=0.8)
    fig.suptitle("Slices: the objective against each parameter (completed trials)")
    return fig


def parallel_plot(study: Study, k: int = 10):
    top = ranked(study).head(k)
    params = [p for p in study.params if top["p:" + p].notna().any()]
    if len(top) < 2 or not params:
        return None
    style()
    fig, ax = plt.subplots(figsize=(1.4 * len(params) + 2.5, 3.8))
    cmap = plt.get_cmap("viridis_r" if _minimize(study) else "viridis")
    lo, hi = top["value"].min(), top["value"].max()
    for _, r in top.iterrows():
        ys = []
        for p in params:
            v, spec = r["p:" + p], study.specs.get(p, {})
            if v is None or (isinstance(v, float) and math.isnan(v)):
                ys.append(np.nan)
            elif spec.get("kind") == "categorical":
                ys.append(spec["choices"].index(v) / max(1, len(spec["choices"]) - 1))
            elif spec.get("log"):
                ys.append((math.log(v) - math.log(spec["low"])) / ((math.log(spec["high"]) - math.log(spec["low"])) or 1))
            else:
                ys.append((v - spec["low"]) / ((spec["high"] - spec["low"]) or 1))
        ax.plot(range(len(params)), ys, "o-", alpha=0.8, color=cmap((r["value"] - lo) / ((hi - lo) or 1)))
    ax.set_xticks(range(len(params)), params, rotation=20)
    ax.set_ylabel("position in searched range")
    ax.set_title(f"Top {len(top)} trials (colour: {_metric(study)} {objective_text(lo)} to {objective_text(hi)})")
    return fig


def isolation_plot(study: Study, param: str, table: pd.DataFrame):
    col = f"best {_metric(study)}"
    if not len(table) or table[col].isna().all():
        return None
    style()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    labels = [str(v) for v in table[param]]
    where = {v: i for i, v in enumerate(labels)}
    done = study.trials[(study.trials["status"] == "completed") & study.trials["p:" + param].notna()]
    buckets = bucketize(done["p:" + param], study.specs.get(param)).astype(str)
    ax.scatter([where.get(b, np.nan) for b in buckets], done["value"], color="0.6", s=14, alpha=0.6,
               label="completed trials")
    ax.plot(range(len(labels)), table[col], "o-", color=STATUS_COLORS["completed"], lw=2, ms=7,
            label="best over the other parameters")
    ax.set_xticks(range(len(labels)), labels, rotation=20 if max(map(len, labels)) > 6 else 0)
    ax.set_xlabel(param)
    ax.set_ylabel(_metric(study))
    ax.set_title(f"Isolation: {param} ({'lower' if _minimize(study) else 'higher'} is better)")
    ax.legend(fontsize=8)
    return fig

