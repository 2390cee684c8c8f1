"""One registry of explanation operators, one signature, one contract.

Every operator is ``fn(result: CaptureResult, options) -> raw map (B, h, w)`` where ``options`` is
the operator's frozen options dataclass; :func:`run_operator` builds the options from keywords.
``requires(options)`` says what the capture must record, so :func:`workbench.explain` can serve all
methods from one forward and one backward.

The contract (``tests/operators/test_contract.py`` checks it for every registered operator on
several Swin geometries: square, padded, non-square, clamped windows):

- output: a float tensor (B, h, w) on the capture's device, finite, where (h, w) is either a token
  grid of one of the model's stages (rollout: stage 1; the CAM family: the hooked layer) or the
  input size (H, W) (the stage products below);
- raw: signed where the method is (the CAM family before the outer ReLU, gradient-weighted
  attention), not normalised to [0, 1] and not upsampled, except where the method itself defines
  it. The Swin-SAM / HGI-SAM stage product (Rasoulian et al., MELBA 2023, section 3) min-max
  normalises each stage map and upsamples it to the input before multiplying the stages, so those
  two return (B, H, W) in [0, 1]. Everything else (upsampling, ReLU, brain mask, min-max,
  threshold) happens once, in :func:`workbench.operators.postprocess`;
- batch independence: sample b's map depends only on image b and its target;
- target: an operator whose ``requires`` asks for gradients (of the attention, or of a CAM layer's
  activations) changes when the target changes; one that reads only the forward pass (attention
  rollout, plain-mean Swin-SAM) does not.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import torch

from workbench.capture.result import CaptureResult
from workbench.utils.errors import check_choice

__all__ = ["Requirements", "Operator", "REGISTRY", "register", "get_operator", "make_options", "run_operator"]


@dataclass(frozen=True)
class Requirements:
    """gradients: subset of {"logits", "probs"}; layers: layer names, None = the default CAM layer."""

    gradients: frozenset[str] = frozenset()
    layers: frozenset[str | None] = frozenset()

    def __or__(self, other: "Requirements") -> "Requirements":
        return Requirements(self.gradients | other.gradients, self.layers | other.layers)


@dataclass(frozen=True)
class Operator:
    name: str
    fn: Callable[[CaptureResult, Any], torch.Tensor]
    options: type
    requires: Callable[[Any], Requirements]
    citation: str

    def __call__(self, result: CaptureResult, options: Any | None = None) -> torch.Tensor:
        return self.fn(result, options if options is not None else self.options())

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.options))


REGISTRY: dict[str, Operator] = {}


def register(name: str, options: type, requires: Callable[[Any], Requirements], citation: str):
    """Decorator adding ``fn(result, options) -> (B, h, w)`` to :data:`REGISTRY` under ``name``."""

    def wrap(fn):
        if name in REGISTRY:
            raise ValueError(f"operator {name!r} registered twice")
        REGISTRY[name] = Operator(name, fn, options, requires, citation)
        return fn

    return wrap


def get_operator(name: str) -> Operator:
    return REGISTRY[check_choice("method", name, REGISTRY)]


def make_options(name: str, **options: Any) -> Any:
    """The options dataclass of operator ``name`` from keywords; unknown keywords are an error."""
    op = get_operator(name)
    for key in sorted(options):
        check_choice("option", key, op.option_names, f" for {name}")
    return op.options(**options)


def run_operator(name: str, result: CaptureResult, **options: Any) -> torch.Tensor:
    """``op(result, **options) -> raw map (B, h, w)`` for the operator called ``name``."""
    return get_operator(name)(result, make_options(name, **options))
