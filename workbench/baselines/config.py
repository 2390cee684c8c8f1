"""Training configuration of a baseline (saved as ``train_config.json``) and its Dice + CE loss."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch.nn as nn

from workbench.baselines.models import BASELINES, PRESETS
from workbench.evaluation.detection import MIN_LESION_PIXELS
from workbench.training.augment import AugmentConfig
from workbench.training.config import DEVICES
from workbench.training.precision import PRECISIONS
from workbench.utils.config import JsonConfig
from workbench.utils.errors import check_choice, check_at_least

__all__ = ["BaselineTrainConfig", "DEFAULT_LR", "MONITORS", "make_loss", "model_options"]

MONITORS: tuple[str, ...] = ("val_dice", "val_loss")

DEFAULT_LR: dict[str, float] = {"unet": 3e-3, "swin_unetr": 1e-3}
"""Peak learning rate per baseline when ``lr`` is None. U-Net: measured on the synthetic cohort at
128 px (with ``lambda_ce`` 0.3 it reached validation Dice 0.46 by epoch 5); SwinUNETR: the usual
transformer rate, not tuned here."""


@dataclass(frozen=True)
class BaselineTrainConfig(JsonConfig):
    """Hyper-parameters of one fold's run.

    ``epochs`` is the cosine horizon and the maximum; early stopping ends sooner after ``patience``
    epochs without improvement of ``monitor`` (``val_dice`` higher: mean per-slice Dice at
    ``threshold`` on the validation slices with a lesion; or ``val_loss`` lower). The validation
    loss is a poor guide here: on the synthetic cohort it kept falling while the lesion
    probabilities stayed below 0.5 (Dice 0). The first ``min_epochs`` epochs never count against
    the patience (the earliest stop is after ``min_epochs + patience``): with the unweighted loss a
    U-Net first predicted no lesion at all for ~10 epochs (~100 steps) on the synthetic cohort, and a
    patience counted from epoch 1 stopped it there. ``lr`` None = the model's :data:`DEFAULT_LR`
    (see :attr:`peak_lr`). ``max_steps`` (0: none) caps optimizer steps for smoke tests.
    ``channels`` (U-Net) / ``feature_size`` (SwinUNETR): None = the preset's width. Augmentation
    translation is a fraction of the size (AugmentConfig). ``precision``: ``fp32``, ``bf16``
    (autocast, fp32 weights) or ``auto``, as for the classifiers (:mod:`workbench.training.precision`).
    ``include_background``: whether the Dice term also scores the background channel (the CE term
    always uses both); off by default so that small lesions dominate the Dice term.
    ``lambda_ce`` 0.3 (Dice + 0.3 CE): with 1:1 weights and lesions ~1 % of the pixels, the U-Net
    sat for 10-18+ epochs predicting no lesion (CE pulls every pixel to background) and on one of
    two synthetic folds never left that state within 20 epochs; at 0.3 it learnt by epoch 5. Set
    1.0 for the plain unweighted sum.
    """

    model: str = "unet"
    preset: str = "cpu"
    channels: tuple[int, ...] | None = None
    feature_size: int | None = None
    size: int = 128
    epochs: int = 30
    batch_size: int = 16
    lr: float | None = None
    min_lr: float = 1e-5
    weight_decay: float = 1e-4
    warmup_steps: int = 20
    grad_clip: float = 1.0
    patience: int = 8
    min_epochs: int = 10
    monitor: str = "val_dice"
    include_background: bool = False
    lambda_dice: float = 1.0
    lambda_ce: float = 0.3
    threshold: float = 0.5
    min_pixels: int = MIN_LESION_PIXELS
    seed: int = 0
    max_steps: int = 0
    eval_batch_size: int = 32
    device: str = "auto"
    precision: str = "fp32"
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self):
        check_choice("baseline", self.model, BASELINES)
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("preset", self.preset, PRESETS)
        check_choice("monitor", self.monitor, MONITORS)
        check_choice("device", self.device, DEVICES)
        check_at_least(self, ("size", "epochs", "batch_size", "eval_batch_size", "patience", "min_epochs"))
        bad_lr = self.lr is not None and self.lr <= 0
        if bad_lr or self.warmup_steps < 0 or self.min_pixels < 0 or not 0 < self.threshold < 1:
            raise ValueError(f"need lr > 0, warmup_steps >= 0, min_pixels >= 0, 0 < threshold < 1; got "
                             f"{self.lr}, {self.warmup_steps}, {self.min_pixels}, {self.threshold}")

    @property
    def peak_lr(self) -> float:
        """``lr``, or the model's default peak learning rate when ``lr`` is None."""
        return DEFAULT_LR[self.model] if self.lr is None else self.lr


def model_options(cfg: BaselineTrainConfig) -> dict[str, Any]:
    """Keyword overrides of :func:`~workbench.baselines.models.create_baseline` set in ``cfg``."""
    return {k: v for k, v in (("channels", cfg.channels), ("feature_size", cfg.feature_size)) if v is not None}


def make_loss(cfg: BaselineTrainConfig) -> nn.Module:
    """MONAI ``DiceCELoss`` on raw logits (B, 2, S, S) and integer masks (B, 1, S, S).

    ``softmax=True`` applies softmax for the Dice term only; the CE term receives the raw logits
    (``nn.CrossEntropyLoss`` applies log-softmax itself: no softmax before CE, the released code's
    slip). ``to_onehot_y`` turns the 0/1 mask into two channels. ``batch=True`` pools the Dice over
    the batch, so a slice without a lesion does not give an undefined per-slice Dice term.
    """
    from monai.losses import DiceCELoss

    return DiceCELoss(include_background=cfg.include_background, to_onehot_y=True, softmax=True, batch=True,
                      lambda_dice=cfg.lambda_dice, lambda_ce=cfg.lambda_ce)
