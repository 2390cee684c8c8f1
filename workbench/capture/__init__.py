"""Capture layer: the only place that touches modules, hooks and autograd.

:func:`capture` / :class:`AttentionCapture` record, for every block of a timm SwinTransformer, the
window attention A (B*nW, h, N, N), d(score)/d(pre-softmax logits), d(score)/dA, and the outputs and
gradients of chosen layers, channels-last (B, H, W, C). :mod:`~workbench.capture.geometry` maps
window tensors back to the stage grid.
"""

from workbench.capture.geometry import (
    BlockGeometry,
    block_geometry,
    grid_to_windows,
    merged_grid,
    split_to_children,
    valid_tokens,
    windows_to_grid,
)
from workbench.capture.layout import to_channels_last
from workbench.capture.recorder import GRADIENTS, AttentionCapture, capture, check_unfused, default_cam_layer, swin_blocks
from workbench.capture.result import BlockRecord, CaptureResult, FeatureRecord, NotCapturedError
from workbench.capture.targets import Target, resolve_targets, target_scores

__all__ = [
    "AttentionCapture",
    "BlockGeometry",
    "BlockRecord",
    "CaptureResult",
    "FeatureRecord",
    "GRADIENTS",
    "NotCapturedError",
    "Target",
    "block_geometry",
    "capture",
    "check_unfused",
    "default_cam_layer",
    "grid_to_windows",
    "merged_grid",
    "resolve_targets",
    "split_to_children",
    "swin_blocks",
    "target_scores",
    "to_channels_last",
    "valid_tokens",
    "windows_to_grid",
]
