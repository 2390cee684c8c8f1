"""Reports: executed notebooks as self-contained, offline HTML, and an index page of the runs.

``build_reports(runs_dir, out_dir)`` is what ``workbench report`` runs; ``export_html`` converts a
single notebook. Plotly figures stay interactive (plotly.js embedded once per page); ipywidgets
controls are dropped (no kernel), the outputs their ``Output`` widgets captured are kept.
"""

from __future__ import annotations

from workbench.reports.build import build_reports
from workbench.reports.export import export_html

__all__ = ["build_reports", "export_html"]
