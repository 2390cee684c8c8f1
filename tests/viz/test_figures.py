"""Figure builders: trace structure, booleans cast to numbers, shared colour bars, sliders, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from workbench.viz.arrays import levels
from workbench.viz.overlay import colour_table
from workbench.viz import (Panel, bland_altman, grouped_bars, head_grid, matrix_figure, methods_figure, metric_box,
                           panels_figure, roc_figure, scatter_figure, slice_figure, stage_grid, table_html,
                           threshold_curves, threshold_slider_figure, windowed)
from workbench.viz.arrays import as_array


@pytest.fixture
def scene():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(16, 16, generator=g)
    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[4:8, 5:9] = True
    maps = {"a": torch.rand(16, 16, generator=g), "b": torch.rand(16, 16, generator=g)}
    return image, mask, maps


def _pixels(trace) -> np.ndarray:
    """The pixels of an image trace's PNG data URI."""
    import base64
    import io

    from PIL import Image

    head, data = trace.source.split(",", 1)
    assert head == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))


def test_booleans_become_numbers():
    arr = as_array(torch.tensor([[True, False]]))
    assert arr.dtype == np.float64 and arr.tolist() == [[1.0, 0.0]]
    fig = slice_figure(np.zeros((4, 4)), heat=np.ones((4, 4), dtype=bool))
    rgba = _pixels(fig.data[1])
    assert rgba.shape == (4, 4, 4) and (rgba[..., 3] == 128).all()  # drawn everywhere, at the overlay's alpha
    assert (rgba[..., :3] == colour_table()[255]).all()  # True = the top of the colour scale


def test_slice_figure_layers_and_axes(scene):
    image, mask, maps = scene
    fig = slice_figure(image, maps["a"], mask, maps["a"] > 0.5, title="t", name="hgi_sam")
    kinds = [t.type for t in fig.data]
    assert kinds == ["image", "image", "heatmap", "scatter", "scatter"]  # CT, map, the map's colour bar, contours
    ct = _pixels(fig.data[0])
    assert ct.ndim == 2 and ct.tolist() == levels(image.numpy()).tolist()  # grey levels of the windowed slice
    assert fig.data[2].colorbar.title.text == "hgi_sam" and fig.data[2].opacity == 0 and fig.data[2].showscale
    assert [t.name for t in fig.data[3:]] == ["ground truth", "prediction"]
    h, w = image.shape[-2:]  # framed on the pixel edges, row 0 on top
    assert fig.layout.yaxis.range == (h - 0.5, -0.5) and fig.layout.yaxis.scaleanchor == "x"
    assert fig.layout.xaxis.range == (-0.5, w - 0.5) and fig.layout.xaxis.autorange is False


def test_a_whole_image_prediction_does_not_shrink_its_panel(scene):
    """plotly padded the autorange around a contour on the image border: that panel drew smaller."""
    image, mask, maps = scene
    whole = {"everywhere": torch.ones_like(maps["a"]), "a": maps["a"]}
    fig = methods_figure(image, whole, mask, threshold=0.5)
    h, w = image.shape[-2:]
    xs = [fig.layout[f"xaxis{s}"].range for s in ("", "2")]
    ys = [fig.layout[f"yaxis{s}"].range for s in ("", "2")]
    assert xs == [(-0.5, w - 0.5)] * 2 and ys == [(h - 0.5, -0.5)] * 2
    border = fig.data[4]  # the first panel's prediction contour runs along the pixel edges
    assert border.name == "prediction" and np.nanmin(border.x) == -0.5


def test_windowed_applies_the_preset():
    hu = np.array([[0.0, 40.0, 80.0, 1000.0]])
    assert windowed(hu, "brain").tolist() == [[0.0, 0.5, 1.0, 1.0]]  # centre 40, width 80
    with pytest.raises(ValueError, match="brain"):
        windowed(hu, "lung")


