"""Training of the Swin classifiers: sampler, augmentation, schedule, trainer, resume, DDP."""

from workbench.training.augment import AugmentConfig, augment_batch
from workbench.training.config import TrainConfig
from workbench.training.inputs import Splits, prepare_splits
from workbench.training.sampler import ClassBalancedSampler
from workbench.training.trainer import FitResult, fit

__all__ = ["AugmentConfig", "ClassBalancedSampler", "FitResult", "Splits", "TrainConfig", "augment_batch", "fit",
           "prepare_splits"]
