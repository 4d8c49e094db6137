"""The scaling figure: error against training images, parameters and FLOPs, with the fits the table reads."""
from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from ...load import Study
from ...stats.scaling import (AXES, MIN_DISTINCT_X_IDENTIFIED, axis_points, confirmed_axes, confirmed_points,
                              fit_power_law, frontier, scaling_points)
from .theme import legend_below, plt, readable_log_axis, style


def scaling_plot(study: Study):
    """Error against training images, parameters and FLOPs: the search's view (validation error of the best trial
    per x) in the top row, the confirmation's test error of fresh seeds below it, so validation and test never
    share an axis. Each fit is drawn as the table reads it: solid where measured, dashed and said exploratory where
    not, the pure law (c = 0) dotted beside a fit whose c is not identified."""
    points = scaling_points(study)
    if not len(points):
        return None
    style()
    confirmed = [(param, x, confirmed_points(study, param)) for param, x, _ in confirmed_axes(study)]
    confirmed = [c for c in confirmed if len(c[2])]
    rows = 2 if confirmed else 1
    fig, axes = plt.subplots(rows, 3, figsize=(13, 3.9 * rows + 0.9), squeeze=False)
    for ax, (x, name) in zip(axes[0], AXES):
        on_axis, label = axis_points(study, points, x)
        ax.scatter(on_axis[x], on_axis["error"], s=10, color="0.65")
        f = frontier(on_axis, x)
        ax.plot(f[x], f["error"], "o", color="C0")
        fit = _plot_fit(ax, f[x], f["error"], "C0")
        ax.set_title(label + (f"\n{fit}" if fit else ""), fontsize=8)
        ax.set_xlabel(name)
        ax.set_ylabel("validation error (search view)")
        _log_axes(ax, on_axis[x], on_axis["error"])
    if rows == 2:
        for ax, (x, name) in zip(axes[1], AXES):
            here = [(param, c) for param, cx, c in confirmed if cx == x]
            if not here:
                ax.axis("off")
                continue
            for param, c in here:
                per_seed = c.explode("seed_errors").astype({"seed_errors": float})
                ax.plot(per_seed[x].astype(float), per_seed["seed_errors"], ".", color="0.65", ms=4)
                ax.plot(c[x], c["error"], "s", color="C3", label=f"confirmed {param} (test, mean of seeds)")
                fit = _plot_fit(ax, per_seed[x].astype(float), per_seed["seed_errors"], "C3")
                ax.set_title(f"confirmed {param}, each seed a point" + (f"\n{fit}" if fit else ""), fontsize=8)
                _log_axes(ax, per_seed[x].astype(float), per_seed["seed_errors"])
            ax.set_xlabel(name)
            ax.set_ylabel("test error (confirmed, fresh seeds)")
    handles = [Line2D([], [], ls="", marker="o", color="0.65", ms=4, label="search trial / seed"),
               Line2D([], [], ls="", marker="o", color="C0", label="best search trial per x on validation "
                      "(FLOPs: Pareto frontier)"),
               Line2D([], [], ls="-", color="0.2", label="fit a x^-b + c, measured"),
               Line2D([], [], ls="--", color="0.2", label="fit a x^-b + c, exploratory"),
               Line2D([], [], ls=":", color="0.2", label="pure law a x^-b (c = 0), exploratory")]
    if rows == 2:
        handles.insert(2, Line2D([], [], ls="", marker="s", color="C3", label="confirmed: test, mean of seeds"))
    fig.suptitle("Scaling: error = a x^-b + c")
    fig.tight_layout()
    legend_below(fig, handles, ncol=3)
    return fig


def _log_axes(ax, x, y) -> None:
    """Log axes over the data, each with at least three tick labels."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    x, y = x[np.isfinite(x) & (x > 0)], y[np.isfinite(y) & (y > 0)]
    ax.set_xscale("log")
    ax.set_yscale("log")
    if len(x):
        ax.set_xlim(x.min() / 1.3, x.max() * 1.3)
        readable_log_axis(ax.xaxis, *ax.get_xlim())
    if len(y):
        ax.set_ylim(y.min() / 1.15, y.max() * 1.15)
        readable_log_axis(ax.yaxis, *ax.get_ylim())


def _plot_fit(ax, x, y, color: str) -> str:
    """The fit's curve where its points can judge it (MIN_DISTINCT_X_IDENTIFIED or more), drawn as the table reads
    it, and its reading in words for the panel's title: b with its interval only where c is identified, else the
    pure law's line beside it. Empty where no fit is drawn."""
    try:
        fit = fit_power_law(x, y)  # scaling_table's own fit, from the cache
    except (ValueError, RuntimeError):
        return ""
    if fit.distinct_x < MIN_DISTINCT_X_IDENTIFIED:
        return ""
    grid = np.geomspace(min(x), max(x), 100)
    reading = "exploratory" if fit.exploratory else "measured"
    ax.plot(grid, fit.predict(grid), "--" if fit.exploratory else "-", color=color,
            label=f"fit a x^-b + c ({reading})")
    if fit.c_identified:
        return f"fit: b = {fit.b:.2f} [{fit.b_low:.2f}, {fit.b_high:.2f}], {reading}"
    ax.plot(grid, fit.predict_pure(grid), ":", color=color, label="pure law a x^-b, c = 0 (exploratory)")
    return (f"fit: c at {fit.c_bound}, b not identified ({reading}); "
            f"pure law b = {fit.pure_b:.2f} [{fit.pure_b_low:.2f}, {fit.pure_b_high:.2f}]")
