"""Figures of the search: ablations within the reference slice, the main comparison, the expected best of n
trials, axis plots, learning curves, importance, search efficiency, parallel coordinates. Each takes a Study and
returns a matplotlib Figure, or None when the study lacks what the figure shows."""
from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from tuning.fidelity import rungs

from ...load import Study
from ...present.text import format_value
from ...stats.intervals import mean_ci, sort_key
from ...stats.search import (Slice, ablation_table, comparison_groups, evp_draws, expected_max, first_rung,
                             main_comparison)
from .theme import SELECTED, STATUS_COLORS, _seed_errorbar, legend_below, missing_label, plt, readable_log_axis, style


def _is_log(study: Study, p: str) -> bool:
    return bool(study.specs.get(p, {}).get("log"))


def _rows_plot(fig, labels: list[str], trials: list[pd.Series], selected: list, counts: list[int],
               tests: list[tuple[float, float, int]]):
    """One column per row of a table: every full-budget trial as a faint point, the row's validation-selected
    trial emphasized with its n; where a selected configuration was tested over seeds, its test accuracy in a panel
    of its own (validation and test never share an axis). A row with no full-budget trial says so in its tick
    label, off the data scale. Returns the validation axes and the test axes (None without a test)."""
    tested = any(n >= 1 for _, _, n in tests)
    ax, tx = (fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]}) if tested else (fig.subplots(), None))
    x = np.arange(len(labels))
    shown = list(labels)
    for i, (vals, best, count) in enumerate(zip(trials, selected, counts)):
        others = list(vals)
        if best is not None and np.isfinite(best) and best in others:
            others.remove(best)  # the selected trial is drawn once, emphasized, at the column's centre
        if others:
            jitter = np.linspace(-0.15, 0.15, len(others)) if len(others) > 1 else np.full(1, 0.1)
            ax.scatter(i + jitter, 100 * np.asarray(others, dtype=float), color="0.6", s=14, alpha=0.7, zorder=2)
        if best is None or not np.isfinite(best):
            shown[i] = missing_label(labels[i], "no trial" if not count else f"no full-budget trial of {count}")
            continue
        ax.scatter([i], [100 * best], color=SELECTED, s=60, zorder=3, edgecolor="white")
        ax.annotate(f"n={count}", (i, 100 * best), textcoords="offset points", xytext=(6, 4), fontsize=7)
    longest = max((len(line) for label in shown for line in label.split("\n")), default=0)
    for a in (ax, tx) if tx is not None else (ax,):
        a.set_xticks(x, shown, rotation=20 if longest > 6 else 0)
        a.set_xlim(-0.5, len(labels) - 0.5)
        a.yaxis.set_major_locator(MaxNLocator(nbins=5, min_n_ticks=3))
    ax.set_ylabel("validation accuracy (%)")
    ax.scatter([], [], color="0.6", s=14, label="other full-budget trial")
    ax.scatter([], [], color=SELECTED, s=60, label="selected on validation (n: trials)")
    if tx is not None:
        for i, (mean, half, n) in enumerate(tests):
            if n >= 1:
                _seed_errorbar(tx, i, mean, half, n)
        tx.set_ylabel("test accuracy (%), mean ± 95% CI")
        tx.set_title("the selected configuration's test over seeds (n)", fontsize=8)
    return ax, tx


