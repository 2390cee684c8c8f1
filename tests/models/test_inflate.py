"""2.5D models: the config's channel count, inflation from a single-slice classifier, checkpoints."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from workbench.models import create_model, load_model, save_model
from workbench.models.config import ModelConfig
from workbench.models.inflate import first_conv, inflate_to_stack
from workbench.training.recipes import _start_from


@pytest.mark.parametrize("stem", ["patch", "conv"])
def test_inflated_model_computes_what_the_single_slice_one_did(stem):
    torch.manual_seed(0)
    model = create_model("test-tiny", task="multilabel", stem=stem).eval()
    for p in model.parameters():  # make every weight matter (timm zero-initialises some)
        p.data.add_(0.05 * torch.randn_like(p))
    stacked = inflate_to_stack(model, 2).eval()
    cfg = stacked.workbench_config
    assert (cfg.adjacent_slices, cfg.arch.in_chans, first_conv(stacked)[1].in_channels) == (2, 15, 15)
    assert model.workbench_config.adjacent_slices == 0  # the source is left as it was
    x = torch.rand(4, 3, 32, 32)
    neighbours = torch.rand(4, 12, 32, 32)
    torch.testing.assert_close(stacked(torch.cat([neighbours[:, :6], x, neighbours[:, 6:]], 1)), model(x))
    w = first_conv(stacked)[1].weight
    assert w[:, :6].abs().sum() == 0 and w[:, 9:].abs().sum() == 0
    with pytest.raises(ValueError, match="adjacent_slices=2"):
        inflate_to_stack(stacked, 1)


def test_config_counts_a_channel_per_window_and_slice(tmp_path):
    model = create_model("test-tiny", adjacent_slices=1)
    cfg = model.workbench_config
    assert cfg.arch.in_chans == 9 and model(torch.rand(2, 9, 32, 32)).shape == (2, 2)
    assert cfg.input_kwargs()["adjacent_slices"] == 1 and cfg.input_kwargs()["adjacent_mm"] == 5.0
    assert "adjacent_slices" not in create_model("test-tiny").workbench_config.input_kwargs()  # single-slice: as before
    with pytest.raises(ValueError, match=r"3 CT windows .* x 3 stacked slice\(s\) for a model of 3 input channels"):
        ModelConfig(task="binary", class_names=("no_ich", "ich"), arch=create_model("test-tiny").workbench_config.arch,
                    adjacent_slices=1)
    with pytest.raises(ValueError, match="adjacent_slices >= 0"):
        dataclasses.replace(cfg, adjacent_slices=-1)
    save_model(model, tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert back.workbench_config == cfg


def test_a_fine_tune_starts_a_2p5d_model_from_single_slice_weights(tmp_path):
    torch.manual_seed(1)
    source = create_model("test-tiny", stem="conv").eval()
    save_model(source, tmp_path / "src")
    model = create_model("test-tiny", stem="conv", adjacent_slices=1).eval()
    _start_from(model, str(tmp_path / "src"))
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(model(torch.cat([torch.rand(2, 3, 32, 32), x, torch.rand(2, 3, 32, 32)], 1)), source(x))
    other = create_model("test-tiny", stem="conv", adjacent_slices=1, windows=("brain", "stroke", "bone"))
    with pytest.raises(ValueError, match="input recipe"):
        _start_from(other, str(tmp_path / "src"))
