"""Study figures from long tables (pandas): distributions, curves, ROC, Bland-Altman, bars, tables.

Every builder takes a DataFrame and the names of the columns to use, so it works on the study
outputs (slices.csv, curves.csv, summary.csv) and on any other long table; NaN values (undefined
metrics, e.g. Dice of a slice with an empty ground truth) are dropped per group and counted.
"""

from __future__ import annotations

import html
import re

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go

__all__ = ["group_colors", "metric_box", "threshold_curves", "roc_figure", "bland_altman", "grouped_bars",
           "table_html", "scatter_figure", "matrix_figure"]


def group_colors(names: Sequence[str]) -> dict[str, str]:
    """A stable colour per group name, in the given order: plotly's qualitative palette for up to 10
    names, its 24-colour Dark24 beyond (a study of 12 weak methods and 2 baselines would repeat colours)."""
    palette = plotly.colors.qualitative.Plotly if len(names) <= 10 else plotly.colors.qualitative.Dark24
    return {str(n): palette[i % len(palette)] for i, n in enumerate(names)}


def _require(frame: pd.DataFrame, *columns: str | None) -> None:
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(f"column {missing[0]!r} not in the table; columns: {', '.join(map(str, frame.columns))}")


def _groups(frame: pd.DataFrame, by: str | None) -> list[tuple[str, pd.DataFrame]]:
    if by is None:
        return [("all", frame)]
    return [(str(k), g) for k, g in frame.groupby(by, sort=False)]


def metric_box(frame: pd.DataFrame, metric: str = "dice", by: str | None = "method", title: str | None = None,
               points: bool = True) -> go.Figure:
    """Distribution of ``metric`` per group (box with mean, every value as a jittered point)."""
    _require(frame, metric, by)
    groups = _groups(frame, by)
    colors = group_colors([k for k, _ in groups])
    fig = go.Figure()
    for key, g in groups:
        v = g[metric].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        fig.add_trace(go.Box(y=v, name=f"{key} (n={v.size})", boxmean=True, marker_color=colors[key],
                             boxpoints="all" if points else "outliers", jitter=0.4, pointpos=0, marker_size=3))
    fig.update_layout(title=title or f"{metric} per {by or 'table'}", yaxis_title=metric, showlegend=False,
                      height=420, margin={"t": 50, "b": 40})
    return fig


def threshold_curves(frame: pd.DataFrame, x: str = "threshold", y: str = "dice", by: str | None = "method",
                     band: str | None = None, title: str | None = None, mark_best: bool = True) -> go.Figure:
    """``y`` versus ``x`` per group, with an optional +- ``band`` column and the best point marked."""
    _require(frame, x, y, by, band)
    groups = _groups(frame, by)
    colors = group_colors([k for k, _ in groups])
    fig = go.Figure()
    for key, g in groups:
        g = g.sort_values(x)
        xs, ys = g[x].to_numpy(float), g[y].to_numpy(float)
        if band is not None:
            b = g[band].to_numpy(float)
            fig.add_trace(go.Scatter(x=np.r_[xs, xs[::-1]], y=np.r_[ys + b, (ys - b)[::-1]], fill="toself",
                                     line={"width": 0}, fillcolor=colors[key], opacity=0.15, hoverinfo="skip",
                                     showlegend=False, legendgroup=key))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=key, line={"color": colors[key]}, legendgroup=key))
        if mark_best and np.isfinite(ys).any():
            i = int(np.nanargmax(ys))
            fig.add_trace(go.Scatter(x=[xs[i]], y=[ys[i]], mode="markers", marker={"color": colors[key], "size": 9},
                                     name=f"{key} best {ys[i]:.3f} @ {xs[i]:.2f}", legendgroup=key, showlegend=False,
                                     hovertemplate=f"{key}: best {y} %{{y:.3f}} at {x} %{{x:.2f}}<extra></extra>"))
    fig.update_layout(title=title or f"{y} versus {x}", xaxis_title=x, yaxis_title=y, height=420,
                      margin={"t": 50, "b": 40})
    return fig


def roc_figure(frame: pd.DataFrame, score: str = "prob", label: str = "label", by: str | None = "method",
               title: str = "detection ROC") -> go.Figure:
    """ROC curve of ``score`` (probabilities) against the 0/1 ``label`` per group; AUC in the legend."""
    from sklearn.metrics import roc_curve

    from workbench.evaluation.ranking import binary_auc

    _require(frame, score, label, by)
    groups = _groups(frame, by)
    colors = group_colors([k for k, _ in groups])
    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#999"},
                                name="chance", hoverinfo="skip")])
    for key, g in groups:
        g = g[np.isfinite(g[score].to_numpy(float))]
        y = g[label].to_numpy(int)
        if len(np.unique(y)) < 2:
            continue  # ROC undefined with one class
        fpr, tpr, _ = roc_curve(y, g[score].to_numpy(float))
        auc = binary_auc(y, g[score].to_numpy(float))
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"{key} (AUC {auc:.3f})",
                                 line={"color": colors[key]}))
    fig.update_layout(title=title, xaxis_title="false positive rate", yaxis_title="true positive rate",
                      xaxis_range=[0, 1], yaxis_range=[0, 1.02], height=440, width=780, margin={"t": 50, "b": 40},
                      yaxis_scaleanchor="x", xaxis_constrain="domain")
    return fig


