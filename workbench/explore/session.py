"""The explorer's model side: one classifier and one cohort, slice by slice (01_explore.ipynb).

``Explorer.from_run(RUN_DIR)`` loads the model and the cohort; ``view(row)`` runs one capture for a
slice (every method, both gradients) and caches it, so moving a threshold, head or stage slider
only re-draws. Figures come from :mod:`workbench.viz`; the widgets live in
:mod:`workbench.explore.widgets`.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn

from workbench.api import DEFAULT_METHODS, Explanation, explain
from workbench.data.dataset import SliceDataset, resize_crop
from workbench.evaluation import dice
from workbench.explore.maps import block_heads, stage_raw_maps
from workbench.explore.run import load_run
from workbench.models.ich import ich_index, ich_probability, model_task
from workbench.utils.devices import resolve_device
from workbench.operators.postprocess import rank_normalize
from workbench.utils.errors import check_choice, choice_error
from workbench.viz import head_grid, methods_figure, stage_grid, threshold_slider_figure, windowed

__all__ = ["SliceView", "Explorer", "parse_methods", "SCALES"]

# How a map is shown and thresholded: the evaluation's min-max scale, or each pixel's rank among the
# brain's pixels (for maps that live in a narrow band after min-max, e.g. rollout). Value: colour bar title.
SCALES = {"min-max": "map (min-max)", "brain rank": "map (rank in brain)"}
DICE_CACHE = 4096  # (row, method, scale, threshold) -> Dice entries kept by Explorer.dice
NARROW_BAND = 0.25  # in-brain span (min-max scale) under which a panel title states the band


def parse_methods(methods: str | Sequence[str]) -> tuple[str, ...]:
    """``"hgi_sam, gradcam"`` or a sequence -> ("hgi_sam", "gradcam"); "" or "all" = every default method."""
    from workbench.operators import REGISTRY

    names = [m.strip() for m in methods.split(",")] if isinstance(methods, str) else list(methods)
    names = [m for m in names if m]
    if not names or names == ["all"]:
        return DEFAULT_METHODS
    for m in names:
        if m not in REGISTRY:
            raise choice_error("method", m, REGISTRY)
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class SliceView:
    """One analysed slice: windowed channels (C, S, S), HU resized (S, S), masks (S, S), the
    detection probability and every method's map with its capture."""

    row: int
    image: torch.Tensor
    hu: torch.Tensor
    mask: torch.Tensor
    brain: torch.Tensor
    prob: float
    explained: Explanation
    _ranked: dict = field(default_factory=dict, init=False, repr=False, compare=False)  # {method: brain-rank map}, filled on use
    _bands: dict = field(default_factory=dict, init=False, repr=False, compare=False)  # {method: (min, max)}, filled on use

    def map(self, method: str, scale: str = "min-max") -> torch.Tensor:
        """(S, S) map in [0, 1] on ``scale`` (:data:`SCALES`)."""
        if method not in self.explained.maps:
            raise choice_error("method", method, self.explained.maps)
        check_choice("scale", scale, SCALES)
        heat = self.explained.maps[method][0]
        if scale != "brain rank":
            return heat
        if method not in self._ranked:  # a dice and a figure per step on the same view: rank once
            self._ranked[method] = rank_normalize(heat[None], self.brain[None] > 0.5)[0]
        return self._ranked[method]

    def band(self, method: str) -> tuple[float, float]:
        """(min, max) of the min-max map inside the brain: a narrow band (e.g. 0.94-1.0) shows as flat."""
        if method not in self._bands:
            inside = self.map(method)[self.brain > 0.5]
            self._bands[method] = (float(inside.min()), float(inside.max())) if inside.numel() else (0.0, 0.0)
        return self._bands[method]


