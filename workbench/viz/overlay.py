"""A CT slice with an explanation map overlaid, ground-truth and predicted contours, side by side.

Images are (H, W) in [0, 1] (a CT window already applied, see :func:`windowed`), maps (H, W) at
the same resolution, masks (H, W) bool or 0/1. Pixel (r, c) is drawn at x = c, y = r with the y
axis reversed (row 0 on top) and square pixels. Contours come from :mod:`workbench.viz.contours`.
The CT and the map are PNG images (8-bit levels, the map's colours and transparency applied here,
:mod:`workbench.viz.arrays`); a map's colour bar comes from a one-pixel invisible heatmap
(:func:`scale_trace`), since an image trace has none.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.viz.arrays import LEVELS, as_image, levels, png_uri
from workbench.viz.contours import contour_xy

__all__ = ["MAP_COLORSCALE", "GT_COLOR", "PRED_COLOR", "windowed", "image_trace", "map_trace", "contour_trace",
           "map_colorscale", "level_colorbar", "colour_table", "scale_trace",
           "slice_traces", "slice_figure", "Panel", "panels_figure", "methods_figure", "style_image_axes", "image_ranges", "grid_shape",
           "orientation_marks"]

MAP_COLORSCALE = "Jet"
GT_COLOR = "#00e060"
PRED_COLOR = "#ff3030"


def windowed(hu: Any, window: str | Sequence[float] = "brain") -> np.ndarray:
    """HU slice (H, W) -> (H, W) in [0, 1] through a CT window preset name or (center, width)."""
    import torch

    from workbench.data.windowing import apply_window

    return apply_window(torch.as_tensor(as_image(hu, "hu")), window).numpy().astype(np.float64)


def map_colorscale(colorscale: str = MAP_COLORSCALE) -> list:
    """``colorscale`` over levels 1-255 with level 0 transparent (:func:`~workbench.viz.arrays.levels`, ``clear``)."""
    from plotly.colors import get_colorscale

    stops = get_colorscale(colorscale)
    first = 1 / LEVELS
    return [[0.0, "rgba(0,0,0,0)"], [first * 0.999, "rgba(0,0,0,0)"]] + \
        [[first + (1 - first) * float(pos), color] for pos, color in stops]


@functools.lru_cache(maxsize=8)
def colour_table(colorscale: str = MAP_COLORSCALE) -> np.ndarray:
    """(256, 3) uint8: the RGB of every level of :func:`map_colorscale` (row 0 unused: transparent),
    interpolated between the colour scale's stops as plotly.js does."""
    from plotly.colors import get_colorscale, hex_to_rgb, unlabel_rgb

    stops = get_colorscale(colorscale)
    pos = np.array([float(p) for p, _ in stops])
    rgb = np.array([hex_to_rgb(c) if c.startswith("#") else unlabel_rgb(c) for _, c in stops], dtype=float)
    values = np.concatenate([[0.0], np.linspace(0, 1, LEVELS)])
    return np.stack([np.interp(values, pos, rgb[:, k]) for k in range(3)], axis=1).round().astype(np.uint8)


def level_colorbar(title: str, lo: float = 0.0, hi: float = 1.0) -> dict:
    """A colour bar over levels 1-255 labelled with the values they stand for (``lo`` to ``hi``)."""
    ticks = np.linspace(0, 1, 5)
    return {"title": {"text": title, "side": "right"}, "thickness": 12,
            "tickvals": [1 + t * (LEVELS - 1) for t in ticks], "ticktext": [f"{lo + t * (hi - lo):.3g}" for t in ticks]}


def image_trace(image: Any, name: str = "CT", source: str | None = None) -> go.Image:
    """Grey-scale PNG of ``image`` (H, W) in [0, 1] (8-bit levels); no hover clutter. ``source``: the
    PNG already encoded (the same slice under several panels is encoded once)."""
    return go.Image(source=source or png_uri(levels(as_image(image))), name=name, hoverinfo="skip")


def map_trace(heat: Any, name: str = "map", opacity: float = 0.5, zmin: float | None = 0.0,
              zmax: float | None = 1.0, colorscale: str = MAP_COLORSCALE, clear_zero: bool = True) -> go.Image:
    """A map (H, W) as a semi-transparent colour PNG: 8-bit levels of [zmin, zmax] (None: the map's
    own min / max) through ``colorscale``, alpha ``opacity``; its colour bar is :func:`scale_trace`.

    clear_zero: pixels exactly 0 (outside the brain mask after masking, the minimum after min-max)
    are left transparent, so the CT shows through.
    """
    z = as_image(heat, name)
    if clear_zero:
        z = np.where(z == 0, np.nan, z)
    lo, hi = _range(z, zmin, zmax)
    code = levels(z, lo, hi, clear=True)
    rgba = np.concatenate([colour_table(colorscale)[code], np.where(code > 0, round(255 * opacity), 0)[..., None]],
                          axis=2).astype(np.uint8)
    return go.Image(source=png_uri(rgba), name=name, hoverinfo="skip")


