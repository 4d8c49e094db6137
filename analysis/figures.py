"""Figures for the paper, one consistent seaborn style. Each function takes a Study (or a DataFrame) and returns
a matplotlib Figure, or None when the study lacks what the figure shows; saving is `save_figure`."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

if "inline" not in matplotlib.get_backend():  # a notebook keeps its inline backend; elsewhere files only
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .load import Study  # noqa: E402
from .stats import mean_ci, sort_key  # noqa: E402
from .tables import ablation_table, first_rung  # noqa: E402

STATUS_COLORS = {"completed": "#0173b2", "early_stopped": "#de8f05", "diverged": "#d55e00",
                 "running": "#029e73", "errored": "#949494", "cut": "#cc78bc", "interrupted": "#ca9161"}


def style() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.1)


def save_figure(fig, path_stem: Path, dpi: int = 110) -> list[Path]:
    """PNG (small, for the report) and PDF (vector, for the paper)."""
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    out = [path_stem.with_suffix(".png"), path_stem.with_suffix(".pdf")]
    fig.savefig(out[0], dpi=dpi, bbox_inches="tight")
    fig.savefig(out[1], bbox_inches="tight")
    plt.close(fig)
    return out


def _is_log(study: Study, p: str) -> bool:
    return bool(study.specs.get(p, {}).get("log"))


def isolation_plot(study: Study, param: str):
    """Best full-budget validation accuracy per value of a scientific parameter (nuisance tuned away), over all
    full-budget trials as faint points."""
    table = ablation_table(study, param)
    if not len(table) or table["best_val_full"].isna().all():
        return None
    style()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    labels = [str(v) for v in table[param]]
    x = np.arange(len(labels))
    full = study.trials[study.trials["status"] == "completed"]
    value_of = dict(zip(labels, x))
    from .stats import bucketize

    buckets = bucketize(full["p:" + param], study.specs.get(param)).astype(str)
    ax.scatter([value_of.get(b, np.nan) for b in buckets], 100 * full["last_val_acc"], color="0.6", s=14,
               alpha=0.6, label="full-budget trials")
    ax.plot(x, 100 * table["best_val_full"], "o-", color=STATUS_COLORS["completed"], lw=2, ms=7,
            label="best over nuisance (isolation)")
    ax.set_xticks(x, labels, rotation=20 if max(map(len, labels)) > 6 else 0)
    ax.set_xlabel(param)
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(f"Isolation plot: {param}")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def axis_plots(study: Study):
    """Objective against each searched parameter, one point per trial, coloured by status."""
    params = [p for p in study.params if study.roles.get(p) in ("scientific", "nuisance")]
    if not params:
        return None
    style()
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    t = study.trials[study.trials["last_val_acc"].notna()]
    for ax, p in zip(axes.flat, params):
        for status, grp in t.groupby("status"):
            x = grp["p:" + p]
            if pd.to_numeric(x, errors="coerce").isna().any():
                order = sorted(t["p:" + p].dropna().unique(), key=sort_key)
                x = x.map({v: i for i, v in enumerate(order)})
                ax.set_xticks(range(len(order)), [str(v) for v in order], rotation=20)
            ax.scatter(x, 100 * grp["last_val_acc"], s=14, alpha=0.8, color=STATUS_COLORS.get(status), label=status)
        if _is_log(study, p):
            ax.set_xscale("log")
        ax.set_xlabel(f"{p} ({study.roles.get(p)})")
        ax.set_ylabel("val acc (%)")
    for ax in list(axes.flat)[len(params):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Hyperparameter axis plots (last validation accuracy of each trial)")
    fig.tight_layout()
    return fig


def asha_rungs(study: Study) -> list[int]:
    budget = study.meta.get("budget") or {}
    g, rf, top = first_rung(study), int(budget.get("reduction_factor") or 3), study.max_epochs
    rungs, r = [], g
    while r < top:
        rungs.append(r)
        r *= rf
    return rungs


def learning_curves(study: Study):
    """Validation accuracy per epoch of every trial, coloured by final status, ASHA rungs marked."""
    e = study.epochs.merge(study.trials[["trial_id", "status"]], on="trial_id")
    if not len(e):
        return None
    style()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for (tid, status), grp in e.groupby(["trial_id", "status"]):
        ax.plot(grp["epoch"], 100 * grp["val_acc"], "o-", ms=3, color=STATUS_COLORS.get(status, "0.5"), alpha=0.7,
                lw=1.2)  # markers: a trial stopped at its first rung is a single point
    for r in asha_rungs(study):
        ax.axvline(r, color="0.3", ls=":", lw=1)
        ax.text(r, ax.get_ylim()[0], f" rung {r}", fontsize=7, va="bottom")
    for status, color in STATUS_COLORS.items():
        if (e["status"] == status).any():
            ax.plot([], [], color=color, label=status)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Learning curves")
    ax.legend(fontsize=8)
    return fig


def importance_plot(importance: pd.DataFrame):
    if not len(importance):
        return None
    style()
    long = importance.melt(id_vars=["param", "role"], value_vars=["ped_anova", "fanova"], var_name="evaluator",
                           value_name="importance")
    fig, ax = plt.subplots(figsize=(5.5, 0.45 * len(importance) + 1.5))
    sns.barplot(long, y="param", x="importance", hue="evaluator", ax=ax)
    ax.set_title("Hyperparameter importance (full-budget trials)")
    ax.set_xlabel("normalized importance")
    ax.set_ylabel("")
    return fig


def best_so_far(study: Study) -> pd.DataFrame:
    """Best validation accuracy so far against wall-clock seconds and cumulative epochs, from the epoch rows."""
    e = study.epochs.dropna(subset=["timestamp"]).sort_values("timestamp").copy()
    if not len(e):
        return pd.DataFrame(columns=["seconds", "epochs", "best_val_acc"])
    start = study.trials["started_at"].min()
    return pd.DataFrame({"seconds": e["timestamp"] - (start if np.isfinite(start) else e["timestamp"].min()),
                         "epochs": np.arange(1, len(e) + 1), "best_val_acc": e["val_acc"].cummax()})


def search_efficiency(study: Study):
    curve = best_so_far(study)
    if not len(curve):
        return None
    style()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    axes[0].step(curve["seconds"], 100 * curve["best_val_acc"], where="post")
    axes[0].set_xlabel("wall-clock time (s)")
    axes[1].step(curve["epochs"], 100 * curve["best_val_acc"], where="post")
    axes[1].set_xlabel("cumulative training epochs (all trials)")
    axes[0].set_ylabel("best validation accuracy so far (%)")
    fig.suptitle("Search efficiency")
    fig.tight_layout()
    return fig


def strength_curve(study: Study) -> pd.DataFrame:
    """Accuracy against augmentation strength: mean and 95% CI over full-budget trials, and the best."""
    if "p:aug_strength" not in study.trials:
        return pd.DataFrame()
    full = study.trials[(study.trials["status"] == "completed") & study.trials["p:aug_strength"].notna()]
    rows = []
    for s, grp in full.groupby("p:aug_strength"):
        mean, half, n = mean_ci(grp["last_val_acc"])
        rows.append({"aug_strength": float(s), "mean": mean, "ci95": half, "n": n, "best": grp["last_val_acc"].max()})
    return pd.DataFrame(rows)


def strength_plot(study: Study):
    curve = strength_curve(study)
    if len(curve) < 2:
        return None
    style()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    half = curve["ci95"].fillna(0)
    ax.plot(curve["aug_strength"], 100 * curve["mean"], "o-", label="mean over trials")
    ax.fill_between(curve["aug_strength"], 100 * (curve["mean"] - half), 100 * (curve["mean"] + half), alpha=0.25,
                    label="95% CI")
    ax.plot(curve["aug_strength"], 100 * curve["best"], "s--", label="best (isolation)")
    ax.set_xlabel("augmentation strength")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Accuracy against augmentation strength")
    ax.legend(fontsize=8)
    return fig


def parallel_coordinates(study: Study, k: int = 10):
    """The top-k trials' parameters, each axis scaled to its searched range (log where searched so)."""
    t = study.trials[study.trials["status"] == "completed"].nlargest(k, "last_val_acc")
    params = [p for p in study.params if study.roles.get(p) in ("scientific", "nuisance") and t["p:" + p].notna().any()]
    if len(t) < 2 or not params:
        return None
    style()
    fig, ax = plt.subplots(figsize=(1.3 * len(params) + 2, 3.8))
    cmap = plt.get_cmap("viridis")
    accs = t["last_val_acc"]
    for _, r in t.iterrows():
        ys = []
        for p in params:
            v, spec = r["p:" + p], study.specs.get(p, {})
            if v is None or (isinstance(v, float) and np.isnan(v)):
                ys.append(np.nan)
            elif spec.get("kind") in ("float", "int"):
                lo, hi = spec["low"], spec["high"]
                ys.append((math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)) if spec["log"]
                          else (v - lo) / (hi - lo))
            else:
                choices = spec.get("choices") or sorted(t["p:" + p].dropna().unique(), key=sort_key)
                ys.append(choices.index(v) / max(1, len(choices) - 1) if v in choices else np.nan)
        span = (accs.max() - accs.min()) or 1
        ax.plot(range(len(params)), ys, "o-", color=cmap((r["last_val_acc"] - accs.min()) / span), alpha=0.8)
    ax.set_xticks(range(len(params)), params, rotation=25)
    ax.set_ylabel("position in searched range")
    ax.set_title(f"Top {len(t)} trials (colour: validation accuracy {100 * accs.min():.1f}-{100 * accs.max():.1f}%)")
    return fig
