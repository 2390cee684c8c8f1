"""Build timm Swin classifiers for the workbench (always ``pretrained=False``).

The model returned is a plain :class:`timm.models.swin_transformer.SwinTransformer` with one
extra attribute, ``workbench_config`` (a :class:`ModelConfig`). Every other part of the workbench
accepts any timm SwinTransformer; :func:`model_config` describes one that was built elsewhere.

timm's fused attention is switched off on every block, because the explainability layer hooks
``attn.softmax``, which only runs on the unfused path.
"""

from __future__ import annotations

import dataclasses
import sys

import torch.nn as nn
from timm.models.swin_transformer import SwinTransformer, WindowAttention

from workbench.data.dataset import ADJACENT_MM, DEFAULT_INPUT_MARGIN_MM
from workbench.models.config import ModelConfig, SwinArch, default_class_names
from workbench.models.presets import get_preset
from workbench.models.state_files import load_pretrained
from workbench.utils.errors import check_choice
from workbench.models.config import TASKS

__all__ = ["create_model", "build_model", "model_config", "disable_fused_attn", "unwrap"]


def disable_fused_attn(model: nn.Module) -> nn.Module:
    """Turn timm's fused attention off on every ``WindowAttention`` (in place); returns ``model``."""
    for module in model.modules():
        if isinstance(module, WindowAttention):
            module.fused_attn = False
    return model


