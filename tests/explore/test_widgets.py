"""The explorer's controls without a browser: callbacks fire on value changes (traitlets), ranges
follow the subject and the stage, and the info line follows the slice and the threshold."""

from __future__ import annotations

import plotly.io as pio
import pytest

from workbench.explore import Explorer
from workbench.explore.widgets import ExplorerApp


@pytest.fixture
def app(tiny_run, monkeypatch):
    monkeypatch.setattr(pio.renderers, "default", "json")  # fig.show() outside a kernel: print JSON
    ex = Explorer.from_run(tiny_run["demo"], methods="hgi_sam,swin_sam")
    subject, position = ex.default_slice()
    return ExplorerApp(ex, subject=subject, position=position, threshold=0.4)


def test_controls_redraw_and_follow_each_other(app):
    ex = app.ex
    assert ex.label(app.row) in app.info.value and "threshold 0.40" in app.info.value
    app.threshold.value = 0.7
    assert "threshold 0.70" in app.info.value
    old = app.row
    assert app.subject.min == app.position.min == 1 and app.subject.max == len(ex.subjects)  # 1-based, as shown
    app.position.value = app.position.value % app.position.max + 1
    assert app.row != old and ex.label(app.row) in app.info.value
    assert f"slice {app.position.value}/{app.position.max}" in app.info.value  # the label counts like the slider
    app.subject.value = app.subject.value % len(ex.subjects) + 1
    assert app.position.max == len(ex.slices(app.subject.value - 1))
    assert ex.label(app.row).startswith(f"subject {ex.subjects[app.subject.value - 1]}")
    app.stage.value = 2
    assert (app.block.max, app.head.max) == (2, 2)  # test-tiny stage 2: 2 blocks, 2 heads
    app.head.value, app.gradient.value = 2, "probs"
    app.methods.value = ("swin_sam",)
    assert "swin_sam" in app.info.value and "hgi_sam" not in app.info.value


def test_each_control_updates_only_its_figures_in_place(app, monkeypatch):
    calls = []
    for name in ("methods_figure", "heads_figure", "stages_figure"):
        real = getattr(app.ex, name)
        monkeypatch.setattr(app.ex, name, lambda *a, _real=real, _n=name, **k: calls.append(_n) or _real(*a, **k))
    main, heads = app.main.figure, app.heads_out.figure
    app.threshold.value = 0.3
    app.window.value = "subdural"
    assert calls == ["methods_figure", "methods_figure"] and app.main.figure is main  # synced, not re-created
    calls.clear()
    app.stage.value = 2  # test-tiny: stage 1 has one head, stage 2 two: a new widget
    calls.clear()
    heads = app.heads_out.figure
    app.head.value = 2
    assert calls == ["heads_figure"] and app.heads_out.figure is heads
    calls.clear()
    app.position.value = app.position.value % app.position.max + 1
    assert sorted(calls) == ["heads_figure", "methods_figure", "stages_figure"] and app.main.figure is main
    app.scale.value = "brain rank"
    assert "on brain rank maps" in app.info.value and app.main.figure.layout.coloraxis.colorbar.title.text == "map (rank in brain)"
    app.methods.value = ("swin_sam",)  # another structure: a new widget in the same box
    assert app.main.figure is not main and app.main.box.children == (app.main.figure,)


def test_bad_window_names_the_presets(tiny_run):
    ex = Explorer.from_run(tiny_run["demo"], methods="hgi_sam")
    with pytest.raises(ValueError, match="unknown window preset 'lung'; valid choices: brain"):
        ExplorerApp(ex, window="lung")
