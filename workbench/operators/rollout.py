"""Attention rollout and gradient rollout for Swin (Abnar & Zuidema, ACL 2020; Chefer et al., ICCV 2021).

- rollout (Abnar & Zuidema, ACL 2020): per block A' = 0.5 * mean_h(A) + 0.5 * I.
- grad_rollout (Chefer et al., ICCV 2021, "generic attention explainability", eq. 5-6):
  Abar = mean_h((dscore/dA * A)+) (ReLU per head, then mean), R <- R + Abar R, i.e. A' = I + Abar.

Readout r = u^T A'_L ... A'_1 with u = 1/T_L^2 (mean pool over the last stage's tokens). Never an
N x N product: the row vector is propagated, v <- v A'_b, from the last block to the first; A'_b is
block-diagonal per window, so each step gathers v into the block's windows (roll by -shift, pad),
multiplies by the (N, N) window matrix, and scatters back (window reverse, crop, roll by +shift).
Between stages v goes through the PatchMerging transition (1/4 to each child). Cost is linear in
the token count. Output: (B, T1, T1) relevance of the patch tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from workbench.capture.geometry import grid_to_windows, split_to_children, valid_tokens, windows_to_grid
from workbench.capture.result import BlockRecord, CaptureResult
from workbench.operators.registry import Requirements, register

__all__ = ["RolloutOptions", "row_normalize", "window_matrices", "propagate"]


@dataclass(frozen=True)
class RolloutOptions:
    """row_normalize: rescale each row of A' (over real keys) to sum 1, as vit-explain does."""

    row_normalize: bool = False


def row_normalize(a: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """a: (B*nW, N, N) rows = queries; valid: (nW, N) real keys. Each row divided by its own sum
    (keepdim: row i by rowsum i, never column j by rowsum j)."""
    keys = valid.to(a.dtype).repeat(a.shape[0] // valid.shape[0], 1)[:, None, :]  # (B*nW, 1, N)
    return a / (a * keys).sum(dim=-1, keepdim=True).clamp_min(1e-12)


def window_matrices(
    block: BlockRecord, fuse: Callable[[BlockRecord], torch.Tensor], coef: tuple[float, float], normalize: bool
) -> torch.Tensor:
    """A'_w = c_a * fuse(block) + c_i * I for every window: (B*nW, N, N)."""
    a = fuse(block)
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    a = coef[0] * a + coef[1] * eye
    return row_normalize(a, valid_tokens(block.geometry, a.device)) if normalize else a


def propagate(result: CaptureResult, matrices: Callable[[BlockRecord], torch.Tensor]) -> torch.Tensor:
    """r = u^T A'_L ... A'_1 by row-vector propagation; u = mean pool. -> (B, T1h, T1w)."""
    blocks = result.blocks
    last = blocks[-1].geometry.grid
    v = torch.full((result.batch, *last), 1.0 / (last[0] * last[1]), dtype=blocks[-1].attn.dtype, device=blocks[-1].attn.device)
    for i in range(len(blocks) - 1, -1, -1):
        block = blocks[i]
        geom = block.geometry
        vw = grid_to_windows(v, geom)  # (B*nW, N); zero on padded queries
        vw = torch.bmm(vw[:, None, :], matrices(block))[:, 0]  # v A'_w, (B*nW, N)
        v = windows_to_grid(vw, geom)  # padded keys cropped
        if i > 0 and blocks[i - 1].stage != block.stage and result.stage_downsample[block.stage]:
            v = split_to_children(v, blocks[i - 1].geometry.grid)
    return v


def _mean_attention(block: BlockRecord) -> torch.Tensor:
    return block.attn.mean(dim=1)


def _chefer_attention(block: BlockRecord) -> torch.Tensor:
    return (block.gradient("probs") * block.attn).clamp_min(0).mean(dim=1)  # ReLU per head, then mean


@register("rollout", RolloutOptions, lambda opts: Requirements(), "Abnar & Zuidema, ACL 2020 (attention rollout)")
def rollout(result: CaptureResult, opts: RolloutOptions) -> torch.Tensor:
    """Attention rollout, A' = 0.5 mean_h(A) + 0.5 I. -> (B, T1, T1)."""
    return propagate(result, lambda b: window_matrices(b, _mean_attention, (0.5, 0.5), opts.row_normalize))


@register(
    "grad_rollout",
    RolloutOptions,
    lambda opts: Requirements(gradients=frozenset({"probs"})),
    "Chefer et al., ICCV 2021 (generic attention-model explainability)",
)
def grad_rollout(result: CaptureResult, opts: RolloutOptions) -> torch.Tensor:
    """Gradient rollout, A' = I + mean_h((dscore/dA * A)+), gradient w.r.t. A (never S). -> (B, T1, T1)."""
    return propagate(result, lambda b: window_matrices(b, _chefer_attention, (1.0, 1.0), opts.row_normalize))
