"""Public API (``workbench.explain``, lazily re-exported by the package): ``explain(model, images, methods=[...], target=1, brain_mask=None, **opts)``.

All requested methods are served by one forward and one backward pass (:func:`capture`): the union
of what the operators need (gradients w.r.t. S and / or A, CAM layers) is recorded once. This is
the one explain path: the CLI, the K-fold study (:func:`workbench.evaluation.maps.weak_maps`),
the explorer and the notebooks all call :func:`explain` (``return_capture=True`` keeps the capture
for per-head and per-stage views and for the classifier's logits of the same forward).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import torch
from torch import nn

from workbench.capture import CaptureResult, Target, capture, default_cam_layer
from workbench.operators import PostProcess, Requirements, get_operator, make_options, postprocess

__all__ = ["DEFAULT_METHODS", "Explanation", "resolve_options", "requirements", "explain"]

DEFAULT_METHODS = ("swin_sam", "hgi_sam", "gradcam", "hirescam", "layercam", "rollout", "grad_rollout", "hgi_gradcam",
                   "blood_refine", "blood_hu")


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


def requirements(specs: Iterable[tuple[str, Any]]) -> Requirements:
    """Union of what the ``(operator, options)`` pairs need from the capture."""
    req = Requirements()
    for method, opt in specs:
        req = req | get_operator(method).requires(opt)
    return req


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` computed: ``maps`` {name: (B, H, W)} at input resolution, post-processed;
    ``result``: the :class:`CaptureResult` they came from (logits, attention, gradients, layers)."""

    maps: Mapping[str, torch.Tensor]
    result: CaptureResult


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
    variants: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None,
    gradients: Iterable[str] | None = None,
    return_capture: bool = False,
    **opts: Any,
) -> dict[str, torch.Tensor] | Explanation:
    """Explain ``images`` (B, C, H, W) with each method -> {method: (B, H, W)} at input resolution.

    target: class index (int), one per sample (sequence / tensor), None (predicted class per
    sample) or a callable logits (B, K) -> scores (B,). Default 1 = ICH, as in HGI-SAM
    (:func:`workbench.models.ich_index` gives a classifier's ICH logit).
    brain_mask: (H, W) or (B, H, W); None = no masking. relu / normalize / threshold: optional
    post-processing (:class:`PostProcess`); by default the maps are raw (upsampled, signed).
    opts: operator options shared by name, e.g. ``gradient="probs"``, ``stages=(1, 2, 3)``,
    ``layer="layers.2"``, ``heads="topk"``, ``pairs="mean"``, ``row_normalize=True``.
    variants: extra named maps {name: (method, options)} from the same capture (e.g. HGI-SAM with
    two head weightings), keyed by name in the output next to ``methods``.
    gradients: the gradients to record (``"logits"``: dscore/dS, ``"probs"``: dscore/dA); default:
    what the operators need. return_capture: return an :class:`Explanation` (maps and capture).
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
    methods = [methods] if isinstance(methods, str) else list(methods)
    specs = {m: (m, o) for m, o in (resolve_options(methods, opts, method_options) if methods else {}).items()}
    for name, (method, options) in (variants or {}).items():
        if name in specs:
            raise ValueError(f"variant {name!r} repeats a requested method; give variants names of their own")
        specs[name] = (method, resolve_options([method], options)[method])
    if not specs:
        raise ValueError("nothing to explain: give methods or variants")
    req = requirements(specs.values())
    layers = sorted({default_cam_layer(model) if name is None else name for name in req.layers})
    result = capture(model, images, target, layers=layers,
                     gradients=sorted(req.gradients) if gradients is None else sorted(set(gradients)))
    post = PostProcess(relu=relu, normalize=normalize, threshold=threshold)
    size = tuple(images.shape[-2:])
    maps = {name: postprocess(get_operator(method)(result, opt), size, brain_mask, post)
            for name, (method, opt) in specs.items()}
    return Explanation(maps, result) if return_capture else maps