def bland_altman(frame: pd.DataFrame, pred: str = "pred_ml", true: str = "true_ml", by: str | None = "method",
                 title: str = "volume agreement (Bland-Altman)", unit: str = "mL") -> go.Figure:
    """Difference (pred - true) versus mean of the two, per group, with bias and 95 % limits of
    agreement (bias +- 1.96 SD) as horizontal lines in the group's colour."""
    _require(frame, pred, true, by)
    groups = _groups(frame, by)
    colors = group_colors([k for k, _ in groups])
    fig = go.Figure()
    for key, g in groups:
        p, t = g[pred].to_numpy(float), g[true].to_numpy(float)
        ok = np.isfinite(p) & np.isfinite(t)
        mean, diff = (p[ok] + t[ok]) / 2, p[ok] - t[ok]
        if diff.size == 0:
            continue
        bias = float(diff.mean())
        sd = float(diff.std(ddof=1)) if diff.size > 1 else 0.0
        fig.add_trace(go.Scatter(x=mean, y=diff, mode="markers", name=f"{key}: bias {bias:.2f}, LoA ±{1.96 * sd:.2f}",
                                 marker={"color": colors[key], "size": 6, "opacity": 0.7}, legendgroup=key))
        for level, dash in ((bias, "solid"), (bias + 1.96 * sd, "dot"), (bias - 1.96 * sd, "dot")):
            fig.add_hline(y=level, line={"color": colors[key], "dash": dash, "width": 1})
    fig.update_layout(title=title, xaxis_title=f"mean of predicted and true ({unit})",
                      yaxis_title=f"predicted - true ({unit})", height=440, margin={"t": 50, "b": 40})
    return fig


def grouped_bars(frame: pd.DataFrame, x: str = "subtype", y: str = "dice", by: str | None = "method",
                 error: str | None = None, title: str | None = None) -> go.Figure:
    """Bars of ``y`` per ``x`` category, one bar per group (e.g. Dice per subtype per method)."""
    _require(frame, x, y, by, error)
    groups = _groups(frame, by)
    colors = group_colors([k for k, _ in groups])
    fig = go.Figure()
    for key, g in groups:
        err = None if error is None else {"type": "data", "array": g[error].to_numpy(float)}
        fig.add_trace(go.Bar(x=g[x].astype(str), y=g[y].to_numpy(float), name=key, marker_color=colors[key],
                             error_y=err))
    fig.update_layout(barmode="group", title=title or f"{y} per {x}", yaxis_title=y, height=420,
                      margin={"t": 50, "b": 40})
    return fig


_TABLE_STYLE = ("<style>.workbench-table td:first-child, .workbench-table th:first-child {text-align: left}"
                ".workbench-table th {vertical-align: bottom}</style>")
"""Row names read from the left; long column names break after an underscore (``<wbr>``), so a wide
summary fits a laptop-width page instead of hiding its last columns behind a scroll bar."""


def table_html(frame: pd.DataFrame, title: str = "", decimals: int = 3):
    """``frame`` as an HTML table (floats rounded, every row shown, a caption; column names may wrap at
    their underscores) for ``display(...)``: it renders in JupyterLab and stays a real table in the
    exported reports. -> IPython ``HTML``."""
    from IPython.display import HTML

    shown = frame.copy()
    for c in shown.columns:
        if pd.api.types.is_float_dtype(shown[c]):
            shown[c] = shown[c].round(decimals)
    caption = f"<caption style='caption-side: top; text-align: left; font-weight: bold'>{html.escape(title)}</caption>" \
        if title else ""
    table = shown.to_html(index=False, border=0, na_rep="", classes="workbench-table")
    head, body = table.split("</thead>", 1)
    head = re.sub(r"(<th[^>]*>)([^<]*)(</th>)", lambda m: m[1] + m[2].replace("_", "_<wbr>") + m[3], head)
    return HTML(_TABLE_STYLE + (head + "</thead>" + body).replace(">\n  <thead>", f">{caption}\n  <thead>", 1))


def scatter_figure(frame: pd.DataFrame, x: str, y: str, by: str | None = None, text: str | None = None,
                   log_x: bool = False, title: str | None = None) -> go.Figure:
    """``y`` against ``x`` per group (hover shows ``text``), e.g. head weight against lesion energy."""
    _require(frame, x, y, by, text)
    groups = _groups(frame, by)
    colors = group_colors([k for k, _ in groups])
    fig = go.Figure()
    for key, g in groups:
        fig.add_trace(go.Scatter(x=g[x], y=g[y], mode="markers", name=key, marker={"color": colors[key], "size": 7},
                                 text=None if text is None else g[text].astype(str),
                                 hovertemplate=f"%{{text}}<br>{x} %{{x:.3g}}<br>{y} %{{y:.3g}}<extra>{key}</extra>"))
    fig.update_layout(title=title or f"{y} versus {x}", xaxis_title=x, yaxis_title=y, height=420,
                      xaxis_type="log" if log_x else None, margin={"t": 50, "b": 40}, showlegend=by is not None)
    return fig


def matrix_figure(frame: pd.DataFrame, rows: str, cols: str, value: str, title: str | None = None,
                  colorscale: str = "Viridis") -> go.Figure:
    """Heatmap of ``value`` with one row per ``rows`` value and one column per ``cols`` value
    (missing cells blank), e.g. lesion energy per block (rows) and head (columns)."""
    _require(frame, rows, cols, value)
    table = frame.pivot_table(index=rows, columns=cols, values=value, aggfunc="mean", sort=False)
    fig = go.Figure(go.Heatmap(z=table.to_numpy(), x=[str(c) for c in table.columns], y=[str(r) for r in table.index],
                               colorscale=colorscale, colorbar={"title": {"text": value}},
                               hovertemplate=f"{rows} %{{y}}, {cols} %{{x}}: %{{z:.3g}}<extra></extra>"))
    fig.update_layout(title=title or f"{value} per {rows} and {cols}", xaxis_title=cols, yaxis_title=rows,
                      yaxis_autorange="reversed", height=max(300, 40 * len(table) + 120), margin={"t": 50, "b": 40})
    return fig
