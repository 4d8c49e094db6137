"""A planned study's learning curves: test error against training-set size for each family on log-log axes, each
point the mean of its fresh seeds with its 95% interval; the fit on the smaller sizes dashed and labelled
exploratory where it is, and the held-out size drawn as a separate marker against the fit's prediction. A size
whose point has not finished says so in its tick label, outside the data scale."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, NullLocator

from .theme import plt, style

COLORS = {"cnn": "#0173b2", "classical": "#de8f05"}
NAMES = {"cnn": "CNN", "classical": "classical pipeline"}


def curves_plot(points: pd.DataFrame, sizes: list[int], fits: dict, held_out: int):
    """points: analysis.stats.curves.confirmed rows of the curve arms; fits: arm -> CurveFit or None."""
    rows = points[points["arm"].isin(list(COLORS))] if len(points) else points
    if not len(rows):
        return None
    style()
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    for arm, color in COLORS.items():
        mine = rows[rows["arm"] == arm].sort_values("size")
        if not len(mine):
            continue
        fitted = mine[mine["size"] != held_out]
        err, low, high = 100 * (1 - fitted["test"]), 100 * (1 - fitted["test_high"]), 100 * (1 - fitted["test_low"])
        ax.errorbar(fitted["size"], err, yerr=[err - low.fillna(err), high.fillna(err) - err], fmt="o", ms=5,
                    capsize=3, color=color, label=f"{NAMES[arm]}, mean of fresh seeds", zorder=3)
        ho = mine[mine["size"] == held_out]
        if len(ho):
            r = ho.iloc[0]
            e = 100 * (1 - r["test"])
            lo, hi = 100 * (1 - r["test_high"]), 100 * (1 - r["test_low"])
            ax.errorbar([r["size"]], [e], yerr=[[e - lo], [hi - e]] if np.isfinite(lo) else None, fmt="s", ms=6,
                        mfc="white", mec=color, ecolor=color, capsize=3, zorder=3,
                        label=f"{NAMES[arm]}, held-out size")
        fit = fits.get(arm)
        if fit is not None:
            xs = np.geomspace(min(sizes), max(sizes), 100)
            exploratory = not fit.c_identified
            ax.plot(xs, 100 * (fit.a * xs ** -fit.b + fit.c), ls="--" if exploratory else "-", lw=1.2, color=color,
                    label=f"{NAMES[arm]} fit on the other sizes" + (" (exploratory)" if exploratory else ""),
                    zorder=2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(sizes))
    ax.xaxis.set_minor_locator(NullLocator())
    missing = [s for s in sizes if not ((rows["size"] == s).any())]
    # a size with no finished point says so in its tick label: outside the data scale
    ax.set_xticks(sizes, [f"{s:,}" + ("\n(not yet run)" if s in missing else "") for s in sizes], rotation=30,
                  fontsize=7)
    ax.set_xlim(min(sizes) / 1.25, max(sizes) * 1.25)
    lo, hi = ax.get_ylim()
    ticks = [t for t in (1, 2, 3, 5, 7, 10, 15, 20, 30, 50) if lo <= t <= hi]
    if len(ticks) < 3:
        ticks = list(np.round(np.geomspace(lo, hi, 4), 1))
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlabel("training images (log scale)")
    ax.set_ylabel("test error (%), log scale")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title("Test error against training-set size (95% intervals over fresh seeds)", fontsize=9)
    fig.tight_layout()
    return fig
