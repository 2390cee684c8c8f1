"""Model factory: presets, task inference, fused attention off, configs of foreign timm Swins."""

from __future__ import annotations

import pytest
import torch
from timm.layers import set_fused_attn
from timm.models.swin_transformer import SwinTransformer, WindowAttention

from workbench.models import PRESETS, create_model, load_model, model_config, save_model
from workbench.models.config import ModelConfig, SwinArch


@pytest.mark.parametrize("num_classes,task", [(2, "binary"), (6, "multilabel")])
def test_tiny_preset_forward_and_task(num_classes, task):
    model = create_model("test-tiny", num_classes)
    assert isinstance(model, SwinTransformer)
    assert model.workbench_config.task == task
    assert model(torch.rand(3, 3, 32, 32)).shape == (3, num_classes)  # (B, K)


def test_multilabel_class_names_follow_label_columns():
    names = create_model("test-tiny", task="multilabel").workbench_config.class_names
    assert names == ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")
    assert create_model("test-tiny").workbench_config.class_names == ("no_ich", "ich")  # class 1 = ICH


def test_paper_preset_is_swin_b_384():
    arch = PRESETS["paper"]
    assert (arch.img_size, arch.patch_size, arch.window_size, arch.embed_dim) == (384, 4, 12, 128)
    assert arch.depths == (2, 2, 18, 2) and arch.num_heads == (4, 8, 16, 32)
    model = create_model("paper", 2)
    grids = [stage.blocks[0].input_resolution for stage in model.layers]
    assert grids == [(96, 96), (48, 48), (24, 24), (12, 12)]
    assert [len(stage.blocks) for stage in model.layers] == [2, 2, 18, 2]


def test_fused_attention_stays_off_and_softmax_runs():
    set_fused_attn(True, experimental=True)  # a user (or TIMM_FUSED_ATTN) turned it on globally
    try:
        model = create_model("test-tiny", 2)
    finally:
        set_fused_attn(False)
    attns = [m for m in model.modules() if isinstance(m, WindowAttention)]
    assert attns and not any(a.fused_attn for a in attns)
    fired = []
    handles = [a.softmax.register_forward_hook(lambda m, i, o: fired.append(o.shape)) for a in attns]
    model(torch.rand(1, 3, 32, 32))
    for h in handles:
        h.remove()
    assert len(fired) == len(attns)


def test_bad_arguments_name_value_and_choices():
    with pytest.raises(ValueError, match="nope.*cpu-small.*paper"):
        create_model("nope")
    with pytest.raises(ValueError, match="num_classes 3"):
        create_model("test-tiny", 3)
    with pytest.raises(ValueError, match="num_classes 2 does not match task 'multilabel'"):
        create_model("test-tiny", 2, task="multilabel")
    with pytest.raises(ValueError, match="unknown architecture override.*bogus"):
        create_model("test-tiny", bogus=1)


def test_overrides_change_the_architecture():
    model = create_model("test-tiny", 2, img_size=64)
    assert model.workbench_config.arch.img_size == 64
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 2)


def test_model_config_of_a_plain_timm_swin():
    arch = SwinArch(img_size=64, patch_size=4, embed_dim=24, depths=(2, 2), num_heads=(2, 4), window_size=4,
                    mlp_ratio=2.0, drop_path_rate=0.0)
    plain = SwinTransformer(num_classes=6, **arch.timm_kwargs())
    cfg = model_config(plain)
    assert cfg.task == "multilabel" and cfg.arch == arch and cfg.preset == "custom"
    with pytest.raises(ValueError, match="head has 3 outputs"):
        model_config(SwinTransformer(num_classes=3, **arch.timm_kwargs()))


def test_global_pool_is_part_of_the_architecture(tmp_path):
    from workbench.models import load_model, save_model

    assert PRESETS["cpu-small"].global_pool == "max" and PRESETS["paper"].global_pool == "avg"
    torch.manual_seed(0)
    model = create_model("test-tiny", 2, global_pool="max").eval()
    x = torch.rand(2, 3, 32, 32)
    tokens = model.forward_features(x)  # (B, H, W, C): max over the token grid, then the linear head
    expected = model.head.fc(tokens.amax(dim=(1, 2)))
    assert torch.allclose(model(x), expected, atol=1e-6)
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.workbench_config.arch.global_pool == "max"
    assert torch.allclose(loaded(x), model(x), atol=1e-6)
    plain = SwinTransformer(num_classes=2, **dict(PRESETS["test-tiny"].timm_kwargs(), global_pool="avgmax"))
    assert model_config(plain).arch.global_pool == "avgmax"
    with pytest.raises(ValueError, match="global_pool.*'mean'.*avg"):
        SwinArch(global_pool="mean")


def test_input_recipe_is_recorded_and_survives_save_load(tmp_path):
    model = create_model("test-tiny", task="binary", windows=("brain", "subdural", "stroke"),
                         input_mask="brain", input_margin_mm=2.5)
    save_model(model, tmp_path / "m")
    cfg = load_model(tmp_path / "m").workbench_config
    assert cfg.input_kwargs() == {"windows": ("brain", "subdural", "stroke"), "input_mask": "brain",
                                  "input_margin_mm": 2.5}
    # configs written before the recipe was recorded load as the paper's unmasked three windows
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("windows", "input_mask", "input_margin_mm")}
    assert ModelConfig.from_dict(old).input_kwargs() == {"windows": ("brain", "subdural", "bone"),
                                                         "input_mask": "none", "input_margin_mm": 3.0}
    with pytest.raises(ValueError, match="input mask 'skull'.*none, brain"):
        create_model("test-tiny", task="binary", input_mask="skull")


def test_conv_stem_keeps_the_token_grid_and_survives_save_load(tmp_path):
    from workbench.models import load_model, save_model
    from workbench.models.factory import conv_stem

    torch.manual_seed(0)
    model = create_model("test-tiny", 2, stem="conv").eval()
    stem = model.patch_embed.proj
    # two stride-2 3x3 convolutions (batch norm, ReLU) and a 1x1 projection: stride 4 = the patch size
    convs = [m for m in stem if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.stride) for c in convs] == [((3, 3), (2, 2)), ((3, 3), (2, 2)), ((1, 1), (1, 1))]
    x = torch.rand(2, 3, 32, 32)
    assert model.patch_embed(x).shape == create_model("test-tiny", 2).patch_embed(x).shape  # (B, 8, 8, 16)
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.workbench_config.arch.stem == "conv" and model_config(loaded).arch.stem == "conv"
    assert torch.allclose(loaded(x), model(x), atol=1e-6)
    with pytest.raises(ValueError, match="power-of-2 patch_size"):
        conv_stem(3, 16, 6)
    with pytest.raises(ValueError, match="stem.*'pixel'.*patch, conv"):
        SwinArch(stem="pixel")
    # configs written before the stem was recorded load with timm's patch projection
    old = {k: v for k, v in loaded.workbench_config.arch.to_dict().items() if k != "stem"}
    assert SwinArch.from_dict(old).stem == "patch"
