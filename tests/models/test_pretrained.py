"""A pretrained backbone from a timm-format file the test writes: geometry adapted, head replaced,
what did not load reported, source and sha256 recorded; a backbone that mostly fails is an error."""

from __future__ import annotations

import hashlib

import pytest
import torch
from safetensors.torch import save_file
from timm.models.swin_transformer import SwinTransformer

from workbench.models import create_model, load_model, save_model
from workbench.utils.errors import DataError

TINY = dict(patch_size=4, embed_dim=16, depths=(2, 2), num_heads=(1, 2))


def _timm_file(tmp_path, name="swin.safetensors", **kw):
    torch.manual_seed(0)
    src = SwinTransformer(num_classes=1000, **{**TINY, "img_size": 64, "window_size": 8, **kw})  # ImageNet-like head
    path = tmp_path / name
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    else:
        torch.save(src.state_dict(), path)
    return src, path


@pytest.mark.parametrize("name", ["swin.safetensors", "swin.pth"])
def test_backbone_loads_adapted_and_recorded(tmp_path, capsys, name):
    src, path = _timm_file(tmp_path, name)
    model = create_model("test-tiny", task="binary", pretrained=str(path))  # 32 px, window 4: tables resampled
    sd = model.state_dict()
    assert torch.equal(sd["layers.0.blocks.0.mlp.fc1.weight"], src.state_dict()["layers.0.blocks.0.mlp.fc1.weight"])
    assert sd["layers.0.blocks.0.attn.relative_position_bias_table"].shape == (49, 1)  # (2 * 4 - 1)^2 rows
    assert sd["head.fc.weight"].shape == (2, 32)  # the task's own head
    err = capsys.readouterr().err
    assert f"pretrained {path}: loaded" in err and "head replaced" in err and "0 skipped" in err
    cfg = model.workbench_config
    assert cfg.pretrained == str(path) and cfg.pretrained_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    save_model(model, tmp_path / "run" / "best")
    assert load_model(tmp_path / "run" / "best").workbench_config.pretrained_sha256 == cfg.pretrained_sha256


def test_a_conv_stem_skips_the_patchify_conv_and_says_so(tmp_path, capsys):
    _, path = _timm_file(tmp_path)
    create_model("test-tiny", task="multilabel", stem="conv", pretrained=str(path))
    err = capsys.readouterr().err
    assert "2 skipped (the model has a convolutional stem: patch_embed.proj.weight, patch_embed.proj.bias)" in err \
        or "2 skipped (the model has a convolutional stem: patch_embed.proj.bias, patch_embed.proj.weight)" in err
    assert "not in the file (patch_embed.proj.0.weight, " in err  # the stem starts from scratch, every key listed


def test_a_backbone_that_mostly_fails_is_an_error(tmp_path):
    _, path = _timm_file(tmp_path, embed_dim=24)  # another width: nothing fits
    with pytest.raises(DataError, match=r"swin\.safetensors: the backbone mostly failed to load: "
                                        r".*loaded 4 of 61 backbone tensors \(1 %"):
        create_model("test-tiny", task="binary", pretrained=str(path))
    with pytest.raises(DataError, match="neither a local file nor a timm model name"):  # refused before any fetch
        create_model("test-tiny", task="binary", pretrained="not-a-model-name-xyz")


def test_a_timm_name_is_fetched_only_through_timm_and_recorded(tmp_path, monkeypatch, capsys):
    """The name path, with timm's download replaced: nothing touches the network in tests."""
    import timm

    src, _ = _timm_file(tmp_path)
    calls = []

    def fake_create_model(name, pretrained=False, **kw):
        calls.append((name, pretrained, kw))
        return src

    monkeypatch.setattr(timm, "create_model", fake_create_model)
    with pytest.raises(DataError, match="a download was requested with WORKBENCH_OFFLINE set"):
        create_model("test-tiny", task="binary", pretrained="swin_tiny_patch4_window7_224")  # tests run offline
    assert calls == []
    monkeypatch.delenv("WORKBENCH_OFFLINE")
    model = create_model("test-tiny", task="binary", pretrained="swin_tiny_patch4_window7_224")
    assert calls == [("swin_tiny_patch4_window7_224", True, {"num_classes": 0})]
    assert model.workbench_config.pretrained == "swin_tiny_patch4_window7_224"
    assert model.workbench_config.pretrained_sha256 == ""  # no file to hash
    assert "loaded" in capsys.readouterr().err


def test_other_input_channels_are_adapted_like_timm(tmp_path, capsys):
    src, path = _timm_file(tmp_path)
    model = create_model("test-tiny", task="binary", windows=("brain", "subdural", "bone", "stroke"), pretrained=str(path))
    w = model.state_dict()["patch_embed.proj.weight"]
    assert w.shape[1] == 4  # 3 RGB channels -> 4 CT windows (timm's adapt_input_conv: repeated and rescaled)
    assert torch.allclose(w[:, :3] * 4 / 3, src.state_dict()["patch_embed.proj.weight"], atol=1e-6)
    assert "0 skipped" in capsys.readouterr().err
