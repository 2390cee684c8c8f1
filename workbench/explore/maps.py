"""Maps and the capture they came from, in one forward + backward pass (what ``workbench.explain``
does, keeping the :class:`~workbench.capture.CaptureResult` for per-head and per-stage views).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import torch
from torch import nn

from workbench.api import resolve_options
from workbench.capture import CaptureResult, capture, default_cam_layer
from workbench.operators import PostProcess, Requirements, SwinSamOptions, get_operator, head_maps, postprocess, stage_maps
from workbench.operators.attention_maps import head_weights

__all__ = ["Explained", "explain_with_capture", "block_heads", "block_names", "stage_raw_maps"]


@dataclass(frozen=True)
class Explained:
    """maps: {name: (B, H, W)} post-processed (brain mask, min-max in [0, 1]); result: the capture."""

    maps: Mapping[str, torch.Tensor]
    result: CaptureResult


def explain_with_capture(model: nn.Module, images: torch.Tensor, methods: Iterable[str], target: int,
                         brain_mask: torch.Tensor | None = None,
                         method_options: Mapping[str, Mapping[str, Any]] | None = None,
                         variants: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None) -> Explained:
    """Every method (and named ``variants`` {name: (method, options)}) from one capture of
    ``images`` (B, C, H, W), post-processed as in the paper: brain mask, min-max per sample.

    Both gradients (dscore/dS and dscore/dA) are captured, so per-head weights of either kind can
    be read from ``result`` afterwards.
    """
    specs = {m: (m, o) for m, o in (resolve_options(list(methods), {}, method_options) if methods else {}).items()}
    for name, (method, opts) in (variants or {}).items():
        specs[name] = (method, resolve_options([method], opts)[method])
    req = Requirements()
    for method, opt in specs.values():
        req = req | get_operator(method).requires(opt)
    layers = sorted({default_cam_layer(model) if n is None else n for n in req.layers})
    result = capture(model, images, target, layers=layers, gradients=("logits", "probs"))
    size = tuple(images.shape[-2:])
    post = PostProcess(normalize=True)
    maps = {name: postprocess(get_operator(method)(result, opt), size, brain_mask, post)
            for name, (method, opt) in specs.items()}
    return Explained(maps, result)


def block_names(result: CaptureResult) -> list[list[str]]:
    """Block names per 0-based stage: ``names[stage][block]``."""
    return [[b.name for b in result.stage_blocks(s)] for s in range(result.num_stages)]


def block_heads(result: CaptureResult, stage: int, block: int, gradient: str = "logits",
                sample: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Every head of block ``block`` of stage ``stage`` (0-based) for one sample.

    Returns (maps (h, T, T): raw query-pooled attention per head, unweighted; weights (h,): the
    HGI-SAM head weight alpha = ||G[w, h]||_F averaged over the block's windows, G = dscore/dS
    (``gradient="logits"``) or dscore/dA (``"probs"``)).
    """
    blocks = result.stage_blocks(stage) if 0 <= stage < result.num_stages else ()
    if not blocks:
        raise ValueError(f"unknown stage {stage}; valid choices: {', '.join(map(str, range(result.num_stages)))}")
    if not 0 <= block < len(blocks):
        raise ValueError(f"unknown block {block} of stage {stage}; valid choices: "
                         f"{', '.join(map(str, range(len(blocks))))}")
    rec = blocks[block]
    maps = head_maps(rec, SwinSamOptions(heads="none"))[sample]  # (h, T, T)
    alpha = head_weights(rec.gradient(gradient), "gradnorm")  # (B*nW, h)
    alpha = alpha.reshape(result.batch, -1, alpha.shape[-1]).mean(1)[sample]  # (h,)
    return maps, alpha


def stage_raw_maps(result: CaptureResult, heads: str = "none", gradient: str = "logits",
                   sample: int = 0) -> dict[int, torch.Tensor]:
    """Raw stage maps {0-based stage: (T_s, T_s)} of one sample (before min-max), every stage."""
    maps = stage_maps(result, SwinSamOptions(heads=heads, gradient=gradient))
    return {s: m[sample] for s, m in maps.items()}
