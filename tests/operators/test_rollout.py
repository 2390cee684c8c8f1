"""Swin rollout / gradient rollout against dense global N x N matrices built by brute force."""

from __future__ import annotations

import pytest
import torch
from swin_reference import CONFIGS, dense_rollout, images_for, tiny_swin

from workbench.capture import capture
from workbench.operators import run_operator
from workbench.operators.rollout import row_normalize


@pytest.fixture(scope="module", params=list(CONFIGS))
def case(request):
    model = tiny_swin(request.param)
    return model, capture(model, images_for(model, 2), target=_scaled([1, 0]))


def _scaled(classes):
    """Random-init gradients are ~1e-6, so I + Abar ~ I: scale the score to make Abar matter."""
    return lambda logits: 1e5 * logits[torch.arange(len(classes)), torch.tensor(classes)]


def _mean(rec):
    return rec.attn.mean(dim=1)


def _chefer(rec):
    return (rec.grad_attn * rec.attn).clamp_min(0).mean(dim=1)


def test_rollout_matches_dense(case):
    model, result = case
    ours = run_operator("rollout", result)
    ref = dense_rollout(model, result, _mean, (0.5, 0.5))
    assert ours.shape == (2, *result.blocks[0].geometry.grid)
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-9)


def test_rollout_row_normalized_matches_dense(case):
    model, result = case
    ours = run_operator("rollout", result, row_normalize=True)
    assert torch.allclose(ours, dense_rollout(model, result, _mean, (0.5, 0.5), row_normalize=True), rtol=1e-4, atol=1e-9)


def test_grad_rollout_matches_dense_chefer(case):
    model, result = case
    ours = run_operator("grad_rollout", result)
    scale = ours.abs().max()
    ref = dense_rollout(model, result, _chefer, (1.0, 1.0))
    assert torch.allclose(ours / scale, ref / scale, rtol=1e-4, atol=1e-6)


def test_grad_rollout_uses_the_attention_gradient_not_the_logit_one(case):
    """jacobgil/vit-explain bug: hooking the wrong tensor captures the pre-softmax gradient silently."""
    model, result = case
    ours = run_operator("grad_rollout", result)
    wrong = dense_rollout(model, result, lambda r: (r.grad_logits * r.attn).clamp_min(0).mean(dim=1), (1.0, 1.0))
    assert not torch.allclose(ours, wrong, rtol=1e-3, atol=0)


def test_grad_rollout_reversed_gradient_list_is_detected():
    """jacobgil/vit-explain bug: block i's attention paired with block L-1-i's gradient gives a different map."""
    model = tiny_swin("square", depths=(4, 2))
    result = capture(model, images_for(model, 1), target=_scaled([1]))
    ours = run_operator("grad_rollout", result)
    grads = [r.grad_attn for r in result.blocks]
    paired = {r.name: g for r, g in zip(result.blocks, grads[:4][::-1] + grads[4:])}
    wrong = dense_rollout(model, result, lambda r: (paired[r.name] * r.attn).clamp_min(0).mean(dim=1), (1.0, 1.0))
    ref = dense_rollout(model, result, _chefer, (1.0, 1.0))
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-12)
    assert not torch.allclose(ours, wrong, rtol=1e-3, atol=0)


def test_row_normalize_keeps_dims():
    """jacobgil/vit-explain bug: without keepdim, column j is divided by the sum of row j."""
    a = torch.tensor([[[1.0, 3.0], [1.0, 1.0]]])
    valid = torch.ones(1, 2, dtype=torch.bool)
    assert torch.allclose(row_normalize(a, valid), torch.tensor([[[0.25, 0.75], [0.5, 0.5]]]))
    assert not torch.allclose(row_normalize(a, valid), a / a.sum(-1))
    # rows with a padded key are normalised over the real keys only
    pad = torch.tensor([[True, False]])
    assert torch.allclose(row_normalize(a, pad)[0, :, 0], torch.ones(2))


def test_keepdim_bug_changes_the_dense_rollout():
    """With padded keys the rows of A' over real tokens do not sum to 1, so the bug shows."""
    model = tiny_swin("padded")
    result = capture(model, images_for(model, 1), gradients=())
    ours = run_operator("rollout", result, row_normalize=True)
    buggy = dense_rollout(model, result, _mean, (0.5, 0.5), row_normalize=True, keepdim=False)
    assert torch.allclose(ours, dense_rollout(model, result, _mean, (0.5, 0.5), row_normalize=True), rtol=1e-4)
    assert not torch.allclose(ours, buggy, rtol=1e-4)


def test_rollout_mass_and_linear_memory():
    """Without padding, rows of A' sum to 1, so the readout keeps total mass 1; and the operator
    never allocates an (all tokens x all tokens) matrix (checked on a 64 x 64 grid)."""
    model = tiny_swin("square", img_size=256, window_size=8)
    result = capture(model, images_for(model, 1), gradients=())
    out = run_operator("rollout", result)
    assert out.shape == (1, 64, 64) and torch.allclose(out.sum(), torch.tensor(1.0), atol=1e-5)
