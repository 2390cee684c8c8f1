"""Public API (``workbench.explain``, lazily re-exported by the package): ``explain(model, images, methods=[...], target=1, brain_mask=None, **opts)``.

All requested methods are served by one forward and one backward pass (:func:`capture`): the union
of what the operators need (gradients w.r.t. S and / or A, CAM layers) is recorded once.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import torch
from torch import nn

from workbench.capture import CaptureResult, Target, capture, default_cam_layer
from workbench.operators import PostProcess, Requirements, get_operator, make_options, postprocess

__all__ = ["DEFAULT_METHODS", "resolve_options", "requirements", "compute_maps", "explain"]

DEFAULT_METHODS = ("swin_sam", "hgi_sam", "gradcam", "hirescam", "layercam", "rollout", "grad_rollout")


def resolve_options(
    methods: Iterable[str], opts: Mapping[str, Any], method_options: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Options dataclass per method. A shared keyword goes to every method that has that option and
    must fit at least one; ``method_options[method]`` overrides per method."""
    methods = [methods] if isinstance(methods, str) else list(dict.fromkeys(methods))
    names = {m: set(get_operator(m).option_names) for m in methods}
    for key in opts:
        if not any(key in n for n in names.values()):
            valid = sorted(set().union(*names.values()))
            raise ValueError(f"unknown option {key!r} for methods {methods}; valid choices: {', '.join(valid) or 'none'}")
    method_options = dict(method_options or {})
    extra = sorted(set(method_options) - set(methods))
    if extra:
        raise ValueError(f"method_options for {extra[0]!r}, which is not requested; requested: {', '.join(methods)}")
    return {
        m: make_options(m, **{**{k: v for k, v in opts.items() if k in names[m]}, **method_options.get(m, {})})
        for m in methods
    }


def requirements(options: Mapping[str, Any]) -> Requirements:
    """Union of what the operators in ``options`` ({method: options}) need from the capture."""
    req = Requirements()
    for method, opt in options.items():
        req = req | get_operator(method).requires(opt)
    return req


def compute_maps(result: CaptureResult, options: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Raw maps {method: (B, h, w)} from one capture."""
    return {method: get_operator(method)(result, opt) for method, opt in options.items()}


def explain(
    model: nn.Module,
    images: torch.Tensor,
    methods: Iterable[str] = DEFAULT_METHODS,
    target: Target = 1,
    brain_mask: torch.Tensor | None = None,
    *,
    relu: bool = False,
    normalize: bool = False,
    threshold: float | None = None,
    method_options: Mapping[str, Mapping[str, Any]] | None = None,
    **opts: Any,
) -> dict[str, torch.Tensor]:
    """Explain ``images`` (B, C, H, W) with each method -> {method: (B, H, W)} at input resolution.

    target: class index (int), one per sample (sequence / tensor), None (predicted class per
    sample) or a callable logits (B, K) -> scores (B,). Default 1 = ICH, as in HGI-SAM.
    brain_mask: (H, W) or (B, H, W); None = no masking. relu / normalize / threshold: optional
    post-processing (:class:`PostProcess`); by default the maps are raw (upsampled, signed).
    opts: operator options shared by name, e.g. ``gradient="probs"``, ``stages=(1, 2, 3)``,
    ``layer="layers.2"``, ``heads="topk"``, ``pairs="mean"``, ``row_normalize=True``.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
    options = resolve_options(methods, opts, method_options)
    req = requirements(options)
    layers = sorted({default_cam_layer(model) if name is None else name for name in req.layers})
    result = capture(model, images, target, layers=layers, gradients=sorted(req.gradients))
    post = PostProcess(relu=relu, normalize=normalize, threshold=threshold)
    size = tuple(images.shape[-2:])
    return {m: postprocess(raw, size, brain_mask, post) for m, raw in compute_maps(result, options).items()}
