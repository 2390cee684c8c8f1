"""Per-head and per-stage views read from a capture (``workbench.explain(..., return_capture=True)``)."""

from __future__ import annotations

import torch

from workbench.capture import CaptureResult
from workbench.operators import SwinSamOptions, head_maps, stage_maps
from workbench.operators.attention_maps import head_weights
from workbench.utils.errors import check_choice

__all__ = ["block_heads", "block_names", "stage_raw_maps"]


def block_names(result: CaptureResult) -> dict[int, list[str]]:
    """Block names per 1-based stage: ``names[stage][block - 1]``."""
    return {s + 1: [b.name for b in result.stage_blocks(s)] for s in range(result.num_stages)}


def block_heads(result: CaptureResult, stage: int, block: int, gradient: str = "logits",
                sample: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Every head of block ``block`` of stage ``stage`` (both 1-based, as shown to users) for one sample.

    Returns (maps (h, T, T): raw query-pooled attention per head, unweighted; weights (h,): the
    HGI-SAM head weight alpha = ||G[w, h]||_F averaged over the block's windows, G = dscore/dS
    (``gradient="logits"``) or dscore/dA (``"probs"``)).
    """
    check_choice("stage", stage, range(1, result.num_stages + 1))
    blocks = result.stage_blocks(stage - 1)
    check_choice("block", block, range(1, len(blocks) + 1), f" of stage {stage}")
    rec = blocks[block - 1]
    maps = head_maps(rec, SwinSamOptions(heads="none"))[sample]  # (h, T, T)
    alpha = head_weights(rec.gradient(gradient), "gradnorm")  # (B*nW, h)
    alpha = alpha.reshape(result.batch, -1, alpha.shape[-1]).mean(1)[sample]  # (h,)
    return maps, alpha


def stage_raw_maps(result: CaptureResult, heads: str = "none", gradient: str = "logits",
                   sample: int = 0) -> dict[int, torch.Tensor]:
    """Raw stage maps {1-based stage: (T_s, T_s)} of one sample (before min-max), every stage."""
    maps = stage_maps(result, SwinSamOptions(heads=heads, gradient=gradient))
    return {s: m[sample] for s, m in maps.items()}
