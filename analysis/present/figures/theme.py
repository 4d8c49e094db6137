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

