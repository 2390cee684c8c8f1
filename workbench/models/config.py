"""The record a trained classifier carries: task, class names and the timm architecture.

A :class:`ModelConfig` is a frozen dataclass of plain values. It is saved as JSON beside the
safetensors weights (:mod:`workbench.models.checkpoint`), so a model can be rebuilt and loaded
without unpickling anything.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from workbench.data.dataset import ADJACENT_MM, DEFAULT_INPUT_MARGIN_MM, INPUT_MASKS
from workbench.data.labels import LABEL_COLUMNS
from workbench.utils.config import JsonConfig
from workbench.utils.errors import check_choice

__all__ = ["TASKS", "GLOBAL_POOLS", "STEMS", "BINARY_CLASSES", "JsonConfig", "SwinArch", "ModelConfig", "default_class_names"]

TASKS: tuple[str, ...] = ("binary", "multilabel")
"""Learning strategies: ``binary`` (2 logits, CE, class 1 = ICH) or ``multilabel`` (6 sigmoids)."""

GLOBAL_POOLS: tuple[str, ...] = ("avg", "max", "avgmax")
STEMS: tuple[str, ...] = ("patch", "conv")
"""Patch embedding: ``patch`` (timm's p x p projection) or ``conv`` (a convolutional stem, Xiao et al.,
"Early convolutions help transformers see better", NeurIPS 2021: log2(p) stride-2 3x3 convolutions with
batch norm and ReLU, then a 1x1 projection; the same token grid)."""
"""Token pooling before the classifier head (timm ``SelectAdaptivePool2d`` types)."""

BINARY_CLASSES: tuple[str, ...] = ("no_ich", "ich")
"""Class names of the binary task; logit 1 is ICH."""


def default_class_names(task: str) -> tuple[str, ...]:
    """Class names of ``task``: :data:`BINARY_CLASSES` or :data:`LABEL_COLUMNS` (any + 5 subtypes)."""
    check_choice("task", task, TASKS)
    return BINARY_CLASSES if task == "binary" else tuple(LABEL_COLUMNS)


@dataclass(frozen=True)
class SwinArch(JsonConfig):
    """Keyword arguments of :class:`timm.models.swin_transformer.SwinTransformer` (minus classes).

    ``img_size`` S gives stage grids S/p, S/2p, ... tokens for patch size p. ``global_pool``
    pools the last stage's tokens before the linear head: ``avg`` (timm's default, the paper's
    Swin-B) or ``max`` / ``avgmax``, which keep a lesion covering one or two of the 4 x 4 final
    tokens from being averaged away (docs/guide/training.md has the measurements).
    """

    img_size: int = 128
    patch_size: int = 4
    in_chans: int = 3
    embed_dim: int = 48
    depths: tuple[int, ...] = (2, 2, 2, 2)
    num_heads: tuple[int, ...] = (3, 6, 12, 24)
    window_size: int | tuple[int, ...] = 8
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.1
    global_pool: str = "avg"
    stem: str = "patch"

    def __post_init__(self):
        check_choice("global_pool", self.global_pool, GLOBAL_POOLS)
        check_choice("stem", self.stem, STEMS)
        windows = self.window_size if isinstance(self.window_size, tuple) else (self.window_size,)
        sizes = {"img_size": (self.img_size,), "patch_size": (self.patch_size,), "in_chans": (self.in_chans,),
                 "embed_dim": (self.embed_dim,), "depths": self.depths, "num_heads": self.num_heads,
                 "window_size": windows}
        bad = {k: v for k, v in sizes.items() if not v or not all(isinstance(x, int) and x >= 1 for x in v)}
        if bad:
            raise ValueError(f"architecture sizes must be positive integers; got {bad}")
        if not (self.mlp_ratio > 0 and 0.0 <= self.drop_path_rate < 1.0):
            raise ValueError(f"need mlp_ratio > 0 and 0 <= drop_path_rate < 1 (got {self.mlp_ratio}, {self.drop_path_rate})")
        if len(self.depths) != len(self.num_heads):
            raise ValueError(f"depths {self.depths} and num_heads {self.num_heads} must have the same length")
        if self.img_size % self.patch_size:
            raise ValueError(f"img_size {self.img_size} is not a multiple of patch_size {self.patch_size}")

    def timm_kwargs(self) -> dict[str, Any]:
        """The arguments to pass to ``SwinTransformer`` (tuples as tuples; ``stem`` is applied after)."""
        kwargs = dataclasses.asdict(self)
        del kwargs["stem"]
        return kwargs


@dataclass(frozen=True)
class ModelConfig(JsonConfig):
    """Everything needed to rebuild a classifier: ``task``, ``class_names`` and ``arch``.

    ``preset`` names the preset it came from (``"custom"`` for a user-built timm Swin);
    ``windows`` are the CT windows of the input channels, in channel order; ``input_mask`` /
    ``input_margin_mm`` say whether the input was skull-stripped (``SliceDataset``'s arguments of the
    same names). ``adjacent_slices`` / ``adjacent_mm``: a 2.5D input of the slices that far on each side,
    stacked slice-major with the slice's own windows (0: the slice alone, the paper's input).
    Every dataset that feeds this model is built from :meth:`input_kwargs`.
    ``pretrained`` / ``pretrained_sha256``: what the backbone started from ("" = random init), so a
    run says what it started from.
    """

    task: str
    class_names: tuple[str, ...]
    arch: SwinArch = field(default_factory=SwinArch)
    preset: str = "custom"
    windows: tuple[str, ...] = ("brain", "subdural", "bone")
    input_mask: str = "none"
    input_margin_mm: float = DEFAULT_INPUT_MARGIN_MM
    adjacent_slices: int = 0
    adjacent_mm: float = ADJACENT_MM
    pretrained: str = ""
    pretrained_sha256: str = ""

    def __post_init__(self):
        check_choice("task", self.task, TASKS)
        check_choice("input mask", self.input_mask, INPUT_MASKS)
        if not (isinstance(self.adjacent_slices, int) and self.adjacent_slices >= 0 and self.adjacent_mm > 0):
            raise ValueError(f"need adjacent_slices >= 0 (an integer) and adjacent_mm > 0; got "
                             f"{self.adjacent_slices!r}, {self.adjacent_mm!r}")
        stack = 2 * self.adjacent_slices + 1
        if len(self.windows) * stack != self.arch.in_chans:
            raise ValueError(f"{len(self.windows)} CT windows {tuple(self.windows)} x {stack} stacked slice(s) for a model "
                             f"of {self.arch.in_chans} input channels; give one window per channel and slice")
        expected = len(default_class_names(self.task))
        if len(self.class_names) != expected:
            raise ValueError(
                f"task {self.task!r} needs {expected} class names, got {len(self.class_names)}: {self.class_names}"
            )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def input_kwargs(self) -> dict[str, Any]:
        """The ``SliceDataset`` arguments that reproduce this model's input: windows, skull-stripping and,
        for a 2.5D model only, the stacked slices."""
        kwargs = {"windows": tuple(self.windows), "input_mask": self.input_mask, "input_margin_mm": self.input_margin_mm}
        if self.adjacent_slices:
            kwargs.update(adjacent_slices=self.adjacent_slices, adjacent_mm=self.adjacent_mm)
        return kwargs
