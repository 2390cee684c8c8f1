"""The two gradient choices against independent autograd probes, block by block."""

from __future__ import annotations

import torch
from swin_reference import images_for, tiny_swin

from workbench.capture import capture


def _probe_gradients(model, x, targets):
    """d(score)/dS and d(score)/dA per block by adding zero probes at the softmax input / output."""
    blocks = [blk for stage in model.layers for blk in stage.blocks]
    probes_s, probes_a, handles = [], [], []

    def pre(module, args):
        d = torch.zeros_like(args[0], requires_grad=True)
        probes_s.append(d)
        return (args[0] + d,)

    def post(module, args, out):
        d = torch.zeros_like(out, requires_grad=True)
        probes_a.append(d)
        return out + d

    for blk in blocks:
        handles += [blk.attn.softmax.register_forward_pre_hook(pre), blk.attn.softmax.register_forward_hook(post)]
    try:
        logits = model(x)
    finally:
        for h in handles:
            h.remove()
    score = logits[torch.arange(len(targets)), torch.tensor(targets)].sum()
    grads = torch.autograd.grad(score, probes_s + probes_a)
    return grads[: len(blocks)], grads[len(blocks):]


def test_captured_gradients_match_probes_block_by_block():
    """Reversed gradient list and wrong hooked tensor (jacobgil/vit-explain bugs) both fail here."""
    model = tiny_swin("padded")
    x = images_for(model, 2)
    result = capture(model, x, target=[1, 0])
    g_s, g_a = _probe_gradients(model, x, [1, 0])
    for rec, gs, ga in zip(result.blocks, g_s, g_a):
        assert torch.allclose(rec.grad_logits, gs, atol=1e-9, rtol=1e-5), rec.name
        assert torch.allclose(rec.grad_attn, ga, atol=1e-9, rtol=1e-5), rec.name
    # the two choices really differ, and blocks of a stage are not interchangeable
    assert not torch.allclose(result.blocks[0].grad_logits, result.blocks[0].grad_attn)
    assert not torch.allclose(result.blocks[0].grad_attn, result.blocks[1].grad_attn)


def test_softmax_backward_identity():
    """g_S = A * (g_A - rowsum(A * g_A)) (the softmax Jacobian)."""
    model = tiny_swin("square")
    result = capture(model, images_for(model, 2))
    for rec in result.blocks:
        A, gA = rec.attn, rec.grad_attn
        gS = A * (gA - (A * gA).sum(-1, keepdim=True))
        assert torch.allclose(gS, rec.grad_logits, atol=1e-10, rtol=1e-4), rec.name


def test_each_sample_gets_its_own_gradient():
    model = tiny_swin("square")
    x = images_for(model, 3)
    batched = capture(model, x, target=[1, 0, 1])
    for b, t in enumerate([1, 0, 1]):
        single = capture(model, x[b : b + 1], target=t)
        for rb, rs in zip(batched.blocks, single.blocks):
            nW = rs.geometry.num_windows
            assert torch.allclose(rb.grad_attn[b * nW : (b + 1) * nW], rs.grad_attn, atol=1e-8, rtol=1e-4)
            assert torch.allclose(rb.attn[b * nW : (b + 1) * nW], rs.attn, atol=1e-6)


def test_only_requested_gradients_are_taken():
    model = tiny_swin("square")
    result = capture(model, images_for(model, 1), gradients=("probs",))
    assert all(r.grad_logits is None and r.grad_attn is not None for r in result.blocks)
