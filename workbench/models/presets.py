"""Named Swin architectures: the paper's Swin-B and small presets that train on a CPU.

Add a variant with :func:`register_preset`. Measured costs on this machine (2 cores) are in
``docs/guide/training.md``.
"""

from __future__ import annotations

from workbench.models.config import SwinArch
from workbench.utils.errors import choice_error

__all__ = ["PRESETS", "register_preset", "get_preset"]

PRESETS: dict[str, SwinArch] = {}


def register_preset(name: str, arch: SwinArch) -> SwinArch:
    """Add ``arch`` under ``name`` (an error if the name is taken)."""
    if name in PRESETS:
        raise ValueError(f"preset {name!r} already registered")
    PRESETS[name] = arch
    return arch


def get_preset(name: str) -> SwinArch:
    """The architecture registered as ``name``; the error lists the valid names."""
    if name not in PRESETS:
        raise choice_error("preset", name, sorted(PRESETS))
    return PRESETS[name]


# Paper (HGI-SAM, MELBA 2023, section 3): Swin-B, patch 4, window 12, 384 px; stage grids 96, 48, 24, 12.
register_preset(
    "paper",
    SwinArch(img_size=384, patch_size=4, embed_dim=128, depths=(2, 2, 18, 2),
             num_heads=(4, 8, 16, 32), window_size=12, drop_path_rate=0.2),
)
# CPU presets (docs/guide/training.md): 128 px, grids 32, 16, 8, 4 (the last stages clamp the window).
# Max pooling over the final tokens: a median lesion covers part of one of the 16 final tokens, and
# timm's average pooling diluted it; on the synthetic cohort max pooling learned faster on validation
# (AUC 0.81 vs 0.66 after 250 steps, same seed; held-out not separated; docs/guide/training.md).
register_preset(
    "cpu-small",
    SwinArch(img_size=128, patch_size=4, embed_dim=48, depths=(2, 2, 2, 2),
             num_heads=(3, 6, 12, 24), window_size=8, drop_path_rate=0.1, global_pool="max"),
)
# 256 px, grids 64, 32, 16, 8: every stage has plain and shifted windows.
register_preset(
    "cpu-base",
    SwinArch(img_size=256, patch_size=4, embed_dim=64, depths=(2, 2, 2, 2),
             num_heads=(2, 4, 8, 16), window_size=8, drop_path_rate=0.1, global_pool="max"),
)
# Tests only: 32 px, grids 8, 4; runs a batch in milliseconds.
register_preset(
    "test-tiny",
    SwinArch(img_size=32, patch_size=4, embed_dim=16, depths=(2, 2),
             num_heads=(1, 2), window_size=4, drop_path_rate=0.0),
)
