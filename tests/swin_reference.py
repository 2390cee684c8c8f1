"""Independent brute-force references for the capture and operator tests.

Token indices are pushed through timm's own code (``SwinTransformerBlock._attn`` with the attention
replaced by a probe, ``PatchMerging`` with identity norm / reduction), so the window geometry here
never uses workbench.capture.geometry. Rollout is built from explicit global (T^2 x T^2) matrices.
"""

from __future__ import annotations

import torch
from timm.models.swin_transformer import PatchMerging, SwinTransformer
from torch import nn

CONFIGS = {
    # 32 px, patch 4: grids 8, 4; stage 2 clamps the window to 4 with zero shift
    "square": dict(img_size=32, patch_size=4, window_size=4, embed_dim=16, depths=(2, 2), num_heads=(2, 2)),
    # 40 px: grid 10 padded to 12, shifted; stage 2 grid 5 padded to 8 (odd merge), odd depth;
    # stage 3 grid 3 < window: clamped to 3, shift 0
    "padded": dict(img_size=40, patch_size=4, window_size=4, embed_dim=8, depths=(2, 3, 1), num_heads=(2, 4, 4)),
    # non-square grid 6 x 10 with window 4: padding on both axes
    "nonsquare": dict(img_size=(24, 40), patch_size=4, window_size=4, embed_dim=8, depths=(2, 2), num_heads=(2, 2)),
}


def tiny_swin(name: str, seed: int = 0, **overrides) -> SwinTransformer:
    torch.manual_seed(seed)
    cfg = {**CONFIGS[name], **overrides}
    model = SwinTransformer(num_classes=2, drop_path_rate=0.0, **cfg)
    return model.eval()


def images_for(model: SwinTransformer, batch: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn((batch, 3, *model.patch_embed.img_size), generator=g)


class _Probe(nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x, mask=None):
        self.seen.append(x.clone())
        return x


def timm_window_index(block: nn.Module, grid: tuple[int, int], batch: int = 1) -> torch.Tensor:
    """(B*nW, N) global token index b*H*W + i*W + j of every window position; -1 for padding."""
    H, W = grid
    idx = torch.arange(batch * H * W, dtype=torch.float64).reshape(batch, H, W, 1) + 1
    probe, original = _Probe(), block.attn
    block.attn = probe
    try:
        block._attn(idx)
    finally:
        block.attn = original
    return probe.seen[0][..., 0].round().long() - 1


def timm_merge_children(grid: tuple[int, int]) -> torch.Tensor:
    """(Hm, Wm, 4) child token indices i*W + j of each merged token (-1: PatchMerging padding)."""
    H, W = grid
    merge = PatchMerging(dim=1)
    merge.norm, merge.reduction = nn.Identity(), nn.Identity()
    idx = torch.arange(H * W, dtype=torch.float64).reshape(1, H, W, 1) + 1
    return merge(idx)[0].round().long() - 1


def dense_block_matrix(window_mats: torch.Tensor, index: torch.Tensor, tokens: int, sample: int) -> torch.Tensor:
    """Global (T^2, T^2) matrix of one sample from per-window (B*nW, N, N) matrices, real tokens only."""
    M = torch.zeros(tokens, tokens, dtype=torch.float64)
    gq = index[:, :, None].expand(-1, -1, index.shape[1])  # (B*nW, N, N) query token
    gk = index[:, None, :].expand(-1, index.shape[1], -1)  # key token
    keep = (gq >= 0) & (gk >= 0) & (gq // tokens == sample)
    M[gq[keep] % tokens, gk[keep] % tokens] = window_mats.double()[keep]
    return M


def dense_merge_matrix(child_grid: tuple[int, int]) -> torch.Tensor:
    """(T_parent^2, T_child^2) transition: 1/4 from each merged token to each of its real children."""
    kids = timm_merge_children(child_grid)
    P = torch.zeros(kids.shape[0] * kids.shape[1], child_grid[0] * child_grid[1], dtype=torch.float64)
    for p, row in enumerate(kids.reshape(-1, 4)):
        for c in row.tolist():
            if c >= 0:
                P[p, c] = 0.25
    return P


def dense_rollout(model, result, fuse, coef=(0.5, 0.5), row_normalize=False, keepdim=True) -> torch.Tensor:
    """u^T A'_L ... A'_1 with explicit global matrices and matrix products. -> (B, T1h, T1w).

    ``keepdim=False`` reproduces the vit-explain bug (row sums broadcast along the wrong axis).
    """
    timm_blocks = [b for stage in model.layers for b in stage.blocks]
    out = []
    for s in range(result.batch):
        R = None
        for i, (rec, blk) in enumerate(zip(result.blocks, timm_blocks)):
            grid = rec.geometry.grid
            T = grid[0] * grid[1]
            index = timm_window_index(blk, grid, result.batch)
            A = coef[0] * dense_block_matrix(fuse(rec), index, T, s) + coef[1] * torch.eye(T, dtype=torch.float64)
            if row_normalize:
                A = A / (A.sum(-1, keepdim=True) if keepdim else A.sum(-1))
            R = A if R is None else A @ R  # later blocks on the left
            R = _merge_between(result, i, R)
        last = result.blocks[-1].geometry.grid
        u = torch.full((1, last[0] * last[1]), 1.0 / (last[0] * last[1]), dtype=torch.float64)
        first = result.blocks[0].geometry.grid
        out.append((u @ R).reshape(first))
    return torch.stack(out).float()


def _merge_between(result, i, R):
    """After block i, if block i+1 starts a stage with PatchMerging, left-multiply by the merge."""
    blocks = result.blocks
    if i + 1 < len(blocks) and blocks[i + 1].stage != blocks[i].stage and result.stage_downsample[blocks[i + 1].stage]:
        return dense_merge_matrix(blocks[i].geometry.grid) @ R
    return R
