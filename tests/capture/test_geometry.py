"""Window geometry against timm's own partition / shift / pad path fed with token indices."""

from __future__ import annotations

import pytest
import torch
from swin_reference import CONFIGS, images_for, timm_merge_children, timm_window_index, tiny_swin

from workbench.capture import capture, grid_to_windows, split_to_children, valid_tokens, windows_to_grid


def _blocks(model):
    return [blk for stage in model.layers for blk in stage.blocks]


@pytest.fixture(scope="module", params=list(CONFIGS))
def captured(request):
    model = tiny_swin(request.param)
    return model, capture(model, images_for(model, 2), gradients=())


def test_grid_to_windows_matches_timm_token_path(captured):
    model, result = captured
    for rec, blk in zip(result.blocks, _blocks(model)):
        H, W = rec.geometry.grid
        ref = timm_window_index(blk, (H, W), batch=2)  # (B*nW, N), -1 = padding
        idx = torch.arange(2 * H * W).reshape(2, H, W)
        ours = torch.where(grid_to_windows(idx[..., None] + 1, rec.geometry)[..., 0] > 0,
                           grid_to_windows(idx, rec.geometry), torch.full_like(ref, -1))
        assert torch.equal(ours, ref), rec.name
        assert torch.equal(valid_tokens(rec.geometry).repeat(2, 1), ref >= 0), rec.name
        assert rec.attn.shape[0] == ref.shape[0] and rec.attn.shape[-1] == ref.shape[1]


def test_windows_to_grid_inverts_and_drops_padding(captured):
    _, result = captured
    for rec in result.blocks:
        x = torch.randn(2, *rec.geometry.grid, 3)
        assert torch.equal(windows_to_grid(grid_to_windows(x, rec.geometry), rec.geometry), x)


def test_geometry_is_read_from_the_block():
    model = tiny_swin("padded")
    result = capture(model, images_for(model, 1), gradients=())
    geoms = [(r.geometry.grid, r.geometry.window, r.geometry.shift) for r in result.blocks]
    assert geoms == [
        ((10, 10), (4, 4), (0, 0)), ((10, 10), (4, 4), (2, 2)),  # padded to 12
        ((5, 5), (4, 4), (0, 0)), ((5, 5), (4, 4), (2, 2)), ((5, 5), (4, 4), (0, 0)),  # odd merge
        ((3, 3), (3, 3), (0, 0)),  # clamped window, no shift
    ]
    assert result.blocks[0].geometry.padded == (12, 12) and result.blocks[2].geometry.num_windows == 4


def test_dynamic_size_uses_runtime_grid():
    """A model built for 32 px and run at 64 px: grid from the run, window / shift from the block."""
    model = tiny_swin("square", strict_img_size=False)
    x = torch.randn(1, 3, 64, 64)
    result = capture(model, x, gradients=())
    assert [r.geometry.grid for r in result.blocks] == [(16, 16), (16, 16), (8, 8), (8, 8)]
    assert result.blocks[3].geometry.shift == (0, 0)  # clamped at build time, kept by timm
    for rec, blk in zip(result.blocks, _blocks(model)):
        ref = timm_window_index(blk, rec.geometry.grid)
        assert torch.equal(grid_to_windows(torch.arange(ref.numel()).reshape(1, *rec.geometry.grid), rec.geometry), ref)


@pytest.mark.parametrize("grid", [(4, 4), (5, 5), (6, 10), (3, 7), (1, 1)])
def test_split_to_children_matches_patch_merging(grid):
    kids = timm_merge_children(grid)  # (Hm, Wm, 4)
    v = torch.rand(1, *kids.shape[:2], dtype=torch.float64)
    out = split_to_children(v, grid)[0].reshape(-1)
    ref = torch.zeros(grid[0] * grid[1], dtype=torch.float64)
    for p, row in enumerate(kids.reshape(-1, 4)):
        for c in row.tolist():
            if c >= 0:
                ref[c] += v.reshape(-1)[p] / 4
    assert torch.allclose(out, ref)
