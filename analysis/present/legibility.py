"""Legibility of a drawn figure, read from matplotlib's artists after drawing: no data point inside a legend, no
legend over another or over tick labels, no tick labels running into each other, numeric axes labelled with at
least 3 tick labels, and validation and test never on one axis. `problems(fig)` lists what fails, in words; an empty list is a legible figure."""
from __future__ import annotations

import re

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator

MIN_TICK_LABELS = 3
_NUMBER = re.compile(r"^[\s$]*[−\-+]?(\d[\d,]*\.?\d*|\.\d+)([eE][−\-+]?\d+)?\s*%?\s*$")
_MATH_NUMBER = re.compile(r"^\$\\mathdefault\{[^}]*\}\$$")


def _is_number(text: str) -> bool:
    return bool(_NUMBER.match(text) or _MATH_NUMBER.match(text))


def _categorical(axis) -> bool:
    """Categories drawn at positions 0, 1, ..., k-1 of a linear axis, labelled with their values (0.5, 1, cnn)."""
    locs = list(axis.get_majorticklocs())
    return (isinstance(axis.get_major_locator(), FixedLocator) and axis.get_scale() == "linear"
            and locs == list(range(len(locs))))


def _data_points(ax) -> np.ndarray:
    """Display coordinates of the data points drawn in `ax`: line vertices and scatter offsets (not the
    axes-spanning reference lines, which carry no data)."""
    out = []
    for line in ax.get_lines():
        if not line.get_visible() or line.get_transform() != ax.transData:
            continue
        xy = np.column_stack([np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)])
        if len(xy):
            out.append(ax.transData.transform(xy))
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and coll.get_visible():
            offsets = np.asarray(coll.get_offsets(), dtype=float)
            if len(offsets):
                out.append(coll.get_offset_transform().transform(offsets))
    pts = np.concatenate(out) if out else np.empty((0, 2))
    pts = pts[np.isfinite(pts).all(axis=1)]
    box = ax.get_window_extent()  # a point outside the view is clipped, not drawn
    return pts[(pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1) & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1)]


def _legends(fig) -> list:
    return [lg for lg in [ax.get_legend() for ax in fig.axes] + list(fig.legends) if lg is not None and lg.get_visible()]


def _tick_labels(ax, renderer) -> list:
    """The drawn tick labels of both axes: visible, non-empty, inside the view."""
    out = []
    for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
        for tick in axis.get_major_ticks() + axis.get_minor_ticks():
            for label in (tick.label1, tick.label2):
                if label.get_visible() and label.get_text().strip() and _shown(label, ax, which):
                    out.append(label)
    return [t for t in out if t.get_window_extent(renderer).width > 0]


def _shown(label, ax, which: str) -> bool:
    """A tick label inside the axis' view (matplotlib keeps labels of ticks outside the limits, not drawn)."""
    lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
    x, y = label.get_position()
    v = x if which == "x" else y
    return lo - 1e-9 * abs(hi - lo) <= v <= hi + 1e-9 * abs(hi - lo)


def _metric_words(ax) -> set[str]:
    """Which of validation and test the axes' labels, legend and labelled artists speak of."""
    texts = [ax.get_xlabel(), ax.get_ylabel()]
    legend = ax.get_legend()
    if legend is not None:
        texts += [t.get_text() for t in legend.get_texts()]
    texts += [a.get_label() for a in ax.get_children() if isinstance(a, (Line2D, PathCollection))
              and not str(a.get_label()).startswith("_")]
    words = set()
    for t in texts:
        low = str(t).lower()
        if re.search(r"\bval(idation)?\b", low):
            words.add("validation")
        if re.search(r"\btest\b", low):
            words.add("test")
    return words


def problems(fig) -> list[str]:
    """What makes `fig` hard to read, one line each (empty: none found)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = []
    legends = _legends(fig)
    boxes = [lg.get_window_extent(renderer) for lg in legends]
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        name = f"axes {i} ({ax.get_title() or ax.get_ylabel() or 'untitled'})"
        pts = _data_points(ax)
        for box in boxes:
            inside = (pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)
            if inside.any():
                out.append(f"{name}: {int(inside.sum())} data point(s) inside a legend")
        for label in _tick_labels(ax, renderer):
            lb = label.get_window_extent(renderer)
            if any(lb.overlaps(box) for box in boxes):
                out.append(f"{name}: a legend covers the tick label {label.get_text()!r}")
        for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text().strip()
                      and _shown(t, ax, which)]
            minor = [t for t in axis.get_ticklabels(minor=True) if t.get_visible() and t.get_text().strip()
                     and _shown(t, ax, which)]
            if not labels and not minor:
                continue
            if not all(_is_number(t.get_text()) for t in labels + minor) or _categorical(axis):
                continue  # categories: their labels are the reading
            if len(labels) + len(minor) < MIN_TICK_LABELS:
                out.append(f"{name}: numeric {which} axis with {len(labels) + len(minor)} tick label(s), "
                           f"fewer than {MIN_TICK_LABELS}")
            if not axis.get_label_text().strip():
                out.append(f"{name}: numeric {which} axis without a label")
        for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            drawn = [t.get_window_extent(renderer) for t in axis.get_ticklabels()
                     if t.get_visible() and t.get_text().strip() and _shown(t, ax, which)]
            if any(a.overlaps(b) for k, a in enumerate(drawn) for b in drawn[k + 1:]):
                out.append(f"{name}: tick labels of the {which} axis run into each other")
        if _metric_words(ax) == {"validation", "test"}:
            out.append(f"{name}: validation and test share this axis")
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if boxes[i].overlaps(boxes[j]):
                out.append(f"legends {i} and {j} overlap")
    return out
