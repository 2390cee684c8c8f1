"""Fully supervised ICH segmentation baselines: a 4-level 2D U-Net and SwinUNETR (2D), Dice + CE,
trained per cross-validation fold on the lesion masks. See docs/guide/baselines.md.

- :mod:`.models`: configs, presets and the factory :func:`create_baseline` (``unet``, ``swin_unetr``).
- :mod:`.config`: :class:`BaselineTrainConfig` and the MONAI ``DiceCELoss``.
- :mod:`.data`: fold splits of the masked rows, in-memory slices, paired image / mask augmentation.
- :mod:`.train`: :func:`train_baseline` (early stopping, checkpoints, metrics CSV, resume).
- :mod:`.inference`: :func:`predict_baseline` probability maps, masks, detection (more than MIN_LESION_PIXELS pixels).
- :mod:`.checkpoint`: safetensors + JSON save / load.
"""

from workbench.baselines.checkpoint import load_baseline, save_baseline
from workbench.baselines.config import BaselineTrainConfig, make_loss
from workbench.baselines.data import FoldSplit, augment_pair, baseline_splits
from workbench.baselines.inference import detect, foreground_probability, predict_baseline
from workbench.baselines.models import BASELINES, PRESETS, BaselineConfig, BaselineNet, baseline_config, create_baseline
from workbench.baselines.train import BaselineResult, evaluate_slices, train_baseline

__all__ = ["BASELINES", "PRESETS", "BaselineConfig", "BaselineNet", "BaselineResult", "BaselineTrainConfig",
           "FoldSplit", "augment_pair", "baseline_config", "baseline_splits", "create_baseline", "detect",
           "evaluate_slices", "foreground_probability", "load_baseline", "make_loss",
           "predict_baseline", "save_baseline", "train_baseline"]
