"""Importing checkpoints the workbench did not write: the HGI-SAM SwinWeak layouts and timm state
dicts, on files the tests write (random weights, a small Swin); logits match the source module."""

from __future__ import annotations

import re

import pytest
import torch
from safetensors.torch import save_file
from timm.models.swin_transformer import SwinTransformer
from torch import nn

from workbench.models import load_model
from workbench.models.importing import import_checkpoint
from workbench.models.state_files import read_state_dict
from workbench.utils.errors import DataError

TINY = dict(img_size=32, patch_size=4, embed_dim=16, depths=(2, 2), num_heads=(1, 2), window_size=4)


class SwinWeak(nn.Module):
    """The released code's classifier layout: a timm Swin (head inside) beside a refinement U-Net."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.swin = SwinTransformer(num_classes=num_classes, drop_path_rate=0.0, **TINY)
        self.refinement_unet = nn.Conv2d(3, 2, 3)

    def forward(self, x):
        return self.swin(x)


class SwinWeakOwnHead(nn.Module):
    """The later released layout: a headless timm Swin (pooled features) and a Linear head beside it."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.swin = SwinTransformer(num_classes=0, drop_path_rate=0.0, **TINY)
        self.head = nn.Linear(self.swin.num_features, num_classes)

    def forward(self, x):
        return self.head(self.swin(x))


def _old_timm_layout(state: dict) -> dict:
    """timm < 0.9 names: PatchMerging at the end of the previous stage, the head as a bare Linear."""
    out = {}
    for k, v in state.items():
        if "relative_position_index" in k or "attn_mask" in k:
            continue
        k = re.sub(r"layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", k)
        out[k.replace("head.fc.", "head.")] = v
    return out


@pytest.mark.parametrize("task, classes", [("binary", 2), ("multilabel", 6)])
@pytest.mark.parametrize("layout", ["hgi-sam", "hgi-sam-own-head", "hgi-sam-old-timm", "timm-safetensors"])
def test_imported_model_gives_the_source_logits(layout, task, classes, tmp_path):
    torch.manual_seed(0)
    source = (SwinWeakOwnHead if layout == "hgi-sam-own-head" else SwinWeak)(classes).eval()
    x = torch.randn(2, 3, 32, 32)
    want = source(x)
    if layout in ("hgi-sam", "hgi-sam-own-head"):
        path, fmt = tmp_path / "SwinWeak.pth", "hgi-sam"
        torch.save(source.state_dict(), path)
    elif layout == "hgi-sam-old-timm":
        path, fmt = tmp_path / "SwinWeak-old.pth", "hgi-sam"
        inner = _old_timm_layout(source.swin.state_dict())
        assert "layers.0.downsample.reduction.weight" in inner and "head.weight" in inner
        torch.save({"state_dict": {**{f"swin.{k}": v for k, v in inner.items()},
                                   **{f"refinement_unet.{k}": v for k, v in source.refinement_unet.state_dict().items()}}},
                   path)
    else:
        path, fmt = tmp_path / "swin.safetensors", "timm"
        save_file({k: v.contiguous() for k, v in source.swin.state_dict().items()}, str(path))
    model = import_checkpoint(path, fmt, task, preset="test-tiny")
    torch.testing.assert_close(model(x), want, atol=1e-5, rtol=1e-5)
    assert model.workbench_config.task == task


def test_the_command_writes_a_checkpoint_every_command_reads(tmp_path, capsys):
    from workbench.cli import main

    torch.manual_seed(1)
    source = SwinWeak(2).eval()
    torch.save(source.state_dict(), tmp_path / "w.pth")
    assert main(["import-checkpoint", str(tmp_path / "w.pth"), "--format", "hgi-sam", "--task", "binary",
                 "--preset", "test-tiny", "--out", str(tmp_path / "paper-binary")]) == 0
    out = capsys.readouterr()
    assert "imported" in out.out and "dropped 2 keys that are not the classifier (refinement_unet)" in out.err
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(load_model(tmp_path / "paper-binary")(x), source(x), atol=1e-5, rtol=1e-5)


def test_bad_files_name_the_file_and_the_first_mismatching_key(tmp_path):
    torch.manual_seed(2)
    torch.save(SwinWeak(2).state_dict(), tmp_path / "ok.pth")
    data = (tmp_path / "ok.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match=r"cut\.pth: cannot read a checkpoint"):
        read_state_dict(tmp_path / "cut.pth")
    wide = SwinTransformer(num_classes=2, **{**TINY, "embed_dim": 24})  # another architecture
    torch.save({f"swin.{k}": v for k, v in wide.state_dict().items()}, tmp_path / "wide.pth")
    with pytest.raises(DataError, match=r"wide\.pth: does not fit the 'test-tiny' preset .* first: 'patch_embed\."
                                        r".*' has shape"):
        import_checkpoint(tmp_path / "wide.pth", "hgi-sam", "binary", preset="test-tiny")
    with pytest.raises(DataError, match=r"ok\.pth: does not fit .*task 'multilabel'.*head\.fc\.weight"):
        import_checkpoint(tmp_path / "ok.pth", "hgi-sam", "multilabel", preset="test-tiny")  # a 2-logit head
    with pytest.raises(DataError, match="no key starts with 'swin.'"):
        torch.save(wide.state_dict(), tmp_path / "plain.pth")
        import_checkpoint(tmp_path / "plain.pth", "hgi-sam", "binary", preset="test-tiny")
    with pytest.raises(DataError, match="does not exist"):
        read_state_dict(tmp_path / "nothing.pth")


class Payload:  # an object that only unpickles by running this module's code
    def __reduce__(self):
        return (print, ("this ran while loading",))


def test_a_pickle_that_needs_code_is_refused(tmp_path, capsys):
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(DataError, match=r"evil\.pth: refused: it needs unpickling of arbitrary Python objects"):
        read_state_dict(tmp_path / "evil.pth")
    assert "this ran while loading" not in capsys.readouterr().out
