"""Checkpoints the workbench did not write: timm-format Swin state dicts and the HGI-SAM authors'
released classifiers (HealthX-Lab/HGI-SAM), turned into workbench classifiers.

Layouts of the released HGI-SAM code (``models/swin_weak.py`` in its history):

- ``swin.*`` + ``head.*``: a headless timm ``swin_base_patch4_window12_384_in22k`` (``num_classes=-1``:
  pooled, normed features) and its own ``nn.Linear(1024, num_classes)`` head beside it;
- ``swin.*`` alone: the same Swin with its classification head inside (``swin.head.fc.*``, or
  ``swin.head.*`` in older timm), next to a refinement U-Net (``refinement_unet.*``, not part of the
  classifier: dropped);
- old timm checkpoints keep PatchMerging at the end of a stage (``layers.0.downsample``) and the head
  as ``head.*``: converted by timm's own ``checkpoint_filter_fn``
  (:func:`workbench.models.state_files.convert_state_dict`).

The paper's input recipe: 384 px, the brain / subdural / bone windows, Swin-B (preset ``paper``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from torch import nn

from workbench.models.factory import create_model
from workbench.models.state_files import convert_state_dict, match_state, read_state_dict
from workbench.utils.errors import DataError

__all__ = ["import_checkpoint"]


def import_checkpoint(path: str | Path, fmt: str, task: str, preset: str = "paper", **overrides) -> nn.Module:
    """A workbench classifier (``create_model(preset, task=task, **overrides)``) holding the weights of
    ``path`` in layout ``fmt``; every key must load (the head included: the logits are the source
    model's). Errors name the file and the first mismatching key."""
    state = read_state_dict(path)
    model = create_model(preset, task=task, **overrides)
    try:
        state, dropped = convert_state_dict(state, fmt, model)
    except ValueError as err:
        raise DataError(path, str(err)) from None
    match = match_state(state, model)
    if match.missing or match.unexpected or match.wrong:
        raise DataError(path, f"does not fit the {preset!r} preset for task {task!r}: {len(match.missing)} missing, "
                              f"{len(match.unexpected)} unexpected, {len(match.wrong)} mismatched keys; first: "
                              f"{match.first_problem(state, model.state_dict())}")
    if dropped:
        print(f"import {path}: dropped {len(dropped)} keys that are not the classifier "
              f"({', '.join(sorted({k.split('.')[0] for k in dropped}))})", file=sys.stderr)
    model.load_state_dict(match.fits, strict=False)  # the buffers a Swin rebuilds itself are not loaded
    return model.eval()
