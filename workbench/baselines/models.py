"""Fully supervised segmentation baselines (HGI-SAM, MELBA 2023, section 4): a 4-level 2D U-Net and MONAI's
SwinUNETR in 2D, both 3 windowed channels in, 2 classes (background, ICH) out as raw logits.

Order of this file (as the classifier factory): config, wrapper, builders, registry, factory.

- ``unet``: :class:`monai.networks.nets.UNet` with 4 resolution levels (``channels`` of length 4,
  three stride-2 steps), two residual convolutions per level (``num_res_units=2``). "4-level" as
  in the released code, whose hand-written U-Net had 3 encoder blocks + a bottleneck
  (``embed_dims=[24, 48, 96, 192]``); the ``paper`` preset uses those widths.
- ``swin_unetr``: :class:`monai.networks.nets.SwinUNETR` with ``spatial_dims=2``, depths
  (2, 2, 2, 2), feature size 12 (paper). MONAI >= 1.5 dropped ``img_size``; the input only has to
  be a multiple of 32 (patch 2, then 4 patch merges). MONAI needs ``einops`` for it.

Input sizes: (B, 3, S, S) with S a multiple of :attr:`BaselineConfig.multiple` (8 for the U-Net,
32 for SwinUNETR) and at least twice that (16 / 64 px: instance norm needs a bottleneck of more
than 1 x 1 pixel in training); other sizes raise a ValueError naming the nearest valid sizes (no
silent padding: resize the data instead, e.g. ``SliceDataset(size=...)``).
Never pretrained: weights are initialised from the torch seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn as nn

from workbench.utils.config import JsonConfig
from workbench.utils.errors import check_choice, choice_error

__all__ = ["BaselineConfig", "BaselineNet", "BASELINES", "PRESETS", "baseline_config", "create_baseline"]

PRESETS: tuple[str, ...] = ("cpu", "paper")


@dataclass(frozen=True)
class BaselineConfig(JsonConfig):
    """Architecture of a baseline (saved as ``<stem>.json`` beside its weights).

    name: ``unet`` or ``swin_unetr``. channels / num_res_units: U-Net only (one width per level).
    feature_size / depths / num_heads / window_size: SwinUNETR only (feature_size a multiple of 12).
    """

    name: str
    in_channels: int = 3
    out_channels: int = 2
    channels: tuple[int, ...] = (16, 32, 64, 128)
    num_res_units: int = 2
    feature_size: int = 12
    depths: tuple[int, ...] = (2, 2, 2, 2)
    num_heads: tuple[int, ...] = (3, 6, 12, 24)
    window_size: int = 7

    def __post_init__(self):
        check_choice("baseline", self.name, BASELINES)
        if self.in_channels < 1 or self.out_channels != 2:
            raise ValueError(f"need in_channels >= 1 and out_channels == 2 (background, ICH); got "
                             f"{self.in_channels}, {self.out_channels}")
        if len(self.channels) < 2 or min(self.channels) < 1:
            raise ValueError(f"channels needs >= 2 positive widths (one per level), got {self.channels}")
        if self.feature_size < 12 or self.feature_size % 12:
            raise ValueError(f"feature_size must be a positive multiple of 12 (MONAI SwinUNETR), "
                             f"got {self.feature_size}")

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this: 2**(levels - 1) for the U-Net, 32 for SwinUNETR."""
        return 2 ** (len(self.channels) - 1) if self.name == "unet" else 32

    @property
    def min_size(self) -> int:
        """Smallest input side: the bottleneck must be 2 x 2 or more (instance norm in training)."""
        return 2 * self.multiple

    def check_size(self, size: int) -> None:
        """Raise a ValueError naming the nearest valid sides if ``size`` is not one."""
        m = self.multiple
        if size % m or size < self.min_size:
            near = sorted({max(self.min_size, size // m * m), max(self.min_size, (size // m + 1) * m)})
            raise ValueError(f"{self.name} needs image sides that are multiples of {m} and >= {self.min_size}; "
                             f"got {size} (nearest valid: {' or '.join(map(str, near))})")


class BaselineNet(nn.Module):
    """A MONAI segmentation network behind one input check. forward: (B, C, S, S) -> logits (B, 2, S, S)."""

    def __init__(self, config: BaselineConfig, net: nn.Module):
        super().__init__()
        self.config = config
        self.net = net

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError for a wrong rank, channel count or side (see the module docstring)."""
        c = self.config.in_channels
        if x.ndim != 4 or x.shape[1] != c:
            raise ValueError(f"{self.config.name} expects images (B, {c}, S, S), got shape {tuple(x.shape)}")
        for side in x.shape[-2:]:
            self.config.check_size(int(side))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.net(x)


def _unet(cfg: BaselineConfig) -> nn.Module:
    from monai.networks.nets import UNet

    return UNet(spatial_dims=2, in_channels=cfg.in_channels, out_channels=cfg.out_channels,
                channels=cfg.channels, strides=(2,) * (len(cfg.channels) - 1), num_res_units=cfg.num_res_units)


def _swin_unetr(cfg: BaselineConfig) -> nn.Module:
    try:
        import einops  # noqa: F401  (MONAI's SwinUNETR imports it lazily, at the first forward)
    except ImportError as e:
        raise ImportError("swin_unetr needs the 'einops' package (MONAI's SwinUNETR uses it): "
                          "pip install einops") from e
    from monai.networks.nets import SwinUNETR

    return SwinUNETR(in_channels=cfg.in_channels, out_channels=cfg.out_channels, spatial_dims=2,
                     depths=cfg.depths, num_heads=cfg.num_heads, feature_size=cfg.feature_size,
                     window_size=cfg.window_size)


BASELINES: dict[str, Callable[[BaselineConfig], nn.Module]] = {"unet": _unet, "swin_unetr": _swin_unetr}
"""Registered baselines: name -> builder of the bare MONAI network."""

_PRESET_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    # CPU: a narrow U-Net (~0.4 M parameters) for the 2-core machine. Widths 8-64 (0.1 M) did not
    # learn the synthetic lesions at 128 px within 30 epochs.
    ("unet", "cpu"): {"channels": (16, 32, 64, 128)},
    # The released code's U-Net widths (train_physionet_config.json: embed_dims [24, 48, 96, 192]).
    ("unet", "paper"): {"channels": (24, 48, 96, 192)},
    # SwinUNETR: feature size 12 is the paper's and already MONAI's smallest (~1.6 M parameters).
    ("swin_unetr", "cpu"): {"feature_size": 12},
    ("swin_unetr", "paper"): {"feature_size": 12},
}


def baseline_config(name: str, preset: str = "cpu", **overrides: Any) -> BaselineConfig:
    """The :class:`BaselineConfig` of ``name`` under ``preset`` (``cpu`` or ``paper``) plus ``overrides``.

    Overrides of ``None`` are ignored (meaning "the preset's value").
    """
    if name not in BASELINES:
        raise choice_error("baseline", name, BASELINES)
    check_choice("preset", preset, PRESETS)
    fields = {f.name for f in dataclasses.fields(BaselineConfig)} - {"name"}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown baseline option(s) {unknown}; valid: {sorted(fields)}")
    kw = {**_PRESET_OVERRIDES[(name, preset)], **{k: v for k, v in overrides.items() if v is not None}}
    return BaselineConfig(name=name, **kw)


def create_baseline(name: str | BaselineConfig, preset: str = "cpu", **overrides: Any) -> BaselineNet:
    """Build a randomly initialised baseline (seed torch first for reproducible weights).

    ``create_baseline("unet")``, ``create_baseline("swin_unetr", preset="paper")``,
    ``create_baseline("unet", channels=(4, 8, 16, 32))`` or ``create_baseline(config)``.
    """
    cfg = name if isinstance(name, BaselineConfig) else baseline_config(name, preset, **overrides)
    return BaselineNet(cfg, BASELINES[cfg.name](cfg))
