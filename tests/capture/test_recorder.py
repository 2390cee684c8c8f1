"""Capture scope: hooks released, fused attention refused, hooks that did not fire, layouts, targets."""

from __future__ import annotations

import pytest
import timm.layers
import torch
from swin_reference import images_for, tiny_swin
from timm.models.swin_transformer import SwinTransformer

from workbench.capture import AttentionCapture, capture, resolve_targets, to_channels_last


def _hook_count(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def test_hooks_removed_and_modes_restored_even_after_an_exception():
    model = tiny_swin("square").train()
    with pytest.raises(ZeroDivisionError):
        with AttentionCapture(model, layers=("layers.1",)):
            assert _hook_count(model) > 0 and not model.training  # eval inside the scope
            1 / 0
    assert _hook_count(model) == 0
    assert model.training and all(m.training for m in model.modules())
    capture(model, images_for(model, 1))
    assert _hook_count(model) == 0 and model.training


def test_records_every_block_once_with_shapes():
    model = tiny_swin("padded")
    result = capture(model, images_for(model, 2), layers=("layers.1",))
    assert [r.name for r in result.blocks] == [f"layers.{s}.blocks.{i}" for s, d in enumerate((2, 3, 1)) for i in range(d)]
    for r in result.blocks:
        g = r.geometry
        assert r.attn.shape == (2 * g.num_windows, model.layers[r.stage].blocks[r.index].attn.num_heads, g.window_area, g.window_area)
        assert r.grad_logits.shape == r.attn.shape and r.grad_attn.shape == r.attn.shape
        assert torch.allclose(r.attn.sum(-1), torch.ones(()))  # softmax over keys
    assert result.features["layers.1"].value.shape == (2, 5, 5, 16)
    assert result.image_size == (40, 40) and result.stage_downsample == (False, True, True)
    assert result.cam_layer == "layers.2.blocks.0.norm1"


def test_fused_attention_is_refused_not_silent():
    timm.layers.set_fused_attn(True, experimental=True)
    try:
        model = tiny_swin("square")
    finally:
        timm.layers.set_fused_attn(False)
    assert any(getattr(m, "fused_attn", False) for m in model.modules())
    with pytest.raises(RuntimeError, match="fused attention"):
        capture(model, images_for(model, 1))
    assert _hook_count(model) == 0


def test_one_fused_block_is_enough_to_refuse():
    model = tiny_swin("square")
    model.layers[1].blocks[1].attn.fused_attn = True
    with pytest.raises(RuntimeError, match="layers.1.blocks.1.attn"):
        capture(model, images_for(model, 1))


def test_a_hook_that_did_not_fire_is_an_error():
    model = tiny_swin("square")
    x = images_for(model, 1)
    with AttentionCapture(model) as cap:
        tokens = model.patch_embed(x)  # the blocks never run
        with pytest.raises(RuntimeError, match="fired 0 times"):
            cap.result(tokens.mean(dim=(1, 2)), target=0)
    with AttentionCapture(model) as cap:
        model(x)
        logits = model(x)  # two forwards in one scope
        with pytest.raises(RuntimeError, match="fired 2 times"):
            cap.result(logits)


def test_no_graph_and_checkpointing_are_errors():
    model = tiny_swin("square")
    with AttentionCapture(model) as cap:
        with torch.no_grad():
            logits = model(images_for(model, 1))
        with pytest.raises(RuntimeError, match="no autograd graph"):
            cap.result(logits)
    model.set_grad_checkpointing(True)
    with pytest.raises(RuntimeError, match="checkpointing"):
        capture(model, images_for(model, 1))


def test_unknown_layer_and_gradient_name_the_choices():
    model = tiny_swin("square")
    with pytest.raises(ValueError, match="unknown layer 'layers.9'.*valid choices"):
        AttentionCapture(model, layers=("layers.9",))
    with pytest.raises(ValueError, match="unknown gradient 'grad'.*logits, probs"):
        AttentionCapture(model, gradients=("grad",))
    with pytest.raises(TypeError, match="not a timm SwinTransformer"):
        AttentionCapture(torch.nn.Linear(2, 2))


def test_targets_per_sample_and_predicted():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, -1.0]])
    assert resolve_targets(logits, 1).tolist() == [1, 1, 1]
    assert resolve_targets(logits, [0, 1, 0]).tolist() == [0, 1, 0]
    # MONAI's CAM bug: the predicted class of each sample, never the whole argmax vector for everyone
    assert resolve_targets(logits, None).tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="out of range; valid classes: 0..1"):
        resolve_targets(logits, 2)
    with pytest.raises(ValueError, match="2 targets for a batch of 3"):
        resolve_targets(logits, [0, 1])


