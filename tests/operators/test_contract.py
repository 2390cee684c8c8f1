"""The operator contract of ``workbench.operators.registry``, for every registered operator on
several Swin geometries: output shape and grid, dtype, finite values, raw (not post-processed),
batch independence, and sensitivity to the target exactly when gradients are read."""

from __future__ import annotations

import pytest
import torch
from swin_reference import images_for, tiny_swin

from workbench.capture import capture, default_cam_layer
from workbench.operators import REGISTRY, get_operator

GEOMETRIES = {
    "square": {},  # 32 px, grids 8, 4; the last stage's window clamped to its grid
    "padded": {},  # 40 px, grids 10, 5, 3: windows padded, an odd grid
    "nonsquare": {},  # 24 x 40 px
    "odd-clamped": dict(img_size=56, patch_size=4, window_size=4, embed_dim=8, depths=(2, 2, 2), num_heads=(1, 2, 2)),
}


def _model(name):
    if name in ("square", "padded", "nonsquare"):
        return tiny_swin(name)
    from timm.models.swin_transformer import SwinTransformer

    torch.manual_seed(0)
    return SwinTransformer(num_classes=2, drop_path_rate=0.0, **GEOMETRIES[name]).eval()


def _maps(model, images, target, name):
    op = get_operator(name)
    opts = op.options()
    req = op.requires(opts)
    layers = sorted({default_cam_layer(model) if n is None else n for n in req.layers})
    result = capture(model, images, target, layers=layers, gradients=sorted(req.gradients))
    return op(result, opts), result, req


def _stage_grids(result):
    return {tuple(result.stage_blocks(s)[0].geometry.grid) for s in range(result.num_stages)}


@pytest.mark.parametrize("geometry", list(GEOMETRIES))
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_operator_contract(name, geometry):
    model = _model(geometry)
    x = images_for(model, 3)
    with torch.no_grad():  # push the three samples apart so the two targets give different gradients
        x[1] = x[1] * 2.0
    maps, result, req = _maps(model, x, [1, 0, 1], name)
    size = tuple(x.shape[-2:])
    assert maps.ndim == 3 and maps.shape[0] == 3, maps.shape
    assert maps.dtype in (torch.float32, torch.float64)
    grid = tuple(maps.shape[-2:])
    assert grid == size or grid in _stage_grids(result), (grid, size, _stage_grids(result))
    assert bool(torch.isfinite(maps).all())
    if name in ("swin_sam", "hgi_sam", "hgi_gradcam", "blood_hu", "blood_refine"):  # stage products, input-size maps
        assert grid == size and float(maps.min()) >= 0.0 and float(maps.max()) <= 1.0 + 1e-6
    else:  # raw: on the operator's own grid, not min-max normalised
        assert grid != size
        assert not all(float(m.min()) == 0.0 and float(m.max()) == 1.0 for m in maps)

    for b in range(3):  # batch independence
        single, _, _ = _maps(model, x[b : b + 1], [1, 0, 1][b], name)
        scale = maps[b].abs().max().clamp_min(1e-30)
        assert torch.allclose(maps[b] / scale, single[0] / scale, atol=1e-4), b

    other, _, _ = _maps(model, x, [0, 1, 0], name)  # every target flipped
    changed = not torch.allclose(other, maps, rtol=1e-4, atol=1e-6 * float(maps.abs().max()))
    reads_gradients = bool(req.gradients or req.layers)  # attention gradients, or a CAM layer's activation gradient
    assert changed == reads_gradients, (name, "target sensitivity must follow the gradients read")
