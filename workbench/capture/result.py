"""What a capture records: per-block attention and gradients, layer features and gradients.

All tensors are detached. The records are plain frozen dataclasses so that operators (pure tensor
functions) can be tested on hand-built records without a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

import torch

from workbench.capture.geometry import BlockGeometry
from workbench.utils.errors import check_choice

__all__ = ["NotCapturedError", "BlockRecord", "FeatureRecord", "CaptureResult"]


class NotCapturedError(ValueError):
    """An operator asked for something the capture did not record (a gradient or a layer): capture it
    by listing it in ``capture(..., gradients=..., layers=...)`` (``workbench.explain`` does so)."""


@dataclass(frozen=True)
class BlockRecord:
    """One Swin block.

    attn: A, post-softmax window attention (B*nW, h, N, N); rows = queries, softmax over keys.
    grad_logits: d(score)/d(pre-softmax logits S), same shape, or None if not requested.
    grad_attn: d(score)/dA, same shape, or None if not requested.
    stage: 0-based stage index; index: 0-based block index inside the stage.
    """

    name: str
    stage: int
    index: int
    geometry: BlockGeometry
    attn: torch.Tensor
    grad_logits: torch.Tensor | None = None
    grad_attn: torch.Tensor | None = None

    def gradient(self, which: str) -> torch.Tensor:
        """The gradient called ``which`` ("logits" or "probs"); error if it was not captured."""
        grads = {"logits": self.grad_logits, "probs": self.grad_attn}
        check_choice("gradient", which, grads)
        if grads[which] is None:
            raise NotCapturedError(f"block {self.name}: gradient {which!r} was not captured")
        return grads[which]


@dataclass(frozen=True)
class FeatureRecord:
    """A layer output in channels-last layout: value and grad (B, H, W, C); grad None if not taken."""

    name: str
    value: torch.Tensor
    grad: torch.Tensor | None = None


@dataclass(frozen=True)
class CaptureResult:
    """Everything the operators read.

    logits: (B, K); targets: (B,) class indices, or None when the score was a callable;
    image_size: (H, W) pixels of the input; stage_downsample[s]: stage s begins with PatchMerging;
    cam_layer: the default Grad-CAM layer name (last block's norm1, Swin-GradCAM of the HGI-SAM paper);
    inputs: the slice's own channels of the model input (B, C, H, W) as the forward saw it (CT windows
    mapped to [0, 1]; of a 2.5D model's stack, the middle slice's);
    windows: (center, width) in HU of each of those channels, or None when the model does not say.
    """

    blocks: tuple[BlockRecord, ...]
    features: Mapping[str, FeatureRecord]
    logits: torch.Tensor
    targets: torch.Tensor | None
    image_size: tuple[int, int]
    stage_downsample: tuple[bool, ...]
    cam_layer: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)
    inputs: torch.Tensor | None = None
    windows: tuple[tuple[float, float], ...] | None = None

    @property
    def batch(self) -> int:
        return int(self.logits.shape[0])

    @property
    def num_stages(self) -> int:
        return len(self.stage_downsample)

    def stage_blocks(self, stage: int) -> tuple[BlockRecord, ...]:
        """Blocks of a 0-based stage, in forward order."""
        return tuple(b for b in self.blocks if b.stage == stage)

    def to(self, device: torch.device | str) -> "CaptureResult":
        """A copy with every tensor on ``device`` (e.g. a GPU capture brought to the CPU for plotting)."""
        def move(t):
            return None if t is None else t.to(device)

        blocks = tuple(replace(b, attn=move(b.attn), grad_logits=move(b.grad_logits), grad_attn=move(b.grad_attn))
                       for b in self.blocks)
        features = {k: replace(f, value=move(f.value), grad=move(f.grad)) for k, f in self.features.items()}
        return replace(self, blocks=blocks, features=features, logits=move(self.logits), targets=move(self.targets),
                       inputs=move(self.inputs))

    def feature(self, name: str) -> FeatureRecord:
        if name not in self.features:
            raise NotCapturedError(f"layer {name!r} was not captured; captured layers: {', '.join(self.features) or 'none'}")
        return self.features[name]
