"""safetensors + JSON checkpoints: round trip, config beside the weights, never unpickling."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from timm.models.swin_transformer import SwinTransformer

from workbench.models import create_model, load_model, save_model
from workbench.models.config import SwinArch


def test_round_trip_same_logits_and_config(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = create_model("test-tiny", 6).eval()
    weights, cfg_path = save_model(model, tmp_path / "best")
    assert weights.name == "best.safetensors" and cfg_path.name == "best.json"
    saved = json.loads(cfg_path.read_text())
    assert saved["task"] == "multilabel" and saved["class_names"][0] == "any"

    def no_unpickling(*a, **k):
        raise AssertionError("checkpoint loading must not unpickle")

    monkeypatch.setattr(torch, "load", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    loaded = load_model(tmp_path)  # a folder means folder/best
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(model(x), loaded(x))
    assert loaded.workbench_config == model.workbench_config
    assert not loaded.training


def test_plain_timm_swin_round_trip(tmp_path):
    arch = SwinArch(img_size=32, embed_dim=16, depths=(2,), num_heads=(2,), window_size=4, drop_path_rate=0.0)
    plain = SwinTransformer(num_classes=2, **arch.timm_kwargs()).eval()
    save_model(plain, tmp_path / "m")
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(plain(x), load_model(tmp_path / "m")(x))


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        load_model(tmp_path / "nothing")
