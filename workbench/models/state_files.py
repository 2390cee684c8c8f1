"""Reading state dicts the workbench did not write, and loading a pretrained backbone.

Files are read without unpickling code: ``.safetensors`` with safetensors, ``.pth`` / ``.pt`` /
``.bin`` / ``.ckpt`` with ``torch.load(weights_only=True)`` (tensors and plain containers only); a
file that needs arbitrary objects is refused with a message saying so. Key layouts are converted
with timm's own ``checkpoint_filter_fn`` (old "downsample at the end of a stage" checkpoints, head
naming, patch-embedding and relative-position tables resampled to the model's geometry).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from timm.models import adapt_input_conv
from timm.models.swin_transformer import checkpoint_filter_fn
from torch import nn

from workbench.utils.errors import DataError, check_choice

__all__ = ["FORMATS", "StateMatch", "read_state_dict", "convert_state_dict", "match_state", "load_pretrained"]

FORMATS = ("timm", "hgi-sam")
_WRAPPERS = ("state_dict", "model", "model_state_dict", "net")
_DROPPED_PREFIXES = ("refinement_unet.",)
HEAD_PREFIX = "head.fc."
_REBUILT = ("relative_position_index", "attn_mask")  # buffers a timm Swin rebuilds itself (never loaded)


@dataclass(frozen=True)
class StateMatch:
    """How a converted state dict fits a model, keys in the model's order (the first is the earliest
    layer): ``fits`` {key: tensor} of the right shape; ``wrong`` keys of another shape; ``unexpected``
    keys the model lacks; ``missing`` model keys the state lacks (rebuilt buffers never count)."""

    fits: dict
    wrong: list
    unexpected: list
    missing: list

    def first_problem(self, state: dict, model_state: dict) -> str:
        if self.missing:
            return f"missing {self.missing[0]!r}"
        if self.unexpected:
            return f"unexpected {self.unexpected[0]!r}"
        k = self.wrong[0]
        return f"{k!r} has shape {tuple(state[k].shape)}, the model needs {tuple(model_state[k].shape)}"


def match_state(state: dict[str, torch.Tensor], model: nn.Module, skip_prefix: str | None = None) -> StateMatch:
    """Compare ``state`` with ``model.state_dict()``; keys under ``skip_prefix`` (e.g. the head) are left out."""
    own = model.state_dict()

    def kept(k: str) -> bool:
        return not (skip_prefix and k.startswith(skip_prefix)) and not k.endswith(_REBUILT)

    return StateMatch(fits={k: state[k] for k in own if kept(k) and k in state and state[k].shape == own[k].shape},
                      wrong=[k for k in own if kept(k) and k in state and state[k].shape != own[k].shape],
                      unexpected=[k for k in state if kept(k) and k not in own],
                      missing=[k for k in own if kept(k) and k not in state])


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
        own_head = {f"head.fc.{k[len('head.'):]}": v for k, v in state.items() if k in ("head.weight", "head.bias")}
        dropped += [k for k in state if not k.startswith("swin.") and k not in ("head.weight", "head.bias")]
        state = {k[len("swin."):]: v for k, v in state.items() if k.startswith("swin.")}
        if own_head:  # the released layout with a headless Swin and its own Linear head beside it
            state = {**{k: v for k, v in state.items() if not k.startswith("head.")}, **own_head}
    return checkpoint_filter_fn(state, model), dropped


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


OFFLINE_ENV = "WORKBENCH_OFFLINE"
"""Set (tests, ``workbench demo``): a timm / Hugging Face name is refused instead of downloaded."""


def _fetch(name: str) -> dict[str, torch.Tensor]:
    """A timm / Hugging Face model name's weights, downloaded by timm (needs network access). Only a
    user's explicit ``--pretrained NAME`` gets here; a name timm does not know (nor ``hf-hub:...``)
    is refused before anything is fetched."""
    import timm

    if not (name.startswith("hf-hub:") or timm.is_model(name)):
        raise DataError(name, "neither a local file nor a timm model name (timm.list_models() lists them); "
                              "give a .safetensors / .pth file or a timm / hf-hub: name")
    if os.environ.get(OFFLINE_ENV):
        raise DataError(name, f"a download was requested with {OFFLINE_ENV} set (tests, the demo): give a local "
                              ".safetensors / .pth file")
    try:
        return timm.create_model(name, pretrained=True, num_classes=0).state_dict()
    except Exception as err:
        raise DataError(name, "neither a local file nor a model timm could fetch "
                              f"({type(err).__name__}: {str(err).splitlines()[0][:160]}); without network, "
                              "pass a downloaded .safetensors / .pth file") from None


def _listed(keys: dict[str, str]) -> str:
    """Every key with its reason, grouped by reason, for the one summary line: ``reason: k1, k2; ...``."""
    by_reason: dict[str, list[str]] = {}
    for k, why in keys.items():
        by_reason.setdefault(why, []).append(k)
    return "; ".join(f"{why}: {', '.join(ks)}" if why else ", ".join(ks) for why, ks in by_reason.items())


def load_pretrained(model: nn.Module, source: str | Path) -> dict:
    """Load the backbone weights of ``source`` (a local file, or a timm / Hugging Face name fetched by
    timm) into ``model``; the classification head stays the model's own (replaced for the task).

    Tensors whose shape cannot be adapted, keys the model lacks and model keys the file lacks are
    reported in one summary line; fewer than half of the backbone's parameters loaded is an error.
    -> ``{"source", "sha256", "loaded", "skipped", "missing", "summary"}``."""
    path = Path(source)
    if path.is_file():
        state, sha = read_state_dict(path), _file_sha256(path)
    else:
        state, sha = _fetch(str(source)), ""
    skipped_stem = {}
    if not isinstance(model.patch_embed.proj, nn.Conv2d):  # a convolutional stem: the file's patchify conv cannot go in
        skipped_stem = {k: "the model has a convolutional stem" for k in state if k.startswith("patch_embed.proj.")}
        state = {k: v for k, v in state.items() if k not in skipped_stem}
    elif "patch_embed.proj.weight" in state:  # other input channels (e.g. 3 RGB -> N CT windows): timm's adaptation
        w, in_chans = state["patch_embed.proj.weight"], model.patch_embed.proj.in_channels
        if w.shape[1] != in_chans:
            state = {**state, "patch_embed.proj.weight": adapt_input_conv(in_chans, w)}
    state, _ = convert_state_dict(state, "timm", model)
    own = model.state_dict()
    match = match_state(state, model, skip_prefix=HEAD_PREFIX)
    fits = match.fits
    skipped = {**skipped_stem, **{k: "shape " + "x".join(map(str, state[k].shape)) for k in match.wrong},
               **{k: "not in the model" for k in match.unexpected}}
    missing = match.wrong + match.missing  # backbone tensors that keep their random initialisation
    total = sum(own[k].numel() for k in (*fits, *missing))
    loaded = sum(own[k].numel() for k in fits)
    summary = (f"pretrained {source}: loaded {len(fits)} of {len(fits) + len(missing)} backbone tensors "
               f"({100 * loaded / max(total, 1):.0f} % of its parameters); head replaced; "
               f"{len(skipped)} skipped{' (' + _listed(skipped) + ')' if skipped else ''}; "
               f"{len(missing)} not in the file{' (' + _listed(dict.fromkeys(missing, '')) + ')' if missing else ''}")
    if loaded < 0.5 * total:
        raise DataError(source, f"the backbone mostly failed to load: {summary}")
    model.load_state_dict(fits, strict=False)
    return {"source": str(source), "sha256": sha, "loaded": len(fits), "skipped": len(skipped),
            "missing": len(missing), "summary": summary}
