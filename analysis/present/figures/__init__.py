"""Figures for the paper, one consistent seaborn style. Each function takes a Study (or a DataFrame) and returns
a matplotlib Figure, or None when the study lacks what the figure shows; saving is `save_figure`."""
from .confirmed import confirmed_plot, cross_plot, headline_plot  # noqa: F401
from .scaling import scaling_plot  # noqa: F401
from .search import (ablation_plot, asha_rungs, axis_plots, best_so_far, evp_plot, importance_plot,  # noqa: F401
                     isolation_plot, learning_curves, main_comparison_plot, parallel_coordinates, search_efficiency,
                     strength_curve, strength_plot)
from .theme import SELECTED, STATUS_COLORS, TEST, save_figure, style  # noqa: F401
