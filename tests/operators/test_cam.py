"""Grad-CAM family against the pytorch-grad-cam package with a correct channels-last reshape."""

from __future__ import annotations

import pytest
import torch
from pytorch_grad_cam import GradCAM, HiResCAM, LayerCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from swin_reference import images_for, tiny_swin

from workbench.capture import capture
from workbench.capture.result import NotCapturedError
from workbench.operators import run_operator

PACKAGE = {"gradcam": GradCAM, "hirescam": HiResCAM, "layercam": LayerCAM}


def _channels_last_to_first(t: torch.Tensor) -> torch.Tensor:
    return t.permute(0, 3, 1, 2)  # timm Swin blocks are (B, H, W, C)


def _package_raw(cls, model, layer, x, targets, reshape=_channels_last_to_first):
    cam = cls(model=model, target_layers=[layer], reshape_transform=reshape)
    cam(input_tensor=x, targets=[ClassifierOutputTarget(t) for t in targets])
    acts = cam.activations_and_grads.activations[0].numpy()
    grads = cam.activations_and_grads.gradients[0].numpy()
    raw = cam.get_cam_image(x, layer, None, acts, grads, False)  # (B, h, w) before ReLU / scaling
    cam.activations_and_grads.release()
    model.zero_grad(set_to_none=True)
    return torch.from_numpy(raw)


@pytest.mark.parametrize("method", list(PACKAGE))
@pytest.mark.parametrize("config, layer_name", [("square", None), ("padded", "layers.1"), ("nonsquare", "layers.0.blocks.1.norm1")])
def test_matches_pytorch_grad_cam(method, config, layer_name):
    model = tiny_swin(config)
    x = images_for(model, 2)
    name = layer_name or f"layers.{len(model.layers) - 1}.blocks.{len(model.layers[-1].blocks) - 1}.norm1"
    layer = dict(model.named_modules())[name]
    ref = _package_raw(PACKAGE[method], model, layer, x, [1, 0])
    result = capture(model, x, target=[1, 0], layers=(name,))
    ours = run_operator(method, result, layer=layer_name)
    scale = ref.abs().max()
    assert ours.shape == ref.shape
    assert torch.allclose(ours / scale, ref.float() / scale, atol=1e-5)
    assert torch.allclose(run_operator(method, result, layer=layer_name, relu=True), ours.clamp_min(0))


def test_stage_number_selects_the_stage_output():
    model = tiny_swin("square")
    result = capture(model, images_for(model, 1), layers=("layers.0",))
    assert torch.equal(run_operator("gradcam", result, layer=1), run_operator("gradcam", result, layer="layers.0"))
    with pytest.raises(NotCapturedError, match="layer 'layers.1' was not captured"):
        run_operator("gradcam", result, layer=2)


def test_channels_first_reading_of_swin_is_wrong():
    """Known bug: pytorch-grad-cam's Swin recipe without a channels-last reshape maps the wrong axes."""
    model = tiny_swin("square")
    x = images_for(model, 1)
    layer = model.layers[0].blocks[1].norm1  # (B, 8, 8, 16)
    wrong = _package_raw(GradCAM, model, layer, x, [1], reshape=None)  # reads (B, H, W, C) as (B, C', H', W')
    right = _package_raw(GradCAM, model, layer, x, [1])  # with the channels-last reshape
    result = capture(model, x, target=1, layers=("layers.0.blocks.1.norm1",))
    ours = run_operator("gradcam", result, layer="layers.0.blocks.1.norm1")
    assert tuple(wrong.shape) == (1, 8, 16)  # a "map" over (W, C): the token rows taken as channels
    assert tuple(ours.shape) == tuple(right.shape) == (1, 8, 8)
    scale = right.abs().max()
    assert torch.allclose(ours / scale, right.float() / scale, atol=1e-5)
