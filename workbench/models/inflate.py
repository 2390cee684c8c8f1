"""Inflate a single-slice classifier to a 2.5D input that computes exactly what it computed.

A 2.5D model (``ModelConfig.adjacent_slices = a``) reads the windows of 2a+1 slices, stacked slice-major
with the slice itself in the middle. Its first convolution (the patch projection, or the convolutional
stem's first layer) is the only parameter that sees the channels: copying the single-slice weights to
the middle slice's channels and zeros to the others gives a model whose logits equal the source's on
every input, so fine-tuning starts from the trained classifier and learns what the neighbours add (the
"inflation" of 2D filters into a thicker input, as Carreira & Zisserman, CVPR 2017, inflated them in time).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn as nn

from workbench.models.factory import build_model, model_config, unwrap

__all__ = ["first_conv", "inflate_to_stack"]


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """(name, module) of the convolution of ``model``'s patch embedding that reads the image channels."""
    for name, module in unwrap(model).named_modules():
        if name.startswith("patch_embed") and isinstance(module, nn.Conv2d):
            return name, module
    raise ValueError("the model's patch embedding has no convolution")


def inflate_to_stack(model: nn.Module, adjacent_slices: int, adjacent_mm: float | None = None) -> nn.Module:
    """A new 2.5D model of ``adjacent_slices`` on each side from the single-slice ``model`` (unchanged).

    Every parameter and buffer is copied; the first convolution's weight (out, C, k, k) becomes
    (out, (2a+1) C, k, k), the source's weight on the middle slice's channels and zeros elsewhere.
    Raises ValueError when ``model`` already stacks slices or ``adjacent_slices`` < 1.
    """
    cfg = model_config(model)
    if cfg.adjacent_slices or adjacent_slices < 1:
        raise ValueError(f"inflation goes from one slice to adjacent_slices >= 1; got a model of adjacent_slices="
                         f"{cfg.adjacent_slices} and adjacent_slices={adjacent_slices}")
    stack = 2 * adjacent_slices + 1
    new_cfg = dataclasses.replace(cfg, arch=dataclasses.replace(cfg.arch, in_chans=cfg.arch.in_chans * stack),
                                  adjacent_slices=int(adjacent_slices),
                                  **({} if adjacent_mm is None else {"adjacent_mm": float(adjacent_mm)}))
    out = build_model(new_cfg)
    state = unwrap(model).state_dict()
    name = first_conv(out)[0] + ".weight"
    w = state[name]
    inflated = torch.zeros(w.shape[0], w.shape[1] * stack, *w.shape[2:], dtype=w.dtype)
    inflated[:, adjacent_slices * w.shape[1]:(adjacent_slices + 1) * w.shape[1]] = w
    out.load_state_dict({**state, name: inflated})
    return out.train(unwrap(model).training)
