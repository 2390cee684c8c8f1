"""Checkpoints the workbench did not write: timm-format Swin state dicts and the HGI-SAM authors'
released classifiers (HealthX-Lab/HGI-SAM), turned into workbench classifiers.

Files are read without unpickling code: ``.safetensors`` with safetensors, ``.pth`` / ``.pt`` /
``.bin`` / ``.ckpt`` with ``torch.load(weights_only=True)`` (tensors and plain containers only); a
file that needs arbitrary objects is refused with a message saying so.

Layouts of the released HGI-SAM code (``models/swin_weak.py`` in its history):

- ``swin.*``: a timm ``swin_base_patch4_window12_384`` with its classification head inside
  (``swin.head.fc.*``, or ``swin.head.*`` in older timm), next to a refinement U-Net
  (``refinement_unet.*``, not part of the classifier: dropped and reported);
- old timm checkpoints keep PatchMerging at the end of a stage (``layers.0.downsample``) and the head
  as ``head.*``: converted by timm's own ``checkpoint_filter_fn`` (which also drops non-persistent
  buffers and resamples patch-embedding / relative-position tables when the geometry differs).

The paper's input recipe: 384 px, the brain / subdural / bone windows, Swin-B (preset ``paper``).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from safetensors.torch import load_file
from timm.models.swin_transformer import checkpoint_filter_fn
from torch import nn

from workbench.models.factory import create_model
from workbench.utils.errors import DataError, check_choice

__all__ = ["FORMATS", "read_state_dict", "convert_state_dict", "import_checkpoint"]

FORMATS = ("timm", "hgi-sam")
_WRAPPERS = ("state_dict", "model", "model_state_dict", "net")
_DROPPED_PREFIXES = ("refinement_unet.",)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file: {key: tensor}. A ``{"state_dict": ...}`` / ``{"model": ...}``
    wrapper is unwrapped. Errors name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "checkpoint file does not exist")
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise DataError(path, "refused: it needs unpickling of arbitrary Python objects (weights_only=True); "
                              "save a plain state_dict (torch.save(model.state_dict(), ...)) or safetensors "
                              f"[{str(err).splitlines()[0][:160]}]") from None
    except Exception as err:  # truncated zip, bad header, not a checkpoint at all
        raise DataError(path, f"cannot read a checkpoint ({type(err).__name__}: {str(err).splitlines()[0][:160]})") from None
    for key in _WRAPPERS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(path, "holds no state dict of tensors")
    return state


def convert_state_dict(state: dict[str, torch.Tensor], fmt: str, model: nn.Module) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Keys of ``fmt`` renamed to the workbench's timm Swin ``model`` -> (state, dropped keys)."""
    check_choice("checkpoint format", fmt, FORMATS)
    dropped = [k for k in state if k.startswith(_DROPPED_PREFIXES)]
    state = {k: v for k, v in state.items() if not k.startswith(_DROPPED_PREFIXES)}
    if fmt == "hgi-sam":
        if not any(k.startswith("swin.") for k in state):
            raise ValueError("no key starts with 'swin.': not the HGI-SAM SwinWeak layout (try --format timm)")
        dropped += [k for k in state if not k.startswith("swin.")]
        state = {k[len("swin."):]: v for k, v in state.items() if k.startswith("swin.")}
    return checkpoint_filter_fn(state, model), dropped


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
