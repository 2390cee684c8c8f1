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

from pathlib import Path

from torch import nn

from workbench.models.factory import create_model
from workbench.models.state_files import convert_state_dict, read_state_dict
from workbench.utils.errors import DataError

__all__ = ["import_checkpoint"]


def import_checkpoint(path: str | Path, fmt: str, task: str, preset: str = "paper", **overrides) -> nn.Module:
    """A workbench classifier (``create_model(preset, task=task, **overrides)``) holding the weights of
    ``path`` in layout ``fmt``; every key must load (the head included: the logits are the source
    model's). Errors name the file and the first mismatching key."""
    state = read_state_dict(path)
    model = create_model(preset, task=task, **overrides)
    try:
        state, _ = convert_state_dict(state, fmt, model)
    except ValueError as err:
        raise DataError(path, str(err)) from None
    own = model.state_dict()
    persistent = {k for k in own if not k.endswith(("relative_position_index", "attn_mask"))}
    missing = [k for k in own if k in persistent and k not in state]  # in the model's order: the first is
    unexpected = [k for k in state if k not in own]  # the earliest layer that does not fit
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        first = (f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}" if unexpected
                 else f"{wrong[0]!r} has shape {tuple(state[wrong[0]].shape)}, the {preset} preset needs "
                      f"{tuple(own[wrong[0]].shape)}")
        raise DataError(path, f"does not fit the {preset!r} preset for task {task!r}: {len(missing)} missing, "
                              f"{len(unexpected)} unexpected, {len(wrong)} mismatched keys; first: {first}")
    model.load_state_dict(state, strict=False)  # non-persistent buffers are rebuilt by the model itself
    return model.eval()
