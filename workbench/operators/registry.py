"""One registry of explanation operators, one signature.

Every operator is ``fn(result: CaptureResult, options) -> raw map (B, h, w)`` where ``options`` is
the operator's frozen options dataclass; :func:`run_operator` builds the options from keywords.
``requires(options)`` says what the capture must record, so :func:`workbench.explain` can serve all
methods from one forward and one backward.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import torch

from workbench.capture.result import CaptureResult

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
    if name not in REGISTRY:
        raise ValueError(f"unknown method {name!r}; valid choices: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def make_options(name: str, **options: Any) -> Any:
    """The options dataclass of operator ``name`` from keywords; unknown keywords are an error."""
    op = get_operator(name)
    unknown = sorted(set(options) - set(op.option_names))
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} for {name}; valid choices: {', '.join(op.option_names) or 'none'}")
    return op.options(**options)


def run_operator(name: str, result: CaptureResult, **options: Any) -> torch.Tensor:
    """``op(result, **options) -> raw map (B, h, w)`` for the operator called ``name``."""
    return get_operator(name)(result, make_options(name, **options))
