"""The figures' one seaborn style, their colours, and saving (PNG for the page, PDF for the paper)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

if "inline" not in matplotlib.get_backend():  # a notebook keeps its inline backend; elsewhere files only
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402


STATUS_COLORS = {"completed": "#0173b2", "early_stopped": "#de8f05", "diverged": "#d55e00",
                 "running": "#029e73", "errored": "#949494", "cut": "#cc78bc", "interrupted": "#ca9161"}


def style() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.1)
    # TrueType (Type 42) fonts embed whole in the PDF, as venues' checks ask; Type 3 would fail them
    matplotlib.rcParams.update({"pdf.fonttype": 42, "ps.fonttype": 42})


def missing_label(label: str, missing: str) -> str:
    """A category's tick label with what is missing at it: the annotation stays off the data scale."""
    return f"{label}\n({missing})"


def _short_number(v: float, _pos=None) -> str:
    """0.14, 2,900, 2.4e12: short enough that neighbouring labels do not run into each other."""
    if v >= 1e6:
        return f"{v:.2g}".replace("e+0", "e").replace("e+", "e")
    return f"{v:,.0f}" if v >= 1e3 else f"{v:.2g}"


def readable_log_axis(axis, lo: float, hi: float, ticks: int = 4) -> None:
    """A log axis over [lo, hi] labelled at `ticks` rounded values: a narrow range would otherwise show one
    decade label, or none."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    if hi / lo < 1.5:  # one value, or a narrow spread: room for three distinct labels
        lo, hi = lo / 1.5, hi * 1.5
        ticks = 3
    # inner points, so that rounding to 2 digits keeps every label inside the view
    values = sorted({float(f"{v:.2g}") for v in np.geomspace(lo, hi, ticks + 2)[1:-1]})
    axis.set_major_locator(FixedLocator(values))
    axis.set_major_formatter(FuncFormatter(_short_number))
    axis.set_minor_formatter(NullFormatter())


def save_figure(fig, path_stem: Path, dpi: int = 150) -> list[Path]:
    """PNG (small, for the report) and PDF (vector, for the paper)."""
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    out = [path_stem.with_suffix(".png"), path_stem.with_suffix(".pdf")]
    fig.savefig(out[0], dpi=dpi, bbox_inches="tight")
    fig.savefig(out[1], bbox_inches="tight")
    plt.close(fig)
    return out


SELECTED = "#0173b2"  # the validation-selected trial of a row


TEST = "#029e73"  # final-evaluation test accuracy over seeds


def _seed_errorbar(ax, x: float, mean: float, half: float, n: int, label: str | None = None, marker: str = "D",
                   color: str = TEST) -> None:
    """Test mean ± 95% CI over the seeds of a retrained configuration, the interval cut at 0% and 100%."""
    m = 100 * mean
    h = 100 * half if np.isfinite(half) else 0.0
    ax.errorbar([x], [m], yerr=[[min(h, m)], [min(h, 100 - m)]], fmt=marker, color=color, ms=5, capsize=3, zorder=4,
                label=label)
    ax.annotate(f"n={n}", (x, m), textcoords="offset points", xytext=(5, -3), fontsize=7, color=color)



def legend_below(fig, handles: list, labels: list[str] | None = None, ncol: int = 2) -> None:
    """One legend for the whole figure, under the lowest tick label or axis label, where it covers nothing
    (saving with bbox_inches="tight" keeps it in the image)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    bottom = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes if ax.get_visible())
    y = fig.transFigure.inverted().transform((0, bottom))[1]
    labels = [h.get_label() for h in handles] if labels is None else labels
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, y - 0.01), ncol=ncol, fontsize=7, frameon=False)