def _range(z: np.ndarray, zmin: float | None, zmax: float | None) -> tuple[float, float]:
    finite = z[np.isfinite(z)]
    lo = zmin if zmin is not None else (float(finite.min()) if finite.size else 0.0)
    hi = zmax if zmax is not None else (float(finite.max()) if finite.size else 1.0)
    return lo, hi


def scale_trace(title: str = "map", lo: float = 0.0, hi: float = 1.0, coloraxis: str | None = None,
                colorscale: str = MAP_COLORSCALE) -> go.Heatmap:
    """An invisible one-pixel heatmap that carries a map's colour bar (labelled ``lo`` to ``hi``),
    or a shared ``coloraxis`` (levels 0-255, :func:`map_colorscale`)."""
    kw: dict[str, Any] = {"coloraxis": coloraxis} if coloraxis else {
        "colorscale": map_colorscale(colorscale), "zmin": 0, "zmax": LEVELS, "showscale": True,
        "colorbar": level_colorbar(title, lo, hi)}
    return go.Heatmap(z=[[LEVELS]], opacity=0.0, hoverinfo="skip", name=f"{title} colour bar", showlegend=False, **kw)


def contour_trace(mask: Any, name: str, color: str, dash: str = "solid", showlegend: bool = True,
                  legendgroup: str | None = None, visible: bool = True) -> go.Scatter:
    """Every contour of ``mask`` (H, W; bool or 0/1) as one line trace (contours split by NaN)."""
    xs, ys = contour_xy(mask)
    return go.Scatter(x=xs, y=ys, mode="lines", name=name, line={"color": color, "width": 2, "dash": dash},
                      hoverinfo="skip", showlegend=showlegend, legendgroup=legendgroup or name, visible=visible)


def slice_traces(image: Any, heat: Any = None, mask: Any = None, pred: Any = None, name: str = "map",
                 coloraxis: str | None = None, showlegend: bool = True, opacity: float = 0.5,
                 source: str | None = None) -> list:
    """Traces of one panel: CT, the map (if any) with its colour bar (own, or the shared ``coloraxis``
    on the panel that shows the legend), the ground-truth and predicted contours (if any)."""
    traces: list = [image_trace(image, source=source)]
    if heat is not None:
        traces.append(map_trace(heat, name=name, opacity=opacity))
        if coloraxis is None or showlegend:
            traces.append(scale_trace(name, coloraxis=coloraxis))
    if mask is not None:
        traces.append(contour_trace(mask, "ground truth", GT_COLOR, showlegend=showlegend))
    if pred is not None:
        traces.append(contour_trace(pred, "prediction", PRED_COLOR, dash="dot", showlegend=showlegend))
    return traces


def style_image_axes(fig: go.Figure) -> go.Figure:
    """Every subplot: row 0 on top, square pixels, no ticks."""
    plain = {"showticklabels": False, "showgrid": False, "zeroline": False, "constrain": "domain"}
    layout = {}
    for name in fig.layout:  # one update for every axis (an update per axis re-validates the layout)
        if name.startswith("xaxis"):
            layout[name] = plain
        elif name.startswith("yaxis"):
            layout[name] = {**plain, "autorange": "reversed", "scaleanchor": f"x{name[len('yaxis'):]}"}
    if not layout:  # a figure without subplots: its default axes
        layout = {"xaxis": plain, "yaxis": {**plain, "autorange": "reversed", "scaleanchor": "x"}}
    return fig.update_layout(layout)


def slice_figure(image: Any, heat: Any = None, mask: Any = None, pred: Any = None, title: str = "",
                 name: str = "map", size: int = 460) -> go.Figure:
    """One slice: CT (H, W) + map (H, W) with a colour bar + ground-truth / predicted contours."""
    fig = go.Figure(slice_traces(image, heat, mask, pred, name=name))
    fig.update_layout(title=title, width=size + 120, height=size, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.02})
    return style_image_axes(fig).update_layout(image_ranges([as_image(image).shape]))


def image_ranges(shapes: Sequence[tuple[int, ...]]) -> dict:
    """Layout axes that frame subplot i exactly on its image of shape ``shapes[i]`` (H, W): pixel
    edges -0.5 .. W - 0.5, row 0 on top. Without them plotly pads the range around a contour that
    runs along the image border (a whole-image prediction), and that panel draws smaller."""
    layout = {}
    for i, shape in enumerate(shapes):
        suffix = "" if i == 0 else str(i + 1)
        h, w = shape[-2:]
        layout[f"xaxis{suffix}"] = {"range": [-0.5, w - 0.5], "autorange": False}
        layout[f"yaxis{suffix}"] = {"range": [h - 0.5, -0.5], "autorange": False}
    return layout