def test_methods_figure_one_panel_per_method_with_shared_colour_axis(scene):
    image, mask, maps = scene
    fig = methods_figure(image, maps, mask, threshold=0.5, titles={"a": "A!"})
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 1 and heat[0].coloraxis == "coloraxis"  # one shared colour bar
    assert sum(t.type == "image" for t in fig.data) == 4  # CT + map per panel
    assert [a.text for a in fig.layout.annotations] == ["A!", "b", "R", "L", "R", "L"]  # titles, then R / L marks
    assert fig.layout.annotations[3].xref == "x domain" and fig.layout.annotations[5].xref == "x2 domain"
    assert fig.layout.coloraxis.colorbar.title.text == "map (min-max)"
    assert sum(t.name == "prediction" for t in fig.data) == 2
    assert sum(t.showlegend is not False for t in fig.data if t.type == "scatter") == 2  # legend once
    assert fig.layout.yaxis2.scaleanchor == "x2" and fig.layout.yaxis2.range[0] > fig.layout.yaxis2.range[1]  # row 0 on top


def test_panels_figure_grid_shape(scene):
    image, mask, maps = scene
    fig = panels_figure([Panel(image, maps["a"], mask, title=str(i)) for i in range(5)], cols=2)
    assert len(fig.layout.annotations) == 5 + 2 * 5 and fig.layout.yaxis5.anchor == "x5"


def test_many_panels_keep_the_colour_bar_inside_a_notebook_output_area(scene):
    """Four 260 px panels once made a 1,160 px figure whose colour bar fell outside a 1,064 px output."""
    image, mask, maps = scene
    for n in (4, 5, 7):
        fig = panels_figure([Panel(image, maps["a"], mask, title=str(i)) for i in range(n)], cols=4)
        assert fig.layout.width <= 1000


def test_threshold_slider_toggles_one_contour_per_method_and_threshold(scene):
    image, mask, maps = scene
    fig = threshold_slider_figure(image, maps, mask, [0.2, 0.5, 0.8], dice={"a": [0.1, 0.2, 0.3], "b": [0, 0, 0]},
                                  start=1)
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["0.20", "0.50", "0.80"] and fig.layout.sliders[0].active == 1
    base = len(fig.data) - 6
    for q, step in enumerate(steps):
        visible = step.args[0]["visible"]
        assert visible[:base] == [True] * base and sum(visible[base:]) == 2
        assert [bool(v) for v in visible[base + 2 * q: base + 2 * q + 2]] == [True, True]
        assert step.args[1]["annotations"][0]["text"].endswith(f"Dice {[0.1, 0.2, 0.3][q]:.3f}")
        assert [a["text"] for a in step.args[1]["annotations"][2:]] == ["R", "L", "R", "L"]  # marks survive a step
    with pytest.raises(ValueError, match="outside"):
        threshold_slider_figure(image, maps, mask, [0.5], start=3)


def test_head_grid_titles_carry_weights_and_mark_the_selected_head():
    fig = head_grid(torch.rand(3, 4, 4), torch.tensor([0.5, 2.0, 0.25]), selected=1)
    texts = [a.text for a in fig.layout.annotations]
    assert "head 1 · α=0.5 (25 %)" in texts[0] and "★ head 2 · α=2 (100 %)" in texts[1] and "#d00" in texts[1]
    texts = [a.text for a in head_grid(torch.rand(3, 4, 4), torch.tensor([0.5, 2.0, 0.25]), selected=0).layout.annotations]
    assert "#d00" in texts[0] and "#1060d0" in texts[1] and "★" in texts[1] and "<b" not in texts[2]  # selected vs largest
    with pytest.raises(ValueError, match="2 head weights for 3 heads"):
        head_grid(torch.rand(3, 4, 4), [1.0, 2.0])


def test_stage_grid_is_one_based_with_grid_sizes():
    fig = stage_grid({1: np.zeros((8, 8)), 2: np.zeros((4, 4))})  # keys as operators.stage_maps gives them
    assert [a.text for a in fig.layout.annotations] == ["stage 1 (8x8)", "stage 2 (4x4)"]


