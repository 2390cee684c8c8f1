"""Baseline models: shapes, size rules, factory errors, presets, config round trip."""

from __future__ import annotations

import pytest
import torch

from workbench.baselines import BASELINES, BaselineConfig, baseline_config, create_baseline


@pytest.mark.parametrize("name, size", [("unet", 32), ("unet", 48), ("swin_unetr", 64)])
def test_logits_have_two_classes_at_input_size(name, size):
    torch.manual_seed(0)
    model = create_baseline(name, channels=(4, 8, 16, 32)).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, size, size))  # (B, 3, S, S) -> (B, 2, S, S)
    assert out.shape == (2, 2, size, size)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name, size, message", [
    ("unet", 36, "multiples of 8 and >= 16; got 36 (nearest valid: 32 or 40)"),
    ("unet", 8, "got 8 (nearest valid: 16)"),
    ("swin_unetr", 48, "multiples of 32 and >= 64; got 48 (nearest valid: 64)"),
    ("swin_unetr", 32, "got 32 (nearest valid: 64)"),  # a 1 x 1 bottleneck breaks instance norm
])
def test_sizes_that_are_not_valid_raise_naming_valid_ones(name, size, message):
    model = create_baseline(name)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        model(torch.rand(1, 3, size, size))


def test_wrong_channel_count_raises():
    with pytest.raises(ValueError, match=r"expects images \(B, 3, S, S\), got shape \(1, 1, 32, 32\)"):
        create_baseline("unet")(torch.rand(1, 1, 32, 32))


def test_factory_errors_list_the_valid_choices():
    with pytest.raises(ValueError, match="unknown baseline 'resnet'; valid choices: unet, swin_unetr"):
        create_baseline("resnet")
    with pytest.raises(ValueError, match="unknown preset 'gpu'; valid choices: cpu, paper"):
        create_baseline("unet", preset="gpu")
    with pytest.raises(ValueError, match=r"unknown baseline option\(s\) \['width'\]"):
        create_baseline("unet", width=3)
    with pytest.raises(ValueError, match="feature_size must be a positive multiple of 12"):
        create_baseline("swin_unetr", feature_size=8)


def test_presets_match_the_paper_and_released_code():
    assert set(BASELINES) == {"unet", "swin_unetr"}
    unet = baseline_config("unet", "paper")
    assert unet.channels == (24, 48, 96, 192) and unet.multiple == 8  # 4 levels, 3 stride-2 steps
    swin = baseline_config("swin_unetr", "paper")
    assert (swin.feature_size, swin.depths) == (12, (2, 2, 2, 2)) and swin.multiple == 32
    assert baseline_config("unet").channels == (16, 32, 64, 128)  # the CPU preset
    assert baseline_config("unet", channels=None).channels == (16, 32, 64, 128)  # None keeps the preset
    net = create_baseline("unet").net
    ups = [m for m in net.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(ups) == 3  # three upsamplings back from the bottleneck: four resolution levels


def test_config_json_round_trip(tmp_path):
    cfg = baseline_config("unet", channels=(4, 8, 16, 32))
    assert BaselineConfig.load(cfg.save(tmp_path / "c.json")) == cfg


def test_same_seed_same_weights():
    torch.manual_seed(1)
    a = create_baseline("unet").state_dict()
    torch.manual_seed(1)
    b = create_baseline("unet").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
