"""Data layer: CT windowing, readers, brain masks, the synthetic cohort, manifests, Datasets."""

from workbench.data.labels import LABEL_COLUMNS, SUBTYPES
from workbench.data.windowing import WINDOW_PRESETS, apply_window, stack_windows

__all__ = ["LABEL_COLUMNS", "SUBTYPES", "WINDOW_PRESETS", "apply_window", "stack_windows"]
