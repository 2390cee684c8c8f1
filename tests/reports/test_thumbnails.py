"""Index thumbnails: a notebook's first plotly figure, drawn alone by headless Chromium."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import plotly.graph_objects as go
import pytest

from workbench.reports.browser import find_chromium
from workbench.reports.export import write_plotlyjs
from workbench.reports.thumbnails import first_figure, thumbnail


def _notebook(path, figures):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    cell.outputs += [nbformat.v4.new_output("display_data", data={"application/vnd.plotly.v1+json": json.loads(f.to_json())})
                     for f in figures]
    nb.cells = [cell]
    nbformat.write(nb, path)
    return path


def test_first_figure_is_the_first_plotly_output(tmp_path):
    a, b = go.Figure(go.Bar(y=[1, 2]), layout={"title": "first"}), go.Figure(go.Bar(y=[3]))
    assert first_figure(_notebook(tmp_path / "a.ipynb", [a, b]))["layout"]["title"]["text"] == "first"
    assert first_figure(_notebook(tmp_path / "none.ipynb", [])) is None


@pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (apt-get install chromium)")
def test_thumbnail_draws_the_figure(tmp_path):
    from PIL import Image

    z = np.zeros((20, 20))
    z[5:15, 5:15] = 1
    nb = _notebook(tmp_path / "a.ipynb", [go.Figure(go.Heatmap(z=z, colorscale="Greys"))])
    png = thumbnail(nb, tmp_path / "thumbs" / "a.png", write_plotlyjs(tmp_path))
    img = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert img.shape == (280, 450) and img.min() < 60 and img.max() > 200  # the black square on white drawn
    assert thumbnail(_notebook(tmp_path / "b.ipynb", []), tmp_path / "b.png", tmp_path / "plotly.min.js") is None
