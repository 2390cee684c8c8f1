"""The frozen configuration of a training run, saved as ``train_config.json`` in the run folder."""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.models.config import TASKS, JsonConfig
from workbench.training.augment import AugmentConfig
from workbench.training.precision import PRECISIONS
from workbench.utils.devices import DEVICES
from workbench.utils.errors import check_choice, check_at_least

__all__ = ["TrainConfig", "DEVICES", "MONITORS"]

MONITORS: tuple[str, ...] = ("val_loss", "val_auc")
"""What picks the best checkpoint and drives early stopping: lower ``val_loss`` or higher ``val_auc``
(ROC-AUC of ``any`` for both tasks)."""


@dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """Hyper-parameters of one run. Defaults follow docs/guide/training.md (from-scratch recipe).

    ``epochs`` is the cosine horizon and the maximum; early stopping ends sooner after
    ``patience`` epochs without a better validation ``monitor``; the first ``min_epochs`` epochs never
    count against the patience (0, the default: patience counts from epoch 1; the earliest stop is
    after ``min_epochs + patience`` epochs). ``batch_size`` is per process.
    ``max_steps`` (0 = no limit) caps optimizer steps, for smoke tests and time budgets; it does not
    change the schedule. ``monitor`` picks the best checkpoint and drives early stopping:
    ``val_loss`` (the default) or ``val_auc``; with class-balanced sampling the model's prior is
    50 % ICH, so the validation loss on a fold with ~25 % ICH moves with calibration as much as with
    ranking, and on the synthetic cohort its minimum fell in the first epochs of warm-up.
    ``precision`` is ``fp32``, ``bf16`` (autocast, fp32 weights) or ``auto`` (bf16 where the device
    runs it natively; :mod:`workbench.training.precision`). ``steps_per_epoch`` (0 = one class-balanced
    pass over the training set) is required for a synthetic stream, which has no end: an epoch is then
    this many steps, followed by validation and a checkpoint.
    ``freeze_backbone_epochs`` / ``backbone_lr``: the paper's two-stage fine-tuning of a pretrained
    backbone: the first N epochs train the head only (the backbone's learning rate is 0), then every
    layer trains, the backbone at ``backbone_lr`` (0 = ``lr``) under the same warm-up / cosine shape.
    """

    task: str = "binary"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 3e-4
    min_lr: float = 1e-6
    weight_decay: float = 0.05
    warmup_steps: int = 100
    grad_clip: float = 1.0
    focal_gamma: float = 2.0
    patience: int = 3
    min_epochs: int = 0
    negative_ratio: float = 1.0
    seed: int = 0
    max_steps: int = 0
    eval_batch_size: int = 64
    num_workers: int = 0
    device: str = "auto"
    monitor: str = "val_loss"
    precision: str = "fp32"
    steps_per_epoch: int = 0
    freeze_backbone_epochs: int = 0
    backbone_lr: float = 0.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self):
        check_choice("task", self.task, TASKS)
        check_choice("device", self.device, DEVICES)
        check_choice("monitor", self.monitor, MONITORS)
        check_choice("precision", self.precision, PRECISIONS)
        check_at_least(self, ("epochs", "batch_size", "eval_batch_size"))
        if self.steps_per_epoch < 0 or self.max_steps < 0:
            raise ValueError(f"steps_per_epoch and max_steps must be >= 0 (0 = no limit), got "
                             f"{self.steps_per_epoch} and {self.max_steps}")
        check_at_least(self, ("min_epochs", "freeze_backbone_epochs"), minimum=0)
        if self.backbone_lr < 0:
            raise ValueError(f"backbone_lr must be >= 0 (0 = lr), got {self.backbone_lr}")
        if self.lr <= 0 or self.warmup_steps < 0 or self.patience < 1:
            raise ValueError(f"need lr > 0, warmup_steps >= 0, patience >= 1 (got {self.lr}, "
                             f"{self.warmup_steps}, {self.patience})")

    @property
    def peak_lr(self) -> float:
        """The learning rate at the end of warm-up (``lr``; the baselines' config has the same property)."""
        return self.lr
