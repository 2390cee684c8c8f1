"""Update a live ``plotly.graph_objects.FigureWidget`` in place from a freshly built figure.

The figure builders of this package stay the one place that decides what a figure shows; the
explorer builds the new figure and :func:`sync_figure` sends the browser only what differs from the
figure on screen (per trace property, plus the layout's titles and annotations), so a threshold
step moves the red contours without resending any heatmap, and a slice step sends the new arrays
as binary buffers and restyles the plot instead of re-creating it. A figure whose structure differs
(another number of traces, other trace types or another grid) cannot be synced: the caller makes a
new widget (:func:`same_structure` says which case applies).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

__all__ = ["same_structure", "sync_figure", "trace_changes"]

# Layout properties that a rebuilt figure of the same structure may change.
LIVE_LAYOUT = ("title", "annotations", "coloraxis", "width", "height")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            x, y = np.asarray(a), np.asarray(b)
        except (ValueError, TypeError):
            return False
        if x.shape != y.shape or x.dtype.kind != y.dtype.kind:
            return False
        if x.dtype.kind in "fc":
            return bool(np.array_equal(x, y, equal_nan=True))
        return bool(np.array_equal(x, y))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def same_structure(a: go.Figure, b: go.Figure) -> bool:
    """Whether ``b`` can be shown by updating ``a`` in place: same trace types in the same order on
    the same axes."""
    if len(a.data) != len(b.data):
        return False
    for s, t in zip(a.data, b.data):
        if s.type != t.type or getattr(s, "xaxis", None) != getattr(t, "xaxis", None) \
                or getattr(s, "yaxis", None) != getattr(t, "yaxis", None):
            return False
    return True


def trace_changes(old: dict, new: dict) -> dict:
    """The properties of trace JSON ``new`` that differ from ``old`` (``None`` for the ones that
    ``new`` drops)."""
    changed = {k: v for k, v in new.items() if k not in old or not _same(old[k], v)}
    changed.update({k: None for k in old if k not in new and k not in ("uid", "type")})
    changed.pop("type", None)
    return changed


def sync_figure(widget: go.FigureWidget, fig: go.Figure) -> int:
    """Show ``fig`` in ``widget`` by sending only what changed; returns how many traces changed.

    ``fig`` must have the widget's structure (:func:`same_structure`; ValueError otherwise).
    """
    if not same_structure(widget, fig):
        raise ValueError(f"figure of {len(fig.data)} traces ({', '.join(sorted({t.type for t in fig.data}))}) "
                         f"does not match the widget's {len(widget.data)}: build a new FigureWidget")
    updates = []
    for shown, trace in zip(widget.data, fig.data):
        old, new = shown.to_plotly_json(), trace.to_plotly_json()
        old.pop("uid", None)
        updates.append(trace_changes(old, new))
    layout_old, layout_new = widget.layout.to_plotly_json(), fig.layout.to_plotly_json()
    layout = {k: layout_new.get(k) for k in LIVE_LAYOUT if not _same(layout_old.get(k), layout_new.get(k))}
    with widget.batch_update():
        for shown, changed in zip(widget.data, updates):
            if changed:
                shown.update(changed, overwrite=True)
        if layout:
            widget.layout.update(layout, overwrite=True)
    return sum(bool(c) for c in updates)
