"""The live explorer's controls (ipywidgets) around an :class:`~workbench.explore.session.Explorer`.

Each figure is a plotly ``FigureWidget`` (anywidget) updated in place: a control rebuilds only the
figures it affects, and :func:`workbench.viz.live.sync_figure` sends the browser only what changed
(a threshold step moves the red contours and the titles; a slice step sends the new arrays), so a
step on a cached slice costs a restyle, not a new plot. Sliders: subject, slice, threshold, stage,
block, head; dropdowns: CT window, map scale, gradient; a multi-select of the methods shown. Batch
runs (papermill, reports) do not build this app: they show static figures.
"""

from __future__ import annotations

import contextlib
from typing import Sequence

import ipywidgets as w
import numpy as np
import plotly.graph_objects as go

from workbench.data.windowing import WINDOW_PRESETS
from workbench.explore.session import SCALES, Explorer
from workbench.utils.errors import check_choice
from workbench.viz.live import same_structure, sync_figure

__all__ = ["ExplorerApp", "LiveFigure"]


class LiveFigure:
    """A ``FigureWidget`` in a box: :meth:`show` updates it in place when the new figure has the same
    structure, else swaps in a new widget (e.g. another set of methods, another number of heads)."""

    def __init__(self):
        self.box = w.Box(layout={"width": "100%"})
        self.figure: go.FigureWidget | None = None

    def show(self, fig: go.Figure) -> None:
        if self.figure is not None and same_structure(self.figure, fig):
            sync_figure(self.figure, fig)
        else:
            self.figure = go.FigureWidget(fig)
            self.box.children = (self.figure,)


class ExplorerApp:
    """``ExplorerApp(explorer).widget`` is the whole UI; the figures are redrawn on every change.

    Every number shown is 1-based: subject and slice (the k-th subject of the cohort, the k-th slice
    of the subject), stage, block and head (like the operators' ``stages`` option). The ``subject`` and
    ``position`` arguments are 0-based indices, as :meth:`Explorer.default_slice` returns them.
    """

    def __init__(self, explorer: Explorer, methods: Sequence[str] | None = None, subject: int = 0,
                 position: int = 0, window: str = "brain", threshold: float = 0.5, stage: int = 1,
                 block: int = 1, head: int = 1, gradient: str = "logits", scale: str = "min-max"):
        check_choice("window preset", window, WINDOW_PRESETS)
        check_choice("scale", scale, SCALES)
        self.ex = explorer
        self._quiet = False
        slider = {"continuous_update": False, "style": {"description_width": "70px"}}
        self.subject = w.IntSlider(value=subject + 1, min=1, max=len(explorer.subjects), description="subject", **slider)
        self.position = w.IntSlider(value=position + 1, min=1, max=len(explorer.slices(subject)),
                                    description="slice", **slider)
        self.threshold = w.FloatSlider(value=threshold, min=0.0, max=0.99, step=0.01, description="threshold",
                                       readout_format=".2f", tooltip="acts on the maps of the chosen scale", **slider)
        self.window = w.Dropdown(options=list(WINDOW_PRESETS), value=window, description="CT window")
        self.scale = w.Dropdown(options=list(SCALES), value=scale, description="map scale",
                                tooltip="min-max: the evaluation's scale; brain rank: each pixel's rank in the brain")
        self.methods = w.SelectMultiple(options=list(explorer.methods), value=tuple(methods or explorer.methods),
                                        rows=min(len(explorer.methods), 7), description="methods")
        stages = len(explorer.blocks_per_stage)
        self.stage = w.IntSlider(value=stage, min=1, max=stages, description="stage", **slider)
        self._slider = slider
        self.block = self._ranged("block", block, explorer.blocks_per_stage[stage - 1])
        self.head = self._ranged("head", head, explorer.heads_per_stage[stage - 1])
        self.gradient = w.Dropdown(options=["logits", "probs"], value=gradient, description="gradient")
        self.info = w.HTML()
        self.main, self.heads_out, self.stages_out = LiveFigure(), LiveFigure(), LiveFigure()
        self.position.observe(self._on_slice, names="value")
        for control in (self.window, self.threshold, self.methods, self.scale):
            control.observe(self._on_main, names="value")
        self.gradient.observe(self._on_heads, names="value")  # block / head: observed by _ranged
        self.subject.observe(self._on_subject, names="value")
        self.stage.observe(self._on_stage, names="value")
        self.head_controls = w.HBox([self.stage, self.block, self.head, self.gradient])
        self.widget = w.VBox([
            w.HBox([w.VBox([self.subject, self.position, self.threshold]), w.VBox([self.window, self.scale]),
                    self.methods]),
            self.info, self.main.box,
            self.head_controls,
            self.heads_out.box, self.stages_out.box,
        ])
        self.redraw()

    @property
    def row(self) -> int:
        return self.ex.row(self.subject.value - 1, self.position.value - 1)

    @contextlib.contextmanager
    def _batch(self):
        """Change several controls while their callbacks stay quiet; redraw once afterwards."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def _on_subject(self, change) -> None:
        with self._batch():
            subject = change["new"] - 1
            _, position = self.ex.default_slice(subject)
            n = len(self.ex.slices(subject))
            if self.position.value > n:  # keep the value inside the new range before the range moves
                self.position.value = n
            self.position.max = n
            self.position.value = position + 1
        self.redraw()

    def _ranged(self, name: str, value: int, top: int) -> w.IntSlider:
        """A 1-based block / head slider of range 1..``top`` that redraws the head grid."""
        slider = w.IntSlider(value=min(value, top), min=1, max=top, description=name, **self._slider)
        slider.observe(self._on_heads, names="value")
        return slider

    def _on_stage(self, change) -> None:
        """New block and head sliders for the stage's ranges: the browser's slider keeps its first
        range for the End key when only ``max`` changes (End stopped at 3 of 24 heads)."""
        s = change["new"] - 1
        old = (self.block, self.head)
        self.block = self._ranged("block", self.block.value, self.ex.blocks_per_stage[s])
        self.head = self._ranged("head", self.head.value, self.ex.heads_per_stage[s])
        self.head_controls.children = (self.stage, self.block, self.head, self.gradient)
        for slider in old:
            slider.close()
        self._draw_heads()

    def _on_slice(self, change) -> None:
        if not self._quiet:
            self.redraw()

    def _on_main(self, change) -> None:
        if not self._quiet:
            self._draw_main()

    def _on_heads(self, change) -> None:
        if not self._quiet:
            self._draw_heads()

    def redraw(self) -> None:
        """Every figure for the current controls."""
        self._draw_main()
        self._draw_heads()
        self._draw_stages()

    def _draw_main(self) -> None:
        methods = list(self.methods.value) or list(self.ex.methods[:1])
        scale = self.scale.value
        scores = self.ex.dice(self.row, self.threshold.value, methods, scale)
        shown = ", ".join(f"{m} {v:.3f}" for m, v in scores.items() if np.isfinite(v)) or "no lesion on this slice"
        self.info.value = (f"<b>{self.ex.label(self.row)}</b> · P(ICH) {self.ex.view(self.row).prob:.3f} · "
                           f"Dice at threshold {self.threshold.value:.2f} on {scale} maps: {shown}")
        self.main.show(self.ex.methods_figure(self.row, methods, self.window.value, self.threshold.value, scale))

    def _draw_heads(self) -> None:
        self.heads_out.show(self.ex.heads_figure(self.row, self.stage.value, self.block.value, self.head.value,
                                                 self.gradient.value))

    def _draw_stages(self) -> None:
        self.stages_out.show(self.ex.stages_figure(self.row))
