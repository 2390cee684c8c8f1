"""Plotly figure builders for the notebooks and reports (data -> ... -> studies / notebooks / reports).

- :mod:`.overlay`: a CT slice (window preset applied) with a map overlaid and ground-truth /
  predicted contours; methods side by side; galleries (:class:`Panel` grids).
- :mod:`.grids`: every head of a block with its gradient weight; per-stage maps.
- :mod:`.sliders`: figures with plotly's own threshold slider (interactive in offline HTML).
- :mod:`.stats`: Dice / IoU distributions, metric-versus-threshold curves, ROC, Bland-Altman,
  grouped bars, tables.
- :mod:`.contours`: marching-squares contours of a mask, in numpy.

Masks may be bool: everything plotted is cast to float first (plotly.js draws boolean heatmaps as
nothing). Builders return ``plotly.graph_objects.Figure``; show them with ``fig.show()``.
"""

from workbench.viz.contours import contour_xy, mask_contours
from workbench.viz.grids import head_grid, map_grid, stage_grid
from workbench.viz.overlay import Panel, methods_figure, panels_figure, slice_figure, windowed
from workbench.viz.sliders import threshold_slider_figure
from workbench.viz.stats import (bland_altman, grouped_bars, matrix_figure, metric_box, roc_figure, scatter_figure,
                                 table_html, threshold_curves)

__all__ = [
    "Panel", "bland_altman", "contour_xy", "grouped_bars", "head_grid", "map_grid", "mask_contours", "methods_figure",
    "matrix_figure", "metric_box", "panels_figure", "scatter_figure", "roc_figure", "slice_figure", "stage_grid", "table_html", "threshold_curves",
    "threshold_slider_figure", "windowed",
]
