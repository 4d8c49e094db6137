"""The scaling figure: error against training images, parameters and FLOPs, with the fits the table reads."""
from __future__ import annotations

import numpy as np

from ...load import Study
from ...stats.scaling import (AXES, MIN_DISTINCT_X_IDENTIFIED, axis_points, confirmed_axes, confirmed_points,
                              fit_power_law, frontier, scaling_points)
from .theme import plt, style


def scaling_plot(study: Study):

    points = scaling_points(study)
    if not len(points):
        return None
    style()
    fig, axes = plt.subplots(1, 3, figsize=(13, 5.2))
    for ax, (x, _) in zip(axes, AXES):
        on_axis, label = axis_points(study, points, x)
        ax.scatter(on_axis[x], on_axis["error"], s=10, color="0.65", label="search trials")
        f = frontier(on_axis, x)
        ax.plot(f[x], f["error"], "o", color="C0",
                label="Pareto frontier (validation)" if x == "train_flops" else "best trial per x (validation)")
        _plot_fit(ax, f[x], f["error"], "search fit", "C1")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
    panel = {x: ax for ax, (x, _) in zip(axes, AXES)}
    confirmed = confirmed_axes(study)
    for param, x, _ in confirmed:  # the rows to quote: test error of fresh seeds, with their fit
        c = confirmed_points(study, param)
        if not len(c):
            continue
        ax = panel[x]
        ax.plot(c[x], c["error"], "s", color="C3", label=f"confirmed {param} (test, mean of seeds)")
        per_seed = c.explode("seed_errors")  # fitted as the table fits it: each seed a point
        _plot_fit(ax, per_seed[x].astype(float), per_seed["seed_errors"].astype(float), "confirmed fit", "C3")
    from matplotlib.ticker import NullFormatter

    for ax in axes:  # the legend below its panel, off the points; no minor tick labels (they overlap in log)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    axes[0].set_ylabel(f"error ({'/'.join(sorted(set(points['metric'])))}; confirmed: test)"
                       if confirmed else f"error ({'/'.join(sorted(set(points['metric'])))})")
    fig.suptitle("Scaling: error = a x^-b + c")
    fig.tight_layout()
    return fig


def _plot_fit(ax, x, y, what: str, color: str) -> None:
    """The fit's curve where its points can judge it (MIN_DISTINCT_X_IDENTIFIED or more), labelled as the table
    reads it: b with its interval only where c is identified, else the pure law's line beside it."""
    try:
        fit = fit_power_law(x, y)  # scaling_table's own fit, from the cache
    except (ValueError, RuntimeError):
        return
    if fit.distinct_x < MIN_DISTINCT_X_IDENTIFIED:
        return
    grid = np.geomspace(min(x), max(x), 100)
    ident = f"b = {fit.b:.2f} [{fit.b_low:.2f}, {fit.b_high:.2f}]" if fit.c_identified else \
        f"c at {fit.c_bound}, b not identified"
    ax.plot(grid, fit.predict(grid), "-" if color == "C1" else ":", color=color,
            label=f"{what} a x^-b + c: {ident}" + (" (exploratory)" if fit.exploratory else ""))
    if not fit.c_identified:
        ax.plot(grid, fit.predict_pure(grid), "--", color=color, alpha=0.6,
                label=f"{what}, pure law a x^-b (c forced to 0, one reading of many): b = {fit.pure_b:.2f} "
                      f"[{fit.pure_b_low:.2f}, {fit.pure_b_high:.2f}]")