def test_stage_maps_of_tiny_magnitude_keep_their_distinct_values():
    """A raw stage map lives around 1e-4: fixed-decimal rounding once flattened it to 3 values."""
    z = 2.3e-4 + 2e-5 * np.random.default_rng(0).random((32, 32))
    fig = stage_grid({0: z})
    raw = np.asarray(fig.data[0].customdata, dtype=float)  # hover: the raw value
    assert len(np.unique(raw)) > 900
    assert np.abs(raw - z).max() <= (z.max() - z.min()) / 4096
    shown = np.asarray(fig.data[0].z, dtype=float)  # colour: the panel's own min-max
    assert shown.min() == 0 and shown.max() == 1 and len(np.unique(shown)) > 900
    assert list(fig.data[0].colorbar.ticktext) == ["min", "max"] and fig.data[0].showscale


@pytest.fixture
def slices() -> pd.DataFrame:
    return pd.DataFrame({"method": ["a"] * 4 + ["b"] * 4, "dice": [0.1, 0.2, np.nan, 0.4, 0.5, 0.6, 0.7, 0.8],
                         "label": [0, 1, 0, 1, 0, 1, 1, 0], "prob": [0.1, 0.9, 0.2, 0.8, 0.3, 0.4, 0.9, 0.2],
                         "pred_ml": [1.0, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0],
                         "true_ml": [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]})


def test_metric_box_drops_nan_and_counts(slices):
    fig = metric_box(slices, "dice")
    assert [t.name for t in fig.data] == ["a (n=3)", "b (n=4)"]
    with pytest.raises(ValueError, match="'dcie' not in the table; columns: method, dice"):
        metric_box(slices, "dcie")


def test_threshold_curves_mark_the_best_point():
    curves = pd.DataFrame({"method": ["a"] * 3, "threshold": [0.1, 0.2, 0.3], "dice": [0.2, 0.5, 0.4], "sem": 0.01})
    fig = threshold_curves(curves, band="sem")
    best = fig.data[-1]
    assert list(best.x) == [0.2] and list(best.y) == [0.5] and fig.data[0].fill == "toself"


def test_roc_auc_matches_scikit_learn(slices):
    from sklearn.metrics import roc_auc_score

    fig = roc_figure(slices)
    a = slices[slices.method == "a"]
    assert fig.data[1].name == f"a (AUC {roc_auc_score(a.label, a.prob):.3f})"


def test_bland_altman_bias_and_limits(slices):
    fig = bland_altman(slices, by=None)
    diff = slices.pred_ml - slices.true_ml
    assert f"bias {diff.mean():.2f}" in fig.data[0].name
    levels = sorted(s.y0 for s in fig.layout.shapes)
    assert levels == pytest.approx(sorted([diff.mean(), diff.mean() + 1.96 * diff.std(), diff.mean() - 1.96 * diff.std()]))


def test_bars_scatter_matrix_table(slices):
    subtypes = pd.DataFrame({"method": ["a", "a", "b"], "subtype": ["x", "y", "x"], "dice": [0.1, 0.2, 0.3], "sem": 0.1})
    assert len(grouped_bars(subtypes, error="sem").data) == 2
    assert scatter_figure(slices, "prob", "dice", by="method", text="method").layout.showlegend
    heads = pd.DataFrame({"block": ["s1", "s1", "s2"], "head": [1, 2, 1], "energy": [0.1, 0.2, 0.3]})
    z = np.asarray(matrix_figure(heads, "block", "head", "energy").data[0].z, dtype=float)
    assert z.shape == (2, 2) and np.isnan(z[1, 1])  # stage 2 has one head here
    many = pd.DataFrame({"method": [f"m{i}" for i in range(9)], "dice": np.linspace(0, 1, 9) / 3})
    page = table_html(many, title="a <b>study</b>").data  # every row, rounded, as a real table
    assert page.count("<tr") == 10 and "<td>0.333</td>" in page and "a &lt;b&gt;study&lt;/b&gt;</caption>" in page
    wide = table_html(pd.DataFrame({"volume_abs_error_ml": [1.5], "a_b": ["x_y"]})).data
    assert "<th>volume_<wbr>abs_<wbr>error_<wbr>ml</th>" in wide and "<td>x_y</td>" in wide  # headers only


