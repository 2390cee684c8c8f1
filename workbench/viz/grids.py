"""Grids of small maps: every head of a block (with its gradient weight), every stage of a model.

Maps here are raw token grids (T, T) before upsampling; each panel gets its own colour range
(min-max per panel) unless ``shared`` is set, since raw head maps differ in scale by orders of
magnitude. The panel title carries the head's weight alpha (HGI-SAM: ||G||_F, mean over windows).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.viz.arrays import as_array, as_image, quantized
from workbench.viz.overlay import MAP_COLORSCALE, grid_shape, style_image_axes

__all__ = ["map_grid", "head_grid", "stage_grid"]


def map_grid(maps: Mapping[str, Any], title: str = "", cols: int | None = None, panel: int = 170,
             shared: bool = False, highlight: Sequence[str] = ()) -> go.Figure:
    """One heatmap per entry of ``maps`` ({panel title: (T, T)}), ``cols`` per row (default <= 4).

    shared: one colour range for all panels (else each panel is scaled to its own min / max);
    highlight: panel titles drawn in bold red (e.g. the selected head).
    """
    names = list(maps)
    rows, cols = grid_shape(len(names), cols)
    shown = [f"<b style='color:#d00'>{n}</b>" if n in highlight else n for n in names]
    fig = make_subplots(rows, cols, subplot_titles=shown, horizontal_spacing=0.015, vertical_spacing=0.06)
    arrays = [as_image(maps[n], n) for n in names]
    lo = min(float(np.nanmin(a)) for a in arrays) if shared else None
    hi = max(float(np.nanmax(a)) for a in arrays) if shared else None
    for i, (name, z) in enumerate(zip(names, arrays)):
        fig.add_trace(go.Heatmap(z=quantized(z), colorscale=MAP_COLORSCALE, zmin=lo, zmax=hi,
                                 showscale=shared and i == 0, name=name,
                                 hovertemplate=f"{name}<br>x %{{x}}, y %{{y}}: %{{z:.4g}}<extra></extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_annotations(font_size=11)
    fig.update_layout(title={"text": title, "font": {"size": 13}}, width=max(cols * panel + 60, 560),
                      height=rows * panel + 70,
                      margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return style_image_axes(fig)


def head_grid(maps: Any, weights: Any = None, title: str = "", selected: int | None = None,
              cols: int | None = None) -> go.Figure:
    """Every head of a block: maps (h, T, T), weights (h,) or None -> one panel per head.

    Panel titles read ``head i · α=...`` with i 1-based; the head ``selected`` (0-based) is highlighted.
    """
    arr = as_array(maps, ndim=3, name="head maps")
    h = arr.shape[0]
    w = None if weights is None else as_array(weights, ndim=1, name="head weights")
    if w is not None and w.shape[0] != h:
        raise ValueError(f"got {w.shape[0]} head weights for {h} heads")
    names = [f"head {i + 1}" + ("" if w is None else f" · α={w[i]:.3g}") for i in range(h)]
    highlight = [names[selected]] if selected is not None and 0 <= selected < h else []
    return map_grid(dict(zip(names, arr)), title=title, cols=cols or min(h, 6), highlight=highlight)


def stage_grid(maps: Mapping[int, Any], title: str = "per-stage maps") -> go.Figure:
    """Raw stage maps {1-based stage: (T_s, T_s)} (what ``operators.stage_maps`` returns) side by
    side. Stage grids differ in size."""
    named = {f"stage {s} ({as_image(m).shape[0]}x{as_image(m).shape[1]})": m for s, m in maps.items()}
    return map_grid(named, title=title, cols=len(named), panel=220)