def conv_stem(in_chans: int, embed_dim: int, patch_size: int) -> nn.Sequential:
    """Convolutional stem of stride ``patch_size`` (a power of 2): (B, C, S, S) -> (B, embed_dim, S/p, S/p).

    log2(p) blocks of 3x3 stride-2 convolution + batch norm + ReLU, widths doubling up to embed_dim,
    then a 1x1 projection to ``embed_dim`` (Xiao et al., NeurIPS 2021).
    """
    n = int(patch_size).bit_length() - 1
    if patch_size < 2 or 2**n != patch_size:
        raise ValueError(f"a conv stem needs a power-of-2 patch_size >= 2, got {patch_size}")
    layers, width = [], in_chans
    for i in range(n):
        out = max(embed_dim // 2 ** (n - 1 - i), 8)
        layers += [nn.Conv2d(width, out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
        width = out
    layers.append(nn.Conv2d(width, embed_dim, 1))
    return nn.Sequential(*layers)


def build_model(config: ModelConfig) -> SwinTransformer:
    """A freshly initialised Swin for ``config`` (fused attention off, config attached)."""
    arch = config.arch
    model = SwinTransformer(num_classes=config.num_classes, **arch.timm_kwargs())
    if arch.stem == "conv":  # timm's PatchEmbed keeps its checks, flattening and norm around the new projection
        model.patch_embed.proj = conv_stem(arch.in_chans, arch.embed_dim, arch.patch_size)
    disable_fused_attn(model)
    model.workbench_config = config
    return model


def create_model(
    preset: str,
    num_classes: int | None = None,
    *,
    task: str | None = None,
    class_names: tuple[str, ...] | None = None,
    windows: tuple[str, ...] = ("brain", "subdural", "bone"),
    input_mask: str = "none",
    input_margin_mm: float = DEFAULT_INPUT_MARGIN_MM,
    adjacent_slices: int = 0,
    adjacent_mm: float = ADJACENT_MM,
    pretrained: str | None = None,
    **overrides,
) -> SwinTransformer:
    """A timm SwinTransformer from a named preset: randomly initialised, or its backbone from
    ``pretrained`` (a local timm-format file, or a timm / Hugging Face name when there is network).

    Args:
        preset: a name in :data:`workbench.models.presets.PRESETS` (``paper``, ``cpu-small``...).
        num_classes: 2 (binary) or 6 (multilabel); inferred from ``task`` when omitted.
        task: ``binary`` or ``multilabel``; inferred from ``num_classes`` when omitted.
        class_names: defaults to ``("no_ich", "ich")`` or ``LABEL_COLUMNS``.
        windows / input_mask / input_margin_mm / adjacent_slices / adjacent_mm: the input recipe recorded
            in the model's config (:class:`ModelConfig`); datasets for the model are built from it.
        pretrained: :func:`workbench.models.state_files.load_pretrained` loads the backbone (the
            head is the task's own; patch embedding and relative-position tables are resampled to
            the preset's geometry); the summary line goes to stderr; source and sha256 are recorded
            in the model's config.
        overrides: :class:`SwinArch` fields to change (``img_size=64``, ``drop_path_rate=0``...).

    Returns a model mapping images (B, C, S, S) to logits (B, num_classes).
    """
    if task is None:
        by_count = {len(default_class_names(t)): t for t in TASKS}
        if num_classes is None:
            task = "binary"
        elif num_classes not in by_count:
            raise ValueError(f"num_classes {num_classes} matches no task; valid: 2 (binary), 6 (multilabel)")
        else:
            task = by_count[num_classes]
    check_choice("task", task, TASKS)
    names = tuple(class_names) if class_names is not None else default_class_names(task)
    if num_classes is not None and num_classes != len(names):
        raise ValueError(f"num_classes {num_classes} does not match task {task!r} ({len(names)} classes: {names})")
    fields = {f.name for f in dataclasses.fields(SwinArch)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown architecture override(s) {unknown}; valid: {sorted(fields)}")
    overrides.setdefault("in_chans", len(tuple(windows)) * (2 * adjacent_slices + 1))  # a channel per window and slice
    arch = dataclasses.replace(get_preset(preset), **overrides)
    config = ModelConfig(task=task, class_names=names, arch=arch, preset=preset, windows=tuple(windows),
                         input_mask=input_mask, input_margin_mm=float(input_margin_mm),
                         adjacent_slices=int(adjacent_slices), adjacent_mm=float(adjacent_mm))
    model = build_model(config)
    if pretrained:
        record = load_pretrained(model, pretrained)
        print(record["summary"], file=sys.stderr)
        model.workbench_config = dataclasses.replace(config, pretrained=record["source"],
                                                     pretrained_sha256=record["sha256"])
    return model


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel / DataParallel wrappers (or ``model`` itself)."""
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    return model


def _infer_arch(model: SwinTransformer) -> SwinArch:
    """Read the architecture back from a timm SwinTransformer built elsewhere."""
    pe = model.patch_embed
    blocks0 = [stage.blocks[0] for stage in model.layers]
    windows = getattr(model, "_ref_window_sizes", None) or [tuple(b.window_size) for b in blocks0]
    windows = tuple(int(w[0]) if isinstance(w, (tuple, list)) else int(w) for w in windows)
    mlp = blocks0[0].mlp
    return SwinArch(
        img_size=int(pe.img_size[0]),
        patch_size=int(pe.patch_size[0]),
        in_chans=int(model.in_chans),
        embed_dim=int(model.embed_dim),
        depths=tuple(len(stage.blocks) for stage in model.layers),
        num_heads=tuple(int(b.attn.num_heads) for b in blocks0),
        window_size=windows[0] if len(set(windows)) == 1 else windows,
        mlp_ratio=float(mlp.fc1.out_features / mlp.fc1.in_features),
        drop_path_rate=0.0,
        global_pool=str(getattr(model, "global_pool", "avg") or "avg"),
        stem="conv" if isinstance(pe.proj, nn.Sequential) else "patch",
    )


def model_config(model: nn.Module, task: str | None = None, class_names: tuple[str, ...] | None = None) -> ModelConfig:
    """The :class:`ModelConfig` of ``model`` (wrappers removed).

    A model from :func:`create_model` carries its own; for any other timm SwinTransformer it is
    inferred from the modules, with ``task`` (default from the head width) and ``class_names``.
    """
    model = unwrap(model)
    config = getattr(model, "workbench_config", None)
    if isinstance(config, ModelConfig):
        return config
    if not isinstance(model, SwinTransformer):
        raise TypeError(f"expected a timm SwinTransformer, got {type(model).__name__}")
    n = int(model.num_classes)
    if task is None:
        task = "binary" if n == 2 else "multilabel" if n == 6 else None
        if task is None:
            raise ValueError(f"head has {n} outputs; pass task= ('binary' needs 2, 'multilabel' 6)")
    names = tuple(class_names) if class_names is not None else default_class_names(task)
    return ModelConfig(task=task, class_names=names, arch=_infer_arch(model))