def ablation_plot(study: Study, param: str, bins: int = 4):
    """What the ablation table says, as points: per value of `param`, within the reference slice, every
    full-budget trial, the one validation selects (n = full-budget trials), its test over seeds in a panel of its
    own where final evaluations exist, and a value with no trial named in its label. No line or band joins
    different values."""
    table = ablation_table(study, param, bins)
    if not len(table) or not table["trials"].sum():
        return None
    sl = Slice(study, [param], bins)
    t = sl.trials[sl.mask()]
    value = sl.values[param][t.index]
    full = t[t["status"] == "completed"]
    style()
    tested = bool((table["test_n"] > 0).any())
    fig = plt.figure(figsize=(8.5 if tested else 5.5, 3.8))
    ax, tx = _rows_plot(fig, [format_value(v) for v in table[param]],
                        [full[value[full.index] == v]["last_val_acc"].tolist() for v in table[param]],
                        table["best_val_full"].tolist(), table["full_budget"].astype(int).tolist(),
                        list(zip(table["test_mean"], table["test_ci95"], table["test_n"].astype(int))))
    ax.set_xlabel(param)
    ax.set_title(f"Ablation: {param}" + (f"\nwithin {sl.describe()}" if sl.fixed else ""), fontsize=9)
    if tx is not None:
        tx.set_xlabel(param)
    fig.tight_layout()
    legend_below(fig, *ax.get_legend_handles_labels())
    return fig


isolation_plot = ablation_plot  # the Tuning Playbook's name for the same figure


def main_comparison_plot(study: Study):
    """The main comparison as points: per model family and augmentation setting, every full-budget trial, the one
    validation selects (n = trials) and, in its own panel, its test over seeds."""
    table = main_comparison(study)
    if not len(table):
        return None
    groups = comparison_groups(study)
    style()
    tested = bool((table["test_n"] > 0).any())
    fig = plt.figure(figsize=((1.8 if tested else 1.1) * len(table) + 3, 3.8))
    ax, _ = _rows_plot(fig, [f"{m}\n{a}" if a != "n/a" else str(m) for m, a in zip(table["model"], table["augmentation"])],
                       [groups[(groups["family"] == m) & (groups["augmentation"] == a)]["last_val_acc"].tolist()
                        for m, a in zip(table["model"], table["augmentation"])],
                       table["best_val_full"].tolist(), table["trials"].astype(int).tolist(),
                       list(zip(table["test_mean"], table["test_ci95"], table["test_n"].astype(int))))
    ax.set_title("Main comparison (augmentation: strength > 0)", fontsize=9)
    fig.tight_layout()
    legend_below(fig, *ax.get_legend_handles_labels())
    return fig


def evp_plot(study: Study, param: str, scope: str = "slice", basis: str = "auto", bins: int = 4):
    """Expected best validation accuracy against the number of trials, one curve per value of `param` (Dodge et
    al. 2019), each up to its own trial count; an arm with no trial is named in the legend."""
    draws, basis, scope, sl = evp_draws(study, param, scope, basis, bins)
    if not any(draws.values()):
        return None
    style()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for v, d in draws.items():
        if not d:
            ax.plot([], [], "x", color="#d55e00", label=f"{format_value(v)}: no trial")
            continue
        n = np.arange(1, len(d) + 1)
        curve = [100 * expected_max(d, k) for k in n]
        ax.plot(n, curve, ".-", lw=1.8, label=f"{format_value(v)} ({len(d)} trials)")
    ax.set_xscale("log", base=2)
    most = max(len(d) for d in draws.values())
    ticks = [2 ** k for k in range(max(2, math.ceil(math.log2(max(most, 1)))) + 1)]  # 1, 2, 4 at least
    ax.set_xticks(ticks, [str(k) for k in ticks])
    ax.set_xlim(0.8, ticks[-1] * 1.25)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("trials (n)")
    ax.set_ylabel("expected best validation accuracy (%)")
    basis_text = "full-budget trials" if basis == "full" else f"every trial at epoch {first_rung(study)}"
    ax.set_title(f"Expected best of n trials: {param}\n({basis_text}, "
                 f"{'reference slice' if scope == 'slice' else 'all trials of each value'})", fontsize=9)
    ax.legend(fontsize=7, loc="lower right", title=param, title_fontsize=7)
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
        here = t[t["p:" + p].notna()]  # a conditional parameter is not plotted where it does not apply
        numeric = pd.to_numeric(here["p:" + p], errors="coerce").notna().all()
        if not numeric:  # categories at 0, 1, ..., decided once for every status
            order = sorted(here["p:" + p].unique(), key=sort_key)
            longest = max(len(str(v)) for v in order)
            ax.set_xticks(range(len(order)), [str(v) for v in order],
                          rotation=90 if len(order) > 4 or longest > 5 else 0)
        for status, grp in here.groupby("status"):
            x = pd.to_numeric(grp["p:" + p]) if numeric else grp["p:" + p].map({v: i for i, v in enumerate(order)})
            ax.scatter(x, 100 * grp["last_val_acc"], s=14, alpha=0.8, color=STATUS_COLORS.get(status), label=status)
        if _is_log(study, p):
            ax.set_xscale("log")
            spec = study.specs.get(p) or {}
            lo, hi = spec.get("low"), spec.get("high")
            if lo and hi:
                ax.set_xlim(lo / 1.2, hi * 1.2)
                readable_log_axis(ax.xaxis, *ax.get_xlim())
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
    return rungs({"grace_period": first_rung(study), "reduction_factor": budget.get("reduction_factor") or 3,
                  "max_epochs": study.max_epochs})


