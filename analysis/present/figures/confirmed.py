"""Figures of the confirmation: a confirmed ablation's arms and paired differences, a cross's differences against
its first parameter, and the headline's rows."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..text import format_value, point_text
from matplotlib.ticker import MaxNLocator

from .theme import _seed_errorbar, missing_label, plt, readable_log_axis, style


def cross_plot(df: pd.DataFrame):
    """The paired difference to the baseline against the first parameter (log x for a data fraction): one colour per
    other value of the second, 95% paired intervals as error bars, each seed in grey, n beside each point; no line
    joins the rows."""
    if not len(df):
        return None
    row_name, col_name, base = df.attrs["row"], df.attrs["col"], df.attrs["baseline"]
    style()
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    arms = [v for v in dict.fromkeys(df[col_name]) if v != base]
    for k, v in enumerate(arms):
        cells = df[df[col_name] == v].sort_values(row_name)
        xs = cells[row_name].astype(float).to_numpy() * (1 + 0.04 * (k - (len(arms) - 1) / 2))  # side by side
        for x, r in zip(xs, cells.to_dict("records")):
            ax.plot([x] * len(r["diff_per_seed"]), [100 * d for d in r["diff_per_seed"]], ".", color="0.65", ms=4)
            if np.isfinite(r["diff_low"]):
                d = 100 * r["diff_mean"]
                ax.errorbar(x, d, yerr=[[d - 100 * r["diff_low"]], [100 * r["diff_high"] - d]], fmt="o", capsize=4,
                            color=f"C{k}", ms=5)
            if r["n"]:
                ax.annotate(f"n={r['n']}", (x, 100 * r["diff_mean"]), textcoords="offset points",
                            xytext=(5, 3 - 10 * k), fontsize=7, color=f"C{k}")
        # no line joins sizes: rows differ in epochs at a step budget, a reused row in its whole protocol, and the
        # interaction's interval, not a drawn trend, says whether the gain changes with size
        ax.plot([], [], "o", color=f"C{k}", label=f"{col_name} = {point_text(v)}")
    ax.axhline(0, color="0.3", lw=1, ls=":")
    ax.set_xscale("log")
    values = sorted(dict.fromkeys(df[row_name].astype(float)))
    if len(values) >= 3:
        ax.set_xticks(values, [point_text(v) for v in values])
        ax.minorticks_off()
    else:  # two sizes would leave two tick labels
        ax.set_xlim(values[0] / 1.5, values[-1] * 1.5)
        readable_log_axis(ax.xaxis, values[0] / 1.4, values[-1] * 1.4)
    ax.set_xlabel(f"{row_name} (log scale)")
    ax.set_ylabel(f"test accuracy minus {col_name} = {point_text(base)} (points)")
    ax.set_title(f"{col_name} against {row_name}: seed-paired difference\n(95% paired t-interval; grey: each seed)",
                 fontsize=9)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, min_n_ticks=3))
    _at_least_a_point(ax)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig



def headline_plot(table: pd.DataFrame):
    """Each row's test accuracy per seed, its mean and 95% interval (cut at 0 and 100%), n beside it."""

    if not len(table):
        return None
    style()
    fig, ax = plt.subplots(figsize=(max(5.5, 1.6 * len(table) + 1.5), 3.4))
    for i, r in enumerate(table.to_dict("records")):
        color = "#d55e00" if r["family"] == "classical" else "#0072b2"
        ax.plot([i] * len(r["test_per_seed"]), [100 * v for v in r["test_per_seed"]], ".", color="0.6", ms=5)
        _seed_errorbar(ax, i, r["test_mean"], r["test_ci95"], r["seeds"], marker="o", color=color)
    ax.set_xticks(range(len(table)), [r.replace(" ", "\n", 2) for r in table["row"]], fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Classical against deep, {table.attrs.get('images', 0):,} training images", fontsize=9)
    fig.tight_layout()
    return fig



def confirmed_plot(table: pd.DataFrame):
    """A confirmed ablation (analysis.stats.paired): left, the paired difference to the reference with its interval
    and the zero line; right, each arm's test accuracy per seed with its mean and 95% interval (cut at 0 and 100%),
    n on each point. An arm without a finished run says so in its tick label, off the data scale."""
    if not len(table):
        return None
    param = table.attrs.get("param", "value")
    style()
    fig, (bx, ax) = plt.subplots(1, 2, figsize=(max(6.5, 1.5 * len(table) + 3), 3.6))
    labels = [f"{format_value(v)}{' (ref)' if ref else ''}" for v, ref in zip(table[param], table["reference"])]
    x = np.arange(len(table))
    for i, r in enumerate(table.to_dict("records")):
        seeds = [100 * v for v in r["test_per_seed"]]
        if not seeds:
            labels[i] = missing_label(labels[i], "no finished run")
            continue
        ax.plot([i] * len(seeds), seeds, ".", color="0.6", ms=5)
        _seed_errorbar(ax, i, r["test_mean"], r["test_ci95"], r["seeds"], marker="o",
                       color="#009e73" if r["reference"] else "#0072b2")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Confirmed arms: {param}", fontsize=9)
    for i, r in enumerate(table.to_dict("records")):
        if r["reference"] or not r["diff_per_seed"]:
            continue
        bx.plot([i] * len(r["diff_per_seed"]), [100 * d for d in r["diff_per_seed"]], ".", color="0.6", ms=5)
        if np.isfinite(r["diff_low"]):
            d = 100 * r["diff_mean"]
            bx.errorbar(i, d, yerr=[[d - 100 * r["diff_low"]], [100 * r["diff_high"] - d]], fmt="o", capsize=4,
                        color="#0072b2", ms=6)
    bx.axhline(0, color="0.3", lw=1, ls=":")
    bx.set_xticks(x, labels, fontsize=8)
    bx.set_ylabel("test accuracy minus the reference (points)")
    bx.set_title("Seed-paired difference to the reference\n(grey: each seed; 95% t-interval with 3 or more seeds)",
                 fontsize=9)
    for a in (ax, bx):
        a.set_xlim(-0.5, len(table) - 0.5)
        a.yaxis.set_major_locator(MaxNLocator(nbins=5, min_n_ticks=3))
        _at_least_a_point(a)
    fig.tight_layout()
    return fig


def _at_least_a_point(ax) -> None:
    """A y range of at least one point: a spread of hundredths of a point would show a single tick label."""
    lo, hi = ax.get_ylim()
    if hi - lo < 1.0:
        mid = (lo + hi) / 2
        ax.set_ylim(mid - 0.5, mid + 0.5)
