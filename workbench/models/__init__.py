"""Swin classifiers: presets, factory, losses and safetensors checkpoints."""

from workbench.models.checkpoint import load_model, save_model
from workbench.models.config import BINARY_CLASSES, TASKS, ModelConfig, SwinArch, default_class_names
from workbench.models.factory import build_model, create_model, disable_fused_attn, model_config, unwrap
from workbench.models.ich import ICH_CLASS_NAMES, ich_index, ich_probability, model_task
from workbench.models.losses import focal_bce_with_logits, task_loss, task_probabilities
from workbench.models.presets import PRESETS, get_preset, register_preset

__all__ = [
    "BINARY_CLASSES", "TASKS", "PRESETS", "ModelConfig", "SwinArch",
    "ICH_CLASS_NAMES", "build_model", "create_model", "default_class_names", "disable_fused_attn",
    "ich_index", "ich_probability", "model_task",
    "focal_bce_with_logits", "get_preset", "load_model", "model_config", "register_preset",
    "save_model", "task_loss", "task_probabilities", "unwrap",
]
