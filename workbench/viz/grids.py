"""Grids of small maps: every head of a block (with its gradient weight), every stage of a model.

Maps here are raw token grids (T, T) before upsampling. Raw head maps differ in scale by orders of
magnitude, so unless ``shared`` is set each panel is drawn min-max scaled to its own range (one
colour bar, 0 = the panel's minimum, 1 = its maximum) while the hover shows the raw value. Head
panel titles carry the head's weight alpha (HGI-SAM: ||G||_F, mean over windows) and its share of
the block's largest weight.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from workbench.operators.postprocess import minmax
from workbench.viz.arrays import as_array, as_image, quantized
from workbench.viz.overlay import MAP_COLORSCALE, grid_shape, style_image_axes

__all__ = ["map_grid", "head_grid", "stage_grid", "SELECTED_COLOR", "TOP_COLOR"]

SELECTED_COLOR = "#d00"  # the head the sliders select
TOP_COLOR = "#1060d0"  # the head with the largest gradient weight


def map_grid(maps: Mapping[str, Any], title: str = "", cols: int | None = None, panel: int = 170,
             shared: bool = False, highlight: Mapping[str, str] | Sequence[str] = ()) -> go.Figure:
    """One heatmap per entry of ``maps`` ({panel title: (T, T)}), ``cols`` per row (default <= 4).

    shared: one colour range (the raw values) for all panels, else each panel min-max scaled to its
    own range (hover: raw value); highlight: panel titles drawn bold in a colour ({title: colour};
    a sequence of titles: red).
    """
    names = list(maps)
    marks = dict.fromkeys(highlight, SELECTED_COLOR) if not isinstance(highlight, Mapping) else dict(highlight)
    rows, cols = grid_shape(len(names), cols)
    shown = [f"<b style='color:{marks[n]}'>{n}</b>" if n in marks else n for n in names]
    fig = make_subplots(rows, cols, subplot_titles=shown, horizontal_spacing=0.015, vertical_spacing=0.06)
    arrays = [as_image(maps[n], n) for n in names]
    lo = min(float(np.nanmin(a)) for a in arrays) if shared else 0.0
    hi = max(float(np.nanmax(a)) for a in arrays) if shared else 1.0
    bar = {"thickness": 10, "len": 0.8, "title": {"text": "raw" if shared else "per panel", "side": "right"}}
    if not shared:
        bar.update(tickvals=[0, 1], ticktext=["min", "max"])
    traces = []
    for i, (name, z) in enumerate(zip(names, arrays)):
        raw = quantized(z)
        traces.append(go.Heatmap(z=raw if shared else minmax(torch.from_numpy(raw)[None])[0].numpy(),
                                 customdata=None if shared else raw, colorscale=MAP_COLORSCALE, zmin=lo, zmax=hi,
                                 showscale=i == 0, colorbar=bar, name=name,
                                 hovertemplate=f"{name}<br>x %{{x}}, y %{{y}}: "
                                               f"%{{{'z' if shared else 'customdata'}:.4g}}<extra></extra>"))
    fig.add_traces(traces, rows=[i // cols + 1 for i in range(len(traces))],  # one update (24 heads: 24 before)
                   cols=[i % cols + 1 for i in range(len(traces))])
    fig.update_annotations(font_size=11)
    top = 60 + 16 * title.count("<br>")  # a second title line (e.g. what alpha means) needs room
    fig.update_layout(title={"text": title, "font": {"size": 13}}, width=max(cols * panel + 110, 640),
                      height=rows * panel + 10 + top, margin={"l": 10, "r": 10, "t": top, "b": 10})
    return style_image_axes(fig)


def head_grid(maps: Any, weights: Any = None, title: str = "", selected: int | None = None,
              cols: int | None = None) -> go.Figure:
    """Every head of a block: maps (h, T, T), weights (h,) or None -> one panel per head.

    Panel titles read ``head i · α=... (p %)`` with i 1-based and p the share of the block's largest
    weight; the head ``selected`` (0-based) is marked red, the head with the largest weight blue with
    a star (both colours when they coincide: red title, star kept).
    """
    arr = as_array(maps, ndim=3, name="head maps")
    h = arr.shape[0]
    w = None if weights is None else as_array(weights, ndim=1, name="head weights")
    if w is not None and w.shape[0] != h:
        raise ValueError(f"got {w.shape[0]} head weights for {h} heads")
    top = None if w is None or not np.isfinite(w).any() else int(np.nanargmax(w))
    peak = None if top is None else float(w[top])

    def name(i: int) -> str:
        if w is None:
            return f"head {i + 1}"
        share = f" ({100 * w[i] / peak:.0f} %)" if peak else ""
        return f"{'★ ' if i == top else ''}head {i + 1} · α={w[i]:.3g}{share}"

    names = [name(i) for i in range(h)]
    marks = {} if top is None else {names[top]: TOP_COLOR}
    if selected is not None and 0 <= selected < h:
        marks[names[selected]] = SELECTED_COLOR
    return map_grid(dict(zip(names, arr)), title=title, cols=cols or min(h, 6), highlight=marks)


def stage_grid(maps: Mapping[int, Any], title: str = "per-stage maps") -> go.Figure:
    """Raw stage maps {1-based stage: (T_s, T_s)} (what ``operators.stage_maps`` returns) side by
    side. Stage grids differ in size."""
    named = {f"stage {s} ({as_image(m).shape[0]}x{as_image(m).shape[1]})": m for s, m in maps.items()}
    return map_grid(named, title=title, cols=len(named), panel=220)
