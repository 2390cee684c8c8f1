"""nbconvert preprocessors that make an executed notebook render offline as static HTML.

- :class:`InlineWidgetOutputs`: a widget view becomes the outputs its ``Output`` widgets captured
  (read from the saved widget state); controls (sliders...) are dropped, since they cannot work
  without a kernel. The widget state itself is removed, so no widget manager is loaded from a CDN.
- :class:`PlotlyToHTML`: every plotly output (``application/vnd.plotly.v1+json``, what plotly's
  default ``plotly_mimetype`` renderer stores) gets a ``text/html`` rendering; plotly.js is embedded
  once, with the first figure, so the report stays interactive (zoom, hover, plotly sliders).
"""

from __future__ import annotations

import copy
from typing import Any

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Unicode

__all__ = ["PLOTLY_MIMETYPE", "WIDGET_VIEW_MIMETYPE", "InlineWidgetOutputs", "PlotlyToHTML"]

PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"
WIDGET_VIEW_MIMETYPE = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIMETYPE = "application/vnd.jupyter.widget-state+json"


class PlotlyToHTML(Preprocessor):
    """Add a ``text/html`` rendering to every plotly figure output. plotly.js is embedded with the
    first figure, or, with ``shared_js`` (a file name beside the page, e.g. ``plotly.min.js``),
    loaded from that one file that every page of a report folder shares."""

    shared_js = Unicode("", help="relative path of a shared plotly.js; empty: embed it in the page").tag(config=True)

    def preprocess(self, nb, resources):
        self._embedded = False
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIMETYPE in data and "text/html" not in data:
                data["text/html"] = self._to_html(data[PLOTLY_MIMETYPE])
        return cell, resources

    def _to_html(self, figure: dict[str, Any]) -> str:
        import plotly.io as pio

        figure = copy.deepcopy(dict(figure))
        config = figure.pop("config", None) or {}
        include = (self.shared_js if not self._embedded else False) if self.shared_js else not self._embedded
        html = pio.to_html(figure, config=config, include_plotlyjs=include, full_html=False, validate=False)
        self._embedded = True
        return html


class InlineWidgetOutputs(Preprocessor):
    """Replace widget views by the outputs their ``Output`` widgets captured; drop the widget state."""

    def preprocess(self, nb, resources):
        widgets = nb.metadata.pop("widgets", {}) or {}
        self._state = (widgets.get(WIDGET_STATE_MIMETYPE) or {}).get("state", {})
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if "outputs" not in cell:
            return cell, resources
        outputs = []
        for output in cell.outputs:
            view = output.get("data", {}).get(WIDGET_VIEW_MIMETYPE)
            outputs += self._captured(view.get("model_id", ""), set()) if view else [output]
        cell.outputs = outputs
        return cell, resources

    def _captured(self, model_id: str, seen: set[str]) -> list[Any]:
        """Outputs held by the model and its children (``IPY_MODEL_<id>`` references), in order."""
        if model_id in seen or model_id not in self._state:
            return []
        seen.add(model_id)
        model = self._state[model_id]
        state = model.get("state", {})
        if model.get("model_name") == "OutputModel":
            return [nbformat.from_dict(copy.deepcopy(o)) for o in state.get("outputs", [])]
        found: list[Any] = []
        for child in state.get("children", []):
            if isinstance(child, str) and child.startswith("IPY_MODEL_"):
                found += self._captured(child[len("IPY_MODEL_"):], seen)
        return found
