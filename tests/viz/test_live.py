"""In-place updates of a live FigureWidget: only what changed is sent, the result equals the new figure."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
import torch

from workbench.viz import head_grid, methods_figure
from workbench.viz.live import same_structure, sync_figure, trace_changes


@pytest.fixture
def scene():
    g = torch.Generator().manual_seed(1)
    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[4:8, 5:9] = True
    return torch.rand(16, 16, generator=g), mask, {"a": torch.rand(16, 16, generator=g), "b": torch.rand(16, 16, generator=g)}


def _assert_shows(widget: go.FigureWidget, fig: go.Figure) -> None:
    for shown, want in zip(widget.data, fig.data):
        a, b = shown.to_plotly_json(), want.to_plotly_json()
        a.pop("uid", None), b.pop("uid", None)
        assert trace_changes(a, b) == {}
    assert [x.text for x in widget.layout.annotations] == [x.text for x in fig.layout.annotations]
    assert widget.layout.title.text == fig.layout.title.text


def test_a_threshold_step_sends_only_the_prediction_contours(scene):
    image, mask, maps = scene
    widget = go.FigureWidget(methods_figure(image, maps, mask, threshold=0.5, title="t 0.5"))
    new = methods_figure(image, maps, mask, threshold=0.8, title="t 0.8")
    changes = [trace_changes(o.to_plotly_json(), n.to_plotly_json()) for o, n in zip(widget.data, new.data)]
    changed = {t.name for t, c in zip(new.data, changes) if c and set(c) - {"uid"}}
    assert changed == {"prediction"}  # no heatmap array is resent
    assert sync_figure(widget, new) == 2
    _assert_shows(widget, new)
    assert sync_figure(widget, new) == 0  # nothing left to send


def test_a_slice_step_replaces_the_arrays_in_place(scene):
    image, mask, maps = scene
    widget = go.FigureWidget(methods_figure(image, maps, mask, threshold=0.5))
    other = {k: v.flip(0) for k, v in maps.items()}
    new = methods_figure(1 - image, other, mask.flip(1), threshold=0.5, titles={"a": "A", "b": "B"})
    assert sync_figure(widget, new) == len(new.data) - 1  # all but the (unchanged) colour bar trace
    _assert_shows(widget, new)
    assert widget.data[1].source == new.data[1].source  # the map's PNG


def test_another_structure_is_refused(scene):
    image, mask, maps = scene
    widget = go.FigureWidget(methods_figure(image, maps, mask, threshold=0.5))
    fewer = methods_figure(image, {"a": maps["a"]}, mask, threshold=0.5)
    assert not same_structure(widget, fewer)
    with pytest.raises(ValueError, match="does not match the widget's 9"):
        sync_figure(widget, fewer)
    heads = go.FigureWidget(head_grid(torch.rand(3, 4, 4), torch.tensor([1.0, 2.0, 3.0]), selected=0))
    moved = head_grid(torch.rand(3, 4, 4), torch.tensor([1.0, 2.0, 3.0]), selected=2)
    assert same_structure(heads, moved) and sync_figure(heads, moved) == 3
    _assert_shows(heads, moved)
