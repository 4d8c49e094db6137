"""Figures of the confirmation: a confirmed ablation's arms and paired differences, a cross's differences against
its first parameter, and the headline's rows."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..text import format_value, point_text
from .theme import _seed_errorbar, plt, style


def cross_plot(df: pd.DataFrame):
    """The paired difference to the baseline against the first parameter (log x for a data fraction): one line per
    other value of the second, 95% paired intervals as error bars, each seed in grey, n beside each point."""
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
        # a segment to a row of another study (another protocol: the reused full-data row) is dashed
        own = (cells["study"] == df.attrs["studies"][0]).to_numpy() if "study" in cells and df.attrs.get("studies") \
            else np.ones(len(cells), dtype=bool)
        ys = 100 * cells["diff_mean"].to_numpy()
        for i in range(len(xs) - 1):
            ax.plot(xs[i:i + 2], ys[i:i + 2], "-" if own[i] and own[i + 1] else "--", color=f"C{k}")
        ax.plot([], [], "-", color=f"C{k}", label=f"{col_name} = {point_text(v)}")
    if "study" in df and df["study"].nunique() > 1:
        ax.plot([], [], "--", color="0.4", label="to a row of another study (its own protocol)")
    ax.axhline(0, color="0.3", lw=1, ls=":")
    ax.set_xscale("log")
    values = sorted(dict.fromkeys(df[row_name].astype(float)))
    ax.set_xticks(values, [point_text(v) for v in values])
    ax.minorticks_off()
    ax.set_xlabel(f"{row_name} (log scale)")
    ax.set_ylabel(f"test accuracy minus {col_name} = {point_text(base)} (points)")
    ax.set_title(f"{col_name} against {row_name}: seed-paired difference\n(95% paired t-interval; grey: each seed)",
                 fontsize=9)
    ax.legend(fontsize=7)
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
    """A confirmed ablation (analysis.paired): left, each arm's test accuracy per seed with its mean and 95%
    interval (cut at 0 and 100%), n on each point; right, the paired difference to the reference with its
    interval and the zero line. Arms without a finished run are marked, not dropped."""
    if not len(table):
        return None
    param = table.attrs.get("param", "value")
    style()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(max(6.5, 1.5 * len(table) + 3), 3.6))
    labels = [f"{format_value(v)}{' (ref)' if ref else ''}" for v, ref in zip(table[param], table["reference"])]
    x = np.arange(len(table))
    missing = []
    for i, r in enumerate(table.to_dict("records")):
        seeds = [100 * v for v in r["test_per_seed"]]
        if not seeds:
            missing.append(i)
            continue
        ax.plot([i] * len(seeds), seeds, ".", color="0.6", ms=5)
        _seed_errorbar(ax, i, r["test_mean"], r["test_ci95"], r["seeds"], marker="o",
                       color="#009e73" if r["reference"] else "#0072b2")
    low = ax.get_ylim()[0] if ax.has_data() else 0.0
    for i in missing:
        ax.plot(i, low, "x", color="#d55e00", ms=8)
        ax.annotate("no finished run", (i, low), textcoords="offset points", xytext=(4, 4), fontsize=7)
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
    bx.set_ylabel("paired difference to reference (points)")
    bx.set_title("Seed-paired difference to the reference\n(grey: each seed; 95% t-interval with 3 or more seeds)",
                 fontsize=9)
    fig.tight_layout()
    return fig