def test_zero_map_pixels_are_transparent_so_the_ct_shows_through():
    heat = np.array([[0.0, 0.5], [1.0, 0.0]])
    fig = slice_figure(np.zeros((2, 2)), heat)
    rgba = _pixels(fig.data[1])
    assert rgba[..., 3].tolist() == [[0, 128], [128, 0]]  # zeros transparent, the rest at the overlay's alpha
    table = colour_table()
    assert rgba[0, 1, :3].tolist() == table[128].tolist() and rgba[1, 0, :3].tolist() == table[255].tolist()
    bar = fig.data[2]
    assert bar.colorscale[0][1] == "rgba(0,0,0,0)" and (bar.zmin, bar.zmax) == (0, 255)
    assert list(bar.colorbar.ticktext) == ["0", "0.25", "0.5", "0.75", "1"]  # labelled in map values


def test_colour_table_matches_plotly_jet():
    from plotly.colors import get_colorscale, unlabel_rgb

    table = colour_table("Jet")
    stops = get_colorscale("Jet")
    assert table[1].tolist() == list(unlabel_rgb(stops[0][1])) and table[255].tolist() == list(unlabel_rgb(stops[-1][1]))


def test_slice_images_are_drawn_as_8_bit_levels_to_keep_reports_small():
    """A 256 px gallery of 8 panels once weighed 8.4 MB (float64 typed arrays: 8 bytes a pixel)."""
    from workbench.viz.arrays import levels

    yy, xx = np.mgrid[:256, :256] / 255
    smooth = np.exp(-((xx - 0.5) ** 2 + (yy - 0.4) ** 2) * 8)  # maps and CT are smooth, unlike noise
    panels = [Panel(np.clip(smooth * (1 + i / 10), 0, 1), smooth ** (i + 1), title=str(i)) for i in range(8)]
    fig = panels_figure(panels, cols=4)
    assert sum(t.type == "image" for t in fig.data) == 16
    assert len(fig.to_json()) < 600_000  # 8 panels of 256 px: CT + map PNGs
    assert levels(np.array([0.0, 0.5, 1.0, 2.0, np.nan])).tolist() == [0, 128, 255, 255, 0]
    assert levels(np.array([2.0, 3.0]), lo=2.0, hi=4.0, clear=True).tolist() == [1, 128]


def test_png_encodings_are_remembered_by_content_and_shape():
    """The explorer re-encodes the same slice on every step: a repeat is served from the cache, and
    the same bytes in another shape or other bytes in the same shape are encoded anew."""
    import base64
    import io

    from PIL import Image

    from workbench.viz import arrays

    pixels = (np.arange(16, dtype=np.uint8) * 16).reshape(4, 4)
    first = arrays.png_uri(pixels)
    assert arrays.png_uri(pixels.copy()) is first  # served from the cache
    wide = arrays.png_uri(pixels.reshape(2, 8))
    other = arrays.png_uri(pixels[::-1].copy())

    def decoded(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))

    assert decoded(wide).shape == (2, 8) and decoded(first).shape == (4, 4)
    np.testing.assert_array_equal(decoded(other), pixels[::-1])
    for i in range(arrays.PNG_CACHE_SIZE + 1):  # bounded: the oldest entry goes
        arrays.png_uri(np.full((1, 2), i % 256, dtype=np.uint8) + np.array([[0, i // 256]], dtype=np.uint8))
    assert arrays.png_uri(pixels) is not first and arrays.png_uri(pixels) == first


def test_group_colours_stay_distinct_for_a_full_study():
    """A study of 12 weak methods and 2 baselines drew two methods in the same colour (plotly's palette
    has 10); up to 24 names each gets its own."""
    from workbench.protocol.config import PROTOCOL_METHODS
    from workbench.viz.stats import group_colors

    assert len(PROTOCOL_METHODS) > 10
    for n in (3, 10, len(PROTOCOL_METHODS), 24):
        names = [f"m{i}" for i in range(n)]
        assert len(set(group_colors(names).values())) == n
    assert group_colors(["a", "b"]) == group_colors(["a", "b"])  # stable
