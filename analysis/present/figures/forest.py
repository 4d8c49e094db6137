"""The forest plot of a study question: each comparison's difference with its 95% interval, the zero line and n.
Differences come first in the write-up; the levels they are read from follow in tables and figures."""
from __future__ import annotations

import re

import numpy as np
from matplotlib.ticker import MaxNLocator

from .theme import plt, style

PAIRED, UNPAIRED, NO_INTERVAL = "#0072b2", "#d55e00", "0.35"


def short_budget(c) -> str:
    """`55,000 images, 10 epochs` for a row label: the run length without its parenthesis."""
    length = re.sub(r"\s*\(.*?\)", "", c.length).replace(" optimizer steps", " steps")
    return ", ".join(x for x in (f"{c.images} images" if c.images else "", length) if x)


def forest_plot(comparisons: list, title: str):
    """One row per comparison (top to bottom as given): each seed's difference in grey where seeds pair, the mean
    with its 95% interval (hollow without one), a zero line, and n at the right edge. None for no comparison."""
    if not comparisons:
        return None
    style()
    rows = len(comparisons)
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * rows + 1.4))
    y = np.arange(rows)[::-1]
    for yi, c in zip(y, comparisons):
        seeds = [100 * d for d in c.per_seed]
        if seeds:
            ax.plot(seeds, [yi] * len(seeds), ".", color="0.65", ms=5, zorder=2)
        color = PAIRED if c.paired else UNPAIRED
        m = 100 * c.diff
        if c.has_interval:
            ax.errorbar([m], [yi], xerr=[[m - 100 * c.low], [100 * c.high - m]], fmt="o", color=color, ms=6,
                        capsize=3, zorder=3)
        elif np.isfinite(m):
            ax.plot([m], [yi], "o", mfc="white", mec=NO_INTERVAL, ms=6, zorder=3)
        ax.text(1.01, yi, f"n = {c.n}" + ("" if c.paired else " a side"), transform=ax.get_yaxis_transform(),
                va="center", fontsize=7)
    ax.axvline(0, color="0.3", lw=1, ls=":", zorder=1)
    labels = [f"{c.arm} − {c.base}\n{short_budget(c)} ({c.study})" for c in comparisons]
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_ylim(-0.7, rows - 0.3)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, min_n_ticks=3))
    left, right = ax.get_xlim()
    if right - left < 1.0:  # a spread of a few hundredths of a point would show as one tick label
        mid = (left + right) / 2
        ax.set_xlim(mid - 0.5, mid + 0.5)
    ax.set_xlabel("difference in test accuracy (points), 95% interval")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