def grid_shape(n: int, cols: int | None = None) -> tuple[int, int]:
    """(rows, cols) for ``n`` panels, at most ``cols`` (default: up to 4) per row."""
    if n < 1:
        raise ValueError(f"need at least one panel, got {n}")
    cols = min(n, cols or 4)
    return math.ceil(n / cols), cols


@dataclass(frozen=True)
class Panel:
    """One panel of a grid: CT image (H, W), optional map, ground-truth mask, prediction, title."""

    image: Any
    heat: Any = None
    mask: Any = None
    pred: Any = None
    title: str = ""
    name: str = "map"


def orientation_marks(fig: go.Figure, n: int) -> go.Figure:
    """An ``R`` on the left and an ``L`` on the right edge of the first ``n`` subplots (display
    orientation: column 0 is the patient's right, radiological convention)."""
    marks = [{"text": text, "x": x, "y": 0.5, "xref": f"x{axis} domain", "yref": f"y{axis} domain", "showarrow": False,
              "xanchor": anchor, "font": {"size": 11, "color": "#f0f0a0"}, "bgcolor": "rgba(0,0,0,0.35)"}
             for axis in ("" if i == 0 else str(i + 1) for i in range(n))
             for x, text, anchor in ((0.0, "R", "left"), (1.0, "L", "right"))]
    fig.layout.annotations = fig.layout.annotations + tuple(marks)  # one update: add_annotation re-checks all
    return fig


def panels_figure(panels: Sequence[Panel], cols: int | None = None, panel: int = 260, title: str = "",
                  scale: str = "map", max_width: int = 1000) -> go.Figure:
    """A grid of :class:`Panel` s (e.g. a gallery of slices) with one shared map colour bar in [0, 1].

    scale: the colour bar's title (what the map values mean); max_width: panels shrink so that the
    figure, colour bar included, stays within this many pixels (a notebook output area is ~1,060 px).
    Every panel carries R / L marks (:func:`orientation_marks`).
    """
    rows, cols = grid_shape(len(panels), cols)
    panel = max(120, min(panel, (max_width - 120) // cols))
    fig = make_subplots(rows, cols, subplot_titles=[p.title for p in panels], horizontal_spacing=0.02,
                        vertical_spacing=0.08 if rows < 4 else 0.04)
    sources: dict[int, str] = {}  # one PNG per distinct CT image (a methods figure repeats one slice)
    traces, where = [], []
    for i, p in enumerate(panels):
        if id(p.image) not in sources:
            sources[id(p.image)] = png_uri(levels(as_image(p.image)))
        for trace in slice_traces(p.image, p.heat, p.mask, p.pred, name=p.name, coloraxis="coloraxis",
                                  showlegend=i == 0, source=sources[id(p.image)]):
            if trace.type == "scatter":
                trace.legendgroup = trace.name
            traces.append(trace)
            where.append((i // cols + 1, i % cols + 1))
    fig.add_traces(traces, rows=[r for r, _ in where], cols=[c for _, c in where])  # one update, not one per trace
    fig.update_annotations(font_size=12)
    orientation_marks(fig, len(panels))
    fig.update_layout(coloraxis={"colorscale": map_colorscale(), "cmin": 0, "cmax": LEVELS,
                                 "colorbar": level_colorbar(scale)},
                      title=title, width=cols * panel + 120, height=rows * panel + 80,
                      margin={"l": 10, "r": 10, "t": 60, "b": 10}, legend={"orientation": "h", "y": -0.02})
    return style_image_axes(fig).update_layout(image_ranges([as_image(p.image).shape for p in panels]))


def methods_figure(image: Any, maps: Mapping[str, Any], mask: Any = None, threshold: float | None = None,
                   titles: Mapping[str, str] | None = None, cols: int | None = None, panel: int = 260,
                   title: str = "", scale: str = "map (min-max)") -> go.Figure:
    """The same slice with each method's map (H, W) side by side, one shared colour bar.

    threshold: draw each map's prediction ``map > threshold`` as a contour; titles: panel titles
    per method (default: the method name); scale: the colour bar's title.
    """
    panels = [Panel(image, heat, mask, None if threshold is None else as_image(heat, m) > threshold,
                    (titles or {}).get(m, m), m) for m, heat in maps.items()]
    return panels_figure(panels, cols=cols, panel=panel, title=title, scale=scale)
