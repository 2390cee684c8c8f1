"""Swin-SAM (Rasoulian et al., MLCN 2022) and HGI-SAM (Rasoulian et al., MELBA 2023, arXiv 2304.04902).

The "layer attention map generator" of HGI-SAM (MELBA 2023, section 3), per block (A: (B*nW, h, N, N)):
  1. head weights alpha[w, h] = ||G[w, h]||_F (HGI-SAM; G = dscore/dS "logits", as the authors'
     released code HealthX-Lab/HGI-SAM reads it, or dscore/dA "probs", as the paper's figure draws it),
  2. head fusion mean_h(alpha * A) (Swin-SAM: mean_h(A)),
  3. query pooling: mean over the query axis -> (B*nW, N), padded queries excluded,
  4. window reverse, undo the shift, crop padding -> (B, T, T);
then per stage: product of consecutive (plain, shifted) pairs, mean over pairs, min-max, bilinear
upsampling; and over stages: product of the stage maps (HGI-SAM: stages 1-3; Swin-SAM: all).
The per-stage min-max and upsampling before the product are part of the method as the paper
defines it, so these two operators return (B, H, W) in [0, 1] (the one exception to the
registry's raw-map contract); brain mask, final min-max and threshold come in post-processing.
:func:`head_maps`, :func:`block_maps` and :func:`stage_maps` expose the intermediate raw maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workbench.capture.geometry import valid_tokens, windows_to_grid
from workbench.capture.result import BlockRecord, CaptureResult
from workbench.operators.postprocess import minmax, upsample
from workbench.operators.registry import Requirements, register
from workbench.utils.errors import check_choice, choice_error

__all__ = [
    "SwinSamOptions",
    "HgiSamOptions",
    "head_weights",
    "pool_queries",
    "head_maps",
    "block_maps",
    "combine_pairs",
    "stage_maps",
    "resolve_stages",
    "attention_map",
]

HEAD_WEIGHTINGS = ("none", "gradnorm", "topk")
PAIR_COMBINATIONS = ("product", "mean")


@dataclass(frozen=True)
class SwinSamOptions:
    """stages: 1-based stage numbers (None: all for Swin-SAM, all but the last for HGI-SAM);
    heads: none | gradnorm | topk; top_k: heads kept by ``topk``; gradient: logits (dscore/dS,
    released code) | probs (dscore/dA, paper figure); pairs: product | mean."""

    stages: tuple[int, ...] | None = None
    heads: str = "none"
    top_k: int = 1
    gradient: str = "logits"
    pairs: str = "product"

    def __post_init__(self) -> None:
        check_choice("head weighting", self.heads, HEAD_WEIGHTINGS)
        check_choice("gradient", self.gradient, ("logits", "probs"))
        check_choice("pair combination", self.pairs, PAIR_COMBINATIONS)
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")


@dataclass(frozen=True)
class HgiSamOptions(SwinSamOptions):
    heads: str = "gradnorm"


def head_weights(grad: torch.Tensor | None, heads: str, top_k: int = 1) -> torch.Tensor | None:
    """Per-window, per-head weights (B*nW, h) from G (B*nW, h, N, N); None for plain head mean.

    gradnorm: alpha = Frobenius norm of G over both token axes (HGI-SAM, not normalised).
    topk: h / k on the k heads of largest alpha, 0 elsewhere, so the head mean is the mean over them.
    """
    if heads == "none":
        return None
    alpha = grad.flatten(2).norm(dim=-1)  # (B*nW, h)
    if heads == "gradnorm":
        return alpha
    h = alpha.shape[1]
    k = min(top_k, h)
    keep = torch.zeros_like(alpha).scatter_(1, alpha.topk(k, dim=1).indices, 1.0)
    return keep * (h / k)


def pool_queries(attn: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Attention received by each key: mean over real queries. attn: (B*nW, ..., N, N);
    valid: (nW, N) bool -> (B*nW, ..., N)."""
    q = valid.to(attn.dtype).repeat(attn.shape[0] // valid.shape[0], 1)  # (B*nW, N)
    q = q.reshape(q.shape[0], *([1] * (attn.ndim - 3)), q.shape[1], 1)
    return (attn * q).sum(-2) / q.sum(-2)


def _weights(block: BlockRecord, opts: SwinSamOptions) -> torch.Tensor | None:
    grad = None if opts.heads == "none" else block.gradient(opts.gradient)
    return head_weights(grad, opts.heads, opts.top_k)


def head_maps(block: BlockRecord, opts: SwinSamOptions = SwinSamOptions()) -> torch.Tensor:
    """Per-head query-pooled maps, weighted by alpha if ``opts.heads`` says so: (B, h, T, T)."""
    geom = block.geometry
    pooled = pool_queries(block.attn, valid_tokens(geom, block.attn.device))  # (B*nW, h, N)
    w = _weights(block, opts)
    if w is not None:
        pooled = pooled * w[:, :, None]
    return windows_to_grid(pooled.transpose(1, 2), geom).permute(0, 3, 1, 2)


def block_maps(result: CaptureResult, opts: SwinSamOptions = SwinSamOptions()) -> list[torch.Tensor]:
    """One (B, T, T) map per block, forward order: head fusion then query pooling (steps 1-4)."""
    return [head_maps(b, opts).mean(dim=1) for b in result.blocks]


def combine_pairs(maps: list[torch.Tensor], pairs: str = "product") -> torch.Tensor:
    """Stage map from its blocks' maps (B, T, T): combine consecutive (plain, shifted) pairs, then
    mean over pairs. An odd trailing block forms a group of its own."""
    groups = [torch.stack(maps[i : i + 2]) for i in range(0, len(maps), 2)]
    fused = [g.prod(0) if pairs == "product" else g.mean(0) for g in groups]
    return torch.stack(fused).mean(0)


def resolve_stages(stages: tuple[int, ...] | None, num_stages: int, default: str) -> tuple[int, ...]:
    """1-based stage numbers -> 0-based indices; None gives "all" or "all_but_last" stages."""
    if stages is None:
        n = num_stages - 1 if (default == "all_but_last" and num_stages > 1) else num_stages
        return tuple(range(n))
    bad = [s for s in stages if not 1 <= s <= num_stages]
    if bad or not stages:
        raise choice_error("stage", bad[0] if bad else stages, range(1, num_stages + 1))
    return tuple(s - 1 for s in stages)


def stage_maps(
    result: CaptureResult, opts: SwinSamOptions = SwinSamOptions(), stages: tuple[int, ...] | None = None
) -> dict[int, torch.Tensor]:
    """Raw stage maps {1-based stage: (B, T, T)} before min-max, for the 1-based ``stages``
    (default: every stage), numbered like the ``stages`` option."""
    index = tuple(range(result.num_stages)) if stages is None else resolve_stages(tuple(stages), result.num_stages, "all")
    return {
        s + 1: combine_pairs([head_maps(b, opts).mean(dim=1) for b in result.stage_blocks(s)], opts.pairs)
        for s in index
    }


def attention_map(result: CaptureResult, opts: SwinSamOptions, default_stages: str) -> torch.Tensor:
    """Product over stages of min-max stage maps upsampled to the input: (B, H, W) in [0, 1]."""
    stages = tuple(s + 1 for s in resolve_stages(opts.stages, result.num_stages, default_stages))
    maps = stage_maps(result, opts, stages)
    out = None
    for s in stages:
        m = upsample(minmax(maps[s]), result.image_size)
        out = m if out is None else out * m
    return out


def _requires(opts: SwinSamOptions) -> Requirements:
    return Requirements(gradients=frozenset() if opts.heads == "none" else frozenset({opts.gradient}))


@register("swin_sam", SwinSamOptions, _requires, "Rasoulian et al., MLCN 2022 (Swin-SAM)")
def swin_sam(result: CaptureResult, opts: SwinSamOptions) -> torch.Tensor:
    """Swin-SAM: plain head mean, all stages by default. -> (B, H, W)."""
    return attention_map(result, opts, "all")


@register("hgi_sam", HgiSamOptions, _requires, "Rasoulian et al., MELBA 2023, arXiv 2304.04902 (HGI-SAM)")
def hgi_sam(result: CaptureResult, opts: HgiSamOptions) -> torch.Tensor:
    """HGI-SAM: gradient-norm head weights, stages 1-3 (all but the last) by default. -> (B, H, W)."""
    return attention_map(result, opts, "all_but_last")
