"""Swin-SAM / HGI-SAM: hand-computed tiny cases and a brute-force reference on tiny timm models."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from swin_reference import CONFIGS, images_for, timm_window_index, tiny_swin

from workbench.capture import BlockGeometry, BlockRecord, CaptureResult, capture
from workbench.operators import block_maps, head_maps, run_operator, stage_maps

# -- hand-built case: one stage, two blocks, one 2x2 window (N = 4 tokens t0 t1 / t2 t3), 2 heads --
ROWS_Q = torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])  # query-pooled: .75 .25 0 0
ROW_LAST = torch.tensor([0.0, 0, 0, 1]).expand(4, 4)
ROW_B2 = torch.tensor([0.1, 0.2, 0.3, 0.4]).expand(4, 4)


def _hand_result(grad_logits_scale: float = 1.0) -> CaptureResult:
    geom = BlockGeometry(grid=(2, 2), window=(2, 2), shift=(0, 0))
    a1 = torch.stack([ROWS_Q, ROW_LAST])[None]  # (1, 2, 4, 4)
    g1 = torch.stack([torch.full((4, 4), 0.5), torch.full((4, 4), 0.25)])[None]  # ||.||_F = 2, 1
    a2 = torch.stack([ROW_B2, ROW_B2])[None]
    g2 = torch.stack([torch.ones(4, 4), torch.zeros(4, 4)])[None]  # ||.||_F = 4, 0
    blocks = (
        BlockRecord("s0.b0", 0, 0, geom, a1, grad_logits=g1 * grad_logits_scale, grad_attn=g1.flip(1)),
        BlockRecord("s0.b1", 0, 1, geom, a2, grad_logits=g2, grad_attn=g2),
    )
    return CaptureResult(blocks, {}, torch.zeros(1, 2), torch.tensor([1]), (2, 2), (False,))


def _grid(values):
    return torch.tensor(values).reshape(1, 2, 2)


@pytest.mark.parametrize(
    "method, options, expected",
    [
        # block maps .375 .125 0 .5 and .1 .2 .3 .4; product .0375 .025 0 .2; min-max
        ("swin_sam", {}, [0.1875, 0.125, 0.0, 1.0]),
        # alpha = (2, 1): mean_h(alpha A) pooled = .75 .25 0 .5; block 2 alpha = (4, 0): .2 .4 .6 .8
        ("hgi_sam", {}, [0.375, 0.25, 0.0, 1.0]),
        ("hgi_sam", {"pairs": "mean"}, [0.5, 0.025 / 0.35, 0.0, 1.0]),
        # top-1 head per window: head 0 in both blocks -> .075 .05 0 0
        ("hgi_sam", {"heads": "topk", "top_k": 1}, [1.0, 2 / 3, 0.0, 0.0]),
        # paper-figure gradient: head norms of block 1 swapped (1, 2): .375 .125 0 1 times block 2
        ("hgi_sam", {"gradient": "probs"}, [0.075 / 0.8, 0.05 / 0.8, 0.0, 1.0]),
    ],
)
def test_hand_computed(method, options, expected):
    out = run_operator(method, _hand_result(), **options)
    assert torch.allclose(out, _grid(expected), atol=1e-6), out


def test_hand_block_and_head_maps():
    result = _hand_result()
    heads = head_maps(result.blocks[0])  # plain head maps, query-pooled (not key-pooled)
    assert torch.allclose(heads[0, 0], torch.tensor([[0.75, 0.25], [0.0, 0.0]]))
    assert torch.allclose(heads[0, 1], torch.tensor([[0.0, 0.0], [0.0, 1.0]]))
    maps = block_maps(result)
    assert torch.allclose(maps[1], _grid([0.1, 0.2, 0.3, 0.4]))
    assert torch.allclose(stage_maps(result)[1], _grid([0.0375, 0.025, 0.0, 0.2]))


def test_hgi_sam_default_gradient_is_the_pre_softmax_one():
    doubled = run_operator("hgi_sam", _hand_result(grad_logits_scale=2.0))
    assert torch.allclose(doubled, run_operator("hgi_sam", _hand_result()))  # alpha scale cancels in min-max
    assert not torch.allclose(run_operator("hgi_sam", _hand_result(), gradient="probs"), doubled)


def test_bad_options_name_the_choices():
    with pytest.raises(ValueError, match="unknown head weighting 'max'; valid choices: none, gradnorm, topk"):
        run_operator("hgi_sam", _hand_result(), heads="max")
    with pytest.raises(ValueError, match="unknown stage 5; valid choices: 1"):
        run_operator("swin_sam", _hand_result(), stages=(5,))
    with pytest.raises(ValueError, match="unknown option 'stage' for swin_sam; valid choices: stages"):
        run_operator("swin_sam", _hand_result(), stage=(1,))


# -- brute force on tiny timm models --------------------------------------------------------------
def _reference(model, result, weighting, stages, gradient="logits"):
    """Loops over samples, windows and tokens; token positions from timm's own window path."""
    timm_blocks = [b for stage in model.layers for b in stage.blocks]
    out = torch.ones(result.batch, *result.image_size, dtype=torch.float64)
    for s in stages:
        recs = [(r, b) for r, b in zip(result.blocks, timm_blocks) if r.stage == s]
        block_maps_ = []
        for rec, blk in recs:
            H, W = rec.geometry.grid
            index = timm_window_index(blk, (H, W), result.batch)
            grad = rec.grad_logits if gradient == "logits" else rec.grad_attn
            m = torch.zeros(result.batch * H * W, dtype=torch.float64)
            for w in range(index.shape[0]):
                A = rec.attn[w].double()  # (h, N, N)
                alpha = torch.tensor([float((grad[w, h].double() ** 2).sum().sqrt()) for h in range(A.shape[0])])
                fused = sum((alpha[h] if weighting else 1.0) * A[h] for h in range(A.shape[0])) / A.shape[0]
                real = [q for q in range(index.shape[1]) if index[w, q] >= 0]
                for k in real:
                    m[index[w, k]] = sum(float(fused[q, k]) for q in real) / len(real)
            block_maps_.append(m.reshape(result.batch, H, W))
        pairs = [block_maps_[i] * block_maps_[i + 1] if i + 1 < len(block_maps_) else block_maps_[i] for i in range(0, len(block_maps_), 2)]
        stage = sum(pairs) / len(pairs)
        lo = stage.amin(dim=(1, 2), keepdim=True)
        stage = (stage - lo) / (stage.amax(dim=(1, 2), keepdim=True) - lo)
        out = out * F.interpolate(stage[:, None], size=result.image_size, mode="bilinear", align_corners=False)[:, 0]
    return out.float()


@pytest.mark.parametrize("config", list(CONFIGS))
def test_against_brute_force(config):
    model = tiny_swin(config)
    result = capture(model, images_for(model, 2), target=[1, 0])
    n = result.num_stages
    assert torch.allclose(run_operator("swin_sam", result), _reference(model, result, False, range(n)), atol=1e-5)
    hgi_default = tuple(range(n - 1)) if n > 1 else (0,)
    assert torch.allclose(run_operator("hgi_sam", result), _reference(model, result, True, hgi_default), atol=1e-5)
    probs = run_operator("hgi_sam", result, gradient="probs", stages=(1,))
    assert torch.allclose(probs, _reference(model, result, True, (0,), gradient="probs"), atol=1e-5)