def learning_curves(study: Study):
    """Validation accuracy per epoch of every trial, coloured by final status, ASHA rungs marked; where the study
    compares models, each model has its own marker and line style, so slow-starting families show as such."""
    by_model = "p:model" in study.trials and study.trials["p:model"].nunique() > 1
    cols = ["trial_id", "status"] + (["p:model"] if by_model else [])
    e = study.epochs.merge(study.trials[cols], on="trial_id")
    if not len(e):
        return None
    style()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    models = sorted(e["p:model"].dropna().astype(str).unique()) if by_model else []
    looks = {m: (mk, ls) for m, mk, ls in zip(models, "os^Dv<>p", ["-", "--", "-.", ":"] * 2)}
    for tid, grp in e.groupby("trial_id"):
        marker, line = looks.get(str(grp["p:model"].iloc[0]), ("o", "-")) if by_model else ("o", "-")
        # markers: a trial stopped at its first rung is a single point
        ax.plot(grp["epoch"], 100 * grp["val_acc"], marker=marker, ls=line, ms=3, alpha=0.7, lw=1.2,
                color=STATUS_COLORS.get(grp["status"].iloc[0], "0.5"))
    for r in asha_rungs(study):
        ax.axvline(r, color="0.3", ls=":", lw=1)
        ax.text(r, ax.get_ylim()[0], f" rung {r}", fontsize=7, va="bottom")
    for status, color in STATUS_COLORS.items():
        if (e["status"] == status).any():
            ax.plot([], [], color=color, label=status)
    for m, (marker, line) in looks.items():
        ax.plot([], [], marker=marker, ls=line, color="0.3", ms=4, label=f"model = {m}")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True, min_n_ticks=3))
    ax.set_xlim(0.5, max(3, int(e["epoch"].max())) + 0.5)  # three epoch labels at least
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Learning curves")
    ax.legend(fontsize=7)
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
    """Validation accuracy against augmentation strength, one point per full-budget trial, the best on validation
    emphasized. No band: neighbouring strengths are different configurations."""
    if "p:aug_strength" not in study.trials:
        return None
    full = study.trials[(study.trials["status"] == "completed") & study.trials["p:aug_strength"].notna()]
    if full["p:aug_strength"].nunique() < 2:
        return None
    style()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.scatter(full["p:aug_strength"].astype(float), 100 * full["last_val_acc"], color="0.6", s=14,
               label=f"full-budget trial (n={len(full)})")
    best = full.loc[full["last_val_acc"].idxmax()]
    ax.scatter([float(best["p:aug_strength"])], [100 * best["last_val_acc"]], color=SELECTED, s=60, zorder=3,
               label=f"selected on validation ({best['trial_id']})")
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

