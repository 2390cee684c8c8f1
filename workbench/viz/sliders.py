"""Figures that stay interactive in a static HTML report: plotly's own sliders, no kernel needed.

ipywidgets need a live kernel; these figures carry every state in the figure itself, so an
exported report (``workbench report``) keeps a working threshold slider offline. Only light traces
(contours) change with the slider; the heavy heatmaps are drawn once.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import plotly.graph_objects as go

from workbench.viz.arrays import as_image
from workbench.viz.overlay import PRED_COLOR, contour_trace, grid_shape, methods_figure

__all__ = ["threshold_slider_figure"]


def threshold_slider_figure(image: Any, maps: Mapping[str, Any], mask: Any, thresholds: Sequence[float],
                            dice: Mapping[str, Sequence[float]] | None = None, start: int = 0,
                            cols: int | None = None, title: str = "") -> go.Figure:
    """:func:`~workbench.viz.overlay.methods_figure` plus a plotly slider over ``thresholds`` (Q,).

    Each step shows the predicted contour ``map > t`` of every method; ``dice[method]`` (Q,) values,
    if given, go into the panel titles. ``start``: index of the threshold shown first.
    """
    names = list(maps)
    thresholds = [float(t) for t in thresholds]
    if not thresholds:
        raise ValueError("need at least one threshold")
    if not 0 <= start < len(thresholds):
        raise ValueError(f"start {start} is outside the {len(thresholds)} thresholds")

    def titles(q: int) -> list[str]:
        if dice is None:
            return [f"{m} · t={thresholds[q]:.2f}" for m in names]
        return [f"{m} · t={thresholds[q]:.2f} · Dice {float(dice[m][q]):.3f}" for m in names]

    fig = methods_figure(image, maps, mask, threshold=None, titles=dict(zip(names, titles(start))), cols=cols,
                         title=title)
    n_cols = grid_shape(len(names), cols)[1]
    base = len(fig.data)
    for q, t in enumerate(thresholds):
        for i, m in enumerate(names):
            fig.add_trace(contour_trace(as_image(maps[m], m) > t, "prediction", PRED_COLOR, dash="dot",
                                        showlegend=i == 0, legendgroup="prediction", visible=q == start),
                          row=i // n_cols + 1, col=i % n_cols + 1)
    per_step = len(names)
    steps = []
    for q, t in enumerate(thresholds):
        visible = [True] * base + [k // per_step == q for k in range(per_step * len(thresholds))]
        annotations = [dict(a.to_plotly_json(), text=text) for a, text in zip(fig.layout.annotations, titles(q))]
        annotations += [a.to_plotly_json() for a in fig.layout.annotations[len(names):]]  # R / L marks stay
        steps.append({"method": "update", "label": f"{t:.2f}",
                      "args": [{"visible": visible}, {"annotations": annotations}]})
    fig.update_layout(sliders=[{"active": start, "steps": steps, "currentvalue": {"prefix": "threshold "},
                                "pad": {"t": 30}}], height=fig.layout.height + 80)
    return fig
