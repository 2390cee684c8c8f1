"""HU windowing: map Hounsfield units to [0, 1] through a (center, width) window.

``y = clip((hu - (center - width / 2)) / width, 0, 1)`` -- the DICOM linear window without the
half-pixel offsets of PS3.3 C.11.2.1.2 (negligible at HU resolution, and what the HGI-SAM code
and the RSNA solutions use).
"""

from __future__ import annotations

from typing import Sequence

import torch

from workbench.utils.errors import choice_error

__all__ = ["WINDOW_PRESETS", "DEFAULT_WINDOWS", "resolve_window", "apply_window", "stack_windows"]

WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0),
    "subdural": (80.0, 200.0),
    "bone": (600.0, 2800.0),
    "physionet_brain": (40.0, 120.0),
    "physionet_subdural": (80.0, 340.0),
    "physionet_bone": (700.0, 3200.0),
    "stroke": (40.0, 40.0),
}
"""Named windows as (center, width) in HU. ``brain``/``subdural``/``bone`` are the paper's three
input channels; the ``physionet_*`` presets are the windows PhysioNet CT-ICH publishes."""

DEFAULT_WINDOWS: tuple[str, ...] = ("brain", "subdural", "bone")


def resolve_window(window: str | Sequence[float]) -> tuple[float, float]:
    """Return (center, width) for a preset name or a (center, width) pair.

    Raises ValueError naming the bad value and the valid presets; width must be > 0.
    """
    if isinstance(window, str):
        if window not in WINDOW_PRESETS:
            raise choice_error("window preset", window, WINDOW_PRESETS)
        return WINDOW_PRESETS[window]
    try:
        center, width = (float(v) for v in window)
    except (TypeError, ValueError):
        raise ValueError(
            f"window must be a preset name or a (center, width) pair, got {window!r}; "
            f"presets: {', '.join(WINDOW_PRESETS)}"
        ) from None
    if not width > 0:
        raise ValueError(f"window width must be > 0, got {width!r}")
    return center, width


def apply_window(hu: torch.Tensor, window: str | Sequence[float]) -> torch.Tensor:
    """Window ``hu`` (any shape, HU) to [0, 1] as float32; same shape out."""
    center, width = resolve_window(window)
    low = center - width / 2.0
    return ((hu.float() - low) / width).clamp_(0.0, 1.0)


def stack_windows(hu: torch.Tensor, windows: Sequence[str | Sequence[float]] = DEFAULT_WINDOWS) -> torch.Tensor:
    """Stack several windows of ``hu`` as channels.

    hu: (..., H, W) in HU  ->  (..., C, H, W) in [0, 1], C = len(windows).
    """
    if len(windows) == 0:
        raise ValueError(f"need at least one window; presets: {', '.join(WINDOW_PRESETS)}")
    return torch.stack([apply_window(hu, w) for w in windows], dim=-3)