def test_callable_target_equals_index_target():
    model = tiny_swin("square")
    x = images_for(model, 2)
    by_index = capture(model, x, target=[1, 0])
    by_call = capture(model, x, target=lambda lg: lg[torch.arange(2), torch.tensor([1, 0])])
    assert by_call.targets is None
    for a, b in zip(by_index.blocks, by_call.blocks):
        assert torch.allclose(a.grad_attn, b.grad_attn, atol=1e-7)
    with pytest.raises(ValueError, match="one score per sample"):
        capture(model, x, target=lambda lg: lg.sum())


def test_channels_last_layouts():
    """pytorch-grad-cam's Swin bug: channels-last treated as channels-first gives a map of wrong axes and no error."""
    grids = [(8, 8), (4, 4)]
    x = torch.randn(2, 8, 8, 16)
    assert to_channels_last(x, grids) is x
    assert torch.equal(to_channels_last(x.permute(0, 3, 1, 2), grids), x)
    assert torch.equal(to_channels_last(x.reshape(2, 64, 16), grids), x)
    with pytest.raises(ValueError, match="ambiguous"):
        to_channels_last(torch.randn(2, 8, 8, 8), grids)  # (B, H, W, C) or (B, C, H, W)?
    with pytest.raises(ValueError, match="not a token grid"):
        to_channels_last(torch.randn(2, 5, 5, 3), grids)
    assert to_channels_last(torch.randn(2, 8, 8, 8), grids, layout="BCHW").shape == (2, 8, 8, 8)


def test_norm2_output_is_brought_to_the_grid():
    """norm2 runs on (B, H*W, C) in timm: captured features are still (B, H, W, C)."""
    model = tiny_swin("square")
    result = capture(model, images_for(model, 2), layers=("layers.0.blocks.1.norm2",))
    rec = result.features["layers.0.blocks.1.norm2"]
    assert rec.value.shape == (2, 8, 8, 16) and rec.grad.shape == (2, 8, 8, 16)


def test_parameter_grads_untouched():
    model = tiny_swin("square")
    capture(model, images_for(model, 2), layers=("layers.1",))
    assert all(p.grad is None for p in model.parameters())


def test_works_without_a_predefined_fused_flag_on_bigger_models():
    model = SwinTransformer(img_size=64, patch_size=4, window_size=8, embed_dim=8, depths=(2, 2, 2), num_heads=(1, 2, 2), num_classes=3).eval()
    result = capture(model, torch.randn(1, 3, 64, 64), target=2)
    assert [r.geometry.shift for r in result.blocks] == [(0, 0), (4, 4), (0, 0), (0, 0), (0, 0), (0, 0)]


def test_uncaptured_gradient_and_layer_raise_the_same_error():
    from workbench.capture import NotCapturedError

    model = tiny_swin("square")
    result = capture(model, images_for(model, 1), target=1, gradients=("logits",))
    with pytest.raises(NotCapturedError, match="gradient 'probs' was not captured"):
        result.blocks[0].gradient("probs")
    with pytest.raises(NotCapturedError, match="layer 'layers.0' was not captured"):
        result.feature("layers.0")
    with pytest.raises(ValueError, match="unknown gradient 'grad'; valid choices: logits, probs"):
        result.blocks[0].gradient("grad")


def test_a_capture_moves_to_another_device_whole():
    model = tiny_swin("square")
    result = capture(model, images_for(model, 2), target=1, gradients=("logits",), layers=("layers.0",))
    moved = result.to("cpu")
    assert moved is not result and torch.equal(moved.logits, result.logits)
    assert all(torch.equal(a.attn, b.attn) and torch.equal(a.grad_logits, b.grad_logits) and b.grad_attn is None
               for a, b in zip(result.blocks, moved.blocks))
    assert torch.equal(moved.feature("layers.0").value, result.feature("layers.0").value)
    assert moved.image_size == result.image_size and moved.stage_downsample == result.stage_downsample
