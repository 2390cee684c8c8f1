"""hgi_gradcam (operators.fusion): the geometric mean of HGI-SAM and the min-max, upsampled,
ReLU'd Grad-CAM, recomputed here by hand from the two published operators' own outputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from swin_reference import images_for, tiny_swin

from workbench.capture import capture, default_cam_layer
from workbench.operators import REGISTRY, CamOptions, HgiCamOptions, HgiSamOptions


def _capture(model, x, target):
    return capture(model, x, target, layers=[default_cam_layer(model)], gradients=["logits"])


def test_fused_map_is_the_geometric_mean_of_hgi_sam_and_the_gated_cam():
    model = tiny_swin("padded")
    x = images_for(model, 2)
    result = _capture(model, x, [1, 0])
    fused = REGISTRY["hgi_gradcam"](result, HgiCamOptions())
    hgi = REGISTRY["hgi_sam"](result, HgiSamOptions())
    cam = REGISTRY["gradcam"](result, CamOptions(relu=True))  # (B, h, w) on the last stage's grid
    up = F.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    lo = up.amin(dim=(1, 2), keepdim=True)
    hi = up.amax(dim=(1, 2), keepdim=True)
    want = torch.sqrt(hgi * (up - lo) / (hi - lo))
    assert fused.shape == (2, 40, 40) and torch.allclose(fused, want, atol=1e-6)
    assert float(fused.min()) >= 0.0 and float(fused.max()) <= 1.0
    gated = up <= lo  # where Grad-CAM is at its minimum the fused map is 0 whatever HGI-SAM says
    assert gated.any() and (fused[gated] == 0).all()


def test_options_reach_both_parts():
    model = tiny_swin("square")
    x = images_for(model, 1)
    result = capture(model, x, [1], layers=[default_cam_layer(model), "layers.0"], gradients=["logits", "probs"])
    base = REGISTRY["hgi_gradcam"](result, HgiCamOptions())
    for opts in (HgiCamOptions(stages=(1, 2)), HgiCamOptions(layer="layers.0"), HgiCamOptions(gradient="probs")):
        assert not torch.allclose(REGISTRY["hgi_gradcam"](result, opts), base), opts
    assert REGISTRY["hgi_gradcam"].requires(HgiCamOptions(layer=1)).layers == frozenset({"layers.0"})
