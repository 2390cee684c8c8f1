"""Thumbnails for the report index: the first plotly figure of an executed notebook, drawn alone.

The figure's JSON is taken from the notebook's outputs (``application/vnd.plotly.v1+json``), drawn
as a static plot on a bare page that loads the report folder's shared plotly.js, and captured by
headless Chromium at half scale (a 450 x 280 px PNG; Chromium does not go below 0.5). Offline, like the pages.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

from workbench.reports.browser import screenshot

__all__ = ["first_figure", "thumbnail"]

PLOTLY_MIME = "application/vnd.plotly.v1+json"
_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><script src="{js}"></script>
<style>body {{ margin: 0; background: white; }}</style></head><body><div id="f"></div><script>
const fig = {figure};
fig.layout = Object.assign(fig.layout || {{}}, {{width: {w}, height: {h}, autosize: false, sliders: [], updatemenus: []}});
Plotly.newPlot("f", fig.data, fig.layout, {{staticPlot: true}});
</script></body></html>
"""


def first_figure(notebook: str | os.PathLike) -> Mapping[str, Any] | None:
    """The first plotly figure ({"data", "layout"}) among a notebook's outputs, or None."""
    nb = json.loads(Path(notebook).read_text())
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            fig = output.get("data", {}).get(PLOTLY_MIME)
            if fig:
                return fig
    return None


def thumbnail(notebook: str | os.PathLike, png: str | os.PathLike, plotly_js: str | os.PathLike,
              size: tuple[int, int] = (900, 560), scale: float = 0.5) -> Path | None:
    """Write ``png``: the notebook's first plotly figure drawn at ``size`` px and shrunk by ``scale``;
    None when the notebook has no plotly figure."""
    fig = first_figure(notebook)
    if fig is None:
        return None
    js = Path(plotly_js).resolve().as_uri()
    page = _PAGE.format(js=js, figure=json.dumps(fig).replace("</", "<\\/"), w=size[0], h=size[1])
    with tempfile.TemporaryDirectory(prefix="wb-thumb-") as tmp:
        html = Path(tmp) / "thumb.html"
        html.write_text(page)
        shot = screenshot(html, png, window_size=size, scale=scale)
    from PIL import Image

    Image.open(shot).convert("RGB").quantize(256).save(shot, optimize=True)  # a palette PNG: ~3x smaller
    return shot
