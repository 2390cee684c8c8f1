"""Swin classifiers: presets, factory, losses and safetensors checkpoints."""

from workbench.models.checkpoint import load_model, save_model
from workbench.models.config import BINARY_CLASSES, TASKS, ModelConfig, SwinArch, default_class_names
from workbench.models.factory import build_model, create_model, disable_fused_attn, model_config, unwrap
from workbench.models.losses import detection_scores, focal_bce_with_logits, task_loss, task_probabilities
from workbench.models.presets import PRESETS, get_preset, register_preset

__all__ = [
    "BINARY_CLASSES", "TASKS", "PRESETS", "ModelConfig", "SwinArch",
    "build_model", "create_model", "default_class_names", "detection_scores", "disable_fused_attn",
    "focal_bce_with_logits", "get_preset", "load_model", "model_config", "register_preset",
    "save_model", "task_loss", "task_probabilities", "unwrap",
]