class Explorer:
    """A model and a cohort for interactive exploration; ``methods`` are computed for every slice."""

    def __init__(self, model: nn.Module, dataset: SliceDataset, methods: Sequence[str] = DEFAULT_METHODS,
                 cache_size: int = 16, device: str = "cpu"):
        self.device = resolve_device(device)
        self.model, self.dataset = model.eval().to(self.device), dataset
        self.methods = parse_methods(methods)
        self.target, self.task = ich_index(model), model_task(model)
        frame = dataset.frame
        self.subjects: list[str] = list(dict.fromkeys(frame["subject_id"].astype(str)))
        self._rows = {s: g.sort_values("slice_index").index.tolist()
                      for s, g in frame.assign(subject_id=frame["subject_id"].astype(str)).groupby("subject_id")}
        self._cache: OrderedDict[int, SliceView] = OrderedDict()
        self._dice: OrderedDict[tuple, float] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike = "", model: str = "binary", manifest: str | os.PathLike = "",
                 root: str | os.PathLike = "", methods: str | Sequence[str] = "", device: str = "cpu") -> "Explorer":
        """Load a run (see :func:`workbench.explore.run.resolve_run`) for exploration; ``device``:
        where the captures run (``auto`` / ``cpu`` / ``cuda``; the views are kept on the CPU)."""
        net, ds = load_run(run_dir, model, manifest, root)
        return cls(net, ds, parse_methods(methods), device=device)

    # -- navigation ------------------------------------------------------------------------------
    def slices(self, subject: int | str) -> list[int]:
        """Dataset rows of a subject (index into :attr:`subjects` or its id), in slice order."""
        sid = self.subjects[subject] if isinstance(subject, int) else str(subject)
        if sid not in self._rows:
            raise choice_error("subject", subject, self.subjects)
        return self._rows[sid]

    def row(self, subject: int | str, position: int) -> int:
        """Dataset row of the ``position``-th slice of ``subject`` (clamped to the subject's slices)."""
        rows = self.slices(subject)
        return rows[min(max(int(position), 0), len(rows) - 1)]

    def default_slice(self, subject: int | str = "") -> tuple[int, int]:
        """(subject index, slice position): the middle ICH slice of ``subject`` ("" = the first subject
        with a bleed); the middle slice of an ICH-free subject (not the skull base at slice 0), and of
        the first subject when the cohort has no bleed."""
        frame = self.dataset.frame
        order = range(len(self.subjects)) if subject == "" else [self.subject_index(subject)]
        for s in order:
            rows = self.slices(s)
            positive = [i for i, r in enumerate(rows) if frame.loc[r, "any"] == 1]
            if positive:
                return s, positive[len(positive) // 2]
        s = 0 if subject == "" else order[0]
        return s, len(self.slices(s)) // 2

    def subject_index(self, subject: int | str) -> int:
        if isinstance(subject, int):
            if not 0 <= subject < len(self.subjects):
                raise ValueError(f"subject index {subject} outside 0..{len(self.subjects) - 1}")
            return subject
        if str(subject) not in self.subjects:
            raise choice_error("subject", subject, self.subjects)
        return self.subjects.index(str(subject))

    def label(self, row: int) -> str:
        """``subject ID · slice k/n``: k is 1-based within the subject, as the slice slider shows it
        (the file's own 0-based slice index may differ: it is in the dataset frame)."""
        sid = str(self.dataset.frame.loc[row, "subject_id"])
        rows = self._rows[sid]
        return f"subject {sid} · slice {rows.index(row) + 1}/{len(rows)}"

    # -- computation -----------------------------------------------------------------------------
    def view(self, row: int) -> SliceView:
        """Capture slice ``row`` once (all methods, both gradients); cached."""
        if row in self._cache:
            self._cache.move_to_end(row)
            return self._cache[row]
        item = self.dataset[row]
        hu, _, _ = self.dataset.load_hu(row)
        hu = resize_crop(torch.as_tensor(hu, dtype=torch.float32)[None], self.dataset.size,
                         self.dataset.resize_factor)[0]
        image = item["image"][None]
        explained = explain(self.model, image.to(self.device), self.methods, self.target,
                            item["brain_mask"][None].to(self.device), normalize=True, gradients=("logits", "probs"),
                            return_capture=True)
        if self.device.type != "cpu":  # figures and cached views live on the CPU
            explained = Explanation({k: v.cpu() for k, v in explained.maps.items()}, explained.result.to("cpu"))
        prob = float(ich_probability(self.task, explained.result.logits)[0])
        view = SliceView(row, item["image"], hu, item["mask"], item["brain_mask"], prob, explained)
        self._cache[row] = view
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return view

    def dice(self, row: int, threshold: float, methods: Sequence[str] | None = None,
             scale: str = "min-max") -> dict[str, float]:
        """Dice of ``map > threshold`` (map on ``scale``) per method on slice ``row`` (NaN when the
        slice has no lesion)."""
        v, out = self.view(row), {}
        for m in (methods or self.methods):
            key = (row, m, scale, float(threshold))  # the info line and the figure of one step ask alike
            if key not in self._dice:
                self._dice[key] = float(dice(v.map(m, scale)[None] > threshold, v.mask[None] > 0.5)[0])
                if len(self._dice) > DICE_CACHE:
                    self._dice.popitem(last=False)
            out[m] = self._dice[key]
        return out

    # -- figures ---------------------------------------------------------------------------------
    def methods_figure(self, row: int, methods: Sequence[str] | None = None, window: str = "brain",
                       threshold: float = 0.5, scale: str = "min-max") -> go.Figure:
        """The slice (``window`` preset) with each method's map on ``scale`` (:data:`SCALES`), GT and
        predicted contours, live Dice. On the min-max scale a map whose in-brain values span less than
        :data:`NARROW_BAND` has its band in the panel title (it shows as flat)."""
        v = self.view(row)
        methods = list(methods or self.methods)
        scores = self.dice(row, threshold, methods, scale)
        titles = {}
        for m in methods:
            text = f"{m} · Dice {scores[m]:.3f}" if np.isfinite(scores[m]) else f"{m} · no lesion"
            lo, hi = v.band(m)
            if scale == "min-max" and hi - lo < NARROW_BAND:
                text += f" · brain {lo:.2f}-{hi:.2f}"
            titles[m] = text
        return methods_figure(windowed(v.hu, window), {m: v.map(m, scale) for m in methods}, v.mask,
                              threshold=threshold, titles=titles, cols=min(len(methods), 4), scale=SCALES[scale],
                              title=f"{self.label(row)} · P(ICH) {v.prob:.2f} · threshold {threshold:.2f} on {scale} maps")

    def slider_figure(self, row: int, methods: Sequence[str] | None = None, window: str = "brain",
                      thresholds: Sequence[float] = tuple(np.round(np.arange(0.1, 0.95, 0.1), 2)),
                      start: float = 0.5) -> go.Figure:
        """Like :meth:`methods_figure` with plotly's own threshold slider (works in static reports)."""
        v = self.view(row)
        methods = list(methods or self.methods)
        thresholds = [float(t) for t in thresholds]
        scores = {m: [self.dice(row, t, [m])[m] for t in thresholds] for m in methods}
        first = int(np.argmin([abs(t - start) for t in thresholds]))
        return threshold_slider_figure(windowed(v.hu, window), {m: v.map(m) for m in methods}, v.mask, thresholds,
                                       dice=scores, start=first, cols=min(len(methods), 4),
                                       title=f"{self.label(row)} · P(ICH) {v.prob:.2f}")

    def heads(self, row: int, stage: int, block: int, gradient: str = "logits") -> tuple[torch.Tensor, torch.Tensor]:
        """(maps (h, T, T), weights (h,)) of block ``block`` of ``stage`` (both 1-based) on slice ``row``."""
        return block_heads(self.view(row).explained.result, stage, block, gradient)

    def heads_figure(self, row: int, stage: int, block: int, head: int | None = None,
                     gradient: str = "logits") -> go.Figure:
        """Every head of the chosen block (stage, block, head 1-based) with its gradient weight alpha."""
        maps, weights = self.heads(row, stage, block, gradient)
        wrt = "A (attention probs)" if gradient == "probs" else "S (attention logits)"
        return head_grid(maps, weights, selected=None if head is None else head - 1,
                         title=f"stage {stage}, block {block}: {maps.shape[0]} heads<br><span style='font-size:11px'>"
                               f"α = ‖∂ score / ∂ {wrt}‖_F, window mean, % of largest · "
                               f"<span style='color:#1060d0'>★ largest</span> · <span style='color:#d00'>selected</span>"
                               f"</span>")

    def stages_figure(self, row: int, heads: str = "none", gradient: str = "logits") -> go.Figure:
        """Raw per-stage maps (Swin-SAM with ``heads="none"``, HGI-SAM weighting with ``"gradnorm"``)."""
        maps = stage_raw_maps(self.view(row).explained.result, heads, gradient)
        how = {"none": "heads averaged (Swin-SAM)", "gradnorm": "heads weighted by gradient norm (HGI-SAM)"}
        return stage_grid(maps, title=f"raw per-stage maps, {how.get(heads, heads)}; token grids before upsampling")

    @property
    def blocks_per_stage(self) -> list[int]:
        """Blocks in each stage (the architecture's ``depths``)."""
        return list(self.model.workbench_config.arch.depths)

    @property
    def heads_per_stage(self) -> list[int]:
        """Attention heads in each stage."""
        return list(self.model.workbench_config.arch.num_heads)
