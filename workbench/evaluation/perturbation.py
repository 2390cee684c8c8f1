"""Deletion and insertion curves (Petsiuk et al., RISE, BMVC 2018).

Pixels are ranked by the map, most relevant first. Deletion replaces the top-k fraction of pixels
of the image with a baseline and records the class score; insertion starts from the baseline and
restores the top-k fraction. The area under each curve (trapezoid rule over the fraction axis) is
the summary: low for deletion and high for insertion mean a faithful map.

The model enters only as ``score_fn(images (B, C, H, W)) -> (B,)`` scores (e.g. the ICH
probability), so this module holds no model code. It is called once per step with the whole batch,
under ``torch.no_grad``. Ties in the map are broken by pixel index (stable sort), so the curves are
deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from workbench.evaluation._common import flat

__all__ = ["PerturbationCurve", "relevance_order", "curve_area", "deletion_curve", "insertion_curve"]

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class PerturbationCurve:
    """fractions: (S,) share of pixels perturbed; scores: (B, S); area: (B,) trapezoid area."""

    mode: str
    fractions: torch.Tensor
    scores: torch.Tensor
    area: torch.Tensor


def relevance_order(maps: torch.Tensor) -> torch.Tensor:
    """Place of each pixel in the descending order of its map (0 = most relevant).

    maps: (B, H, W) -> (B, H, W) int64; ties keep pixel-index order.
    """
    order = torch.sort(flat(maps), dim=1, descending=True, stable=True).indices
    places = torch.arange(order.shape[1], device=maps.device).expand_as(order)
    return torch.empty_like(order).scatter_(1, order, places).reshape(maps.shape)


def curve_area(scores: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
    """Trapezoid area under scores (B, S) over fractions (S,) -> (B,)."""
    return torch.trapezoid(scores, fractions.to(scores.dtype), dim=-1)


def _check_fractions(fractions: torch.Tensor | None, steps: int) -> torch.Tensor:
    if fractions is None:
        if steps < 1:
            raise ValueError(f"steps must be >= 1; got {steps}")
        return torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    fractions = torch.as_tensor(fractions, dtype=torch.float64)
    if fractions.ndim != 1 or fractions.numel() < 2 or bool((fractions < 0).any() | (fractions > 1).any()) \
            or bool((fractions.diff() < 0).any()):
        raise ValueError(f"fractions must be a non-decreasing 1-D grid in [0, 1] with >= 2 values; got {fractions.tolist()}")
    return fractions


def _curve(mode: str, images: torch.Tensor, maps: torch.Tensor, score_fn: ScoreFn,
           fractions: torch.Tensor | None, steps: int, baseline: float | torch.Tensor) -> PerturbationCurve:
    if images.ndim != 4 or maps.ndim != 3 or images.shape[0] != maps.shape[0] or images.shape[-2:] != maps.shape[-2:]:
        raise ValueError(f"images of shape {tuple(images.shape)} and maps of shape {tuple(maps.shape)} do not pair; "
                         f"give images (B, C, H, W) and maps (B, H, W)")
    fractions = _check_fractions(fractions, steps)
    base = torch.as_tensor(baseline, dtype=images.dtype, device=images.device).expand_as(images)
    place = relevance_order(maps)[:, None]  # (B, 1, H, W), broadcast over channels
    n_pix = maps.shape[-2] * maps.shape[-1]
    scores = []
    with torch.no_grad():
        for f in fractions.tolist():
            chosen = place < int(round(f * n_pix))  # the top-k pixels
            x = torch.where(chosen, base, images) if mode == "deletion" else torch.where(chosen, images, base)
            s = score_fn(x)
            if s.shape != (images.shape[0],):
                raise ValueError(f"score_fn returned shape {tuple(s.shape)}; expected ({images.shape[0]},): one score per image")
            scores.append(s.to(torch.float64))
    scores_t = torch.stack(scores, dim=1)
    return PerturbationCurve(mode, fractions, scores_t, curve_area(scores_t, fractions))


def deletion_curve(images: torch.Tensor, maps: torch.Tensor, score_fn: ScoreFn, *,
                   fractions: torch.Tensor | None = None, steps: int = 20,
                   baseline: float | torch.Tensor = 0.0) -> PerturbationCurve:
    """Scores after replacing the top-k fraction of pixels (all channels) with ``baseline``.

    images: (B, C, H, W); maps: (B, H, W); fractions: (S,) in [0, 1], default ``steps + 1`` evenly
    spaced from 0 to 1; baseline: a value or a tensor broadcastable to images (e.g. a blurred copy).
    -> PerturbationCurve with scores (B, S) and area (B,) (lower = more faithful).
    """
    return _curve("deletion", images, maps, score_fn, fractions, steps, baseline)


def insertion_curve(images: torch.Tensor, maps: torch.Tensor, score_fn: ScoreFn, *,
                    fractions: torch.Tensor | None = None, steps: int = 20,
                    baseline: float | torch.Tensor = 0.0) -> PerturbationCurve:
    """Scores after restoring the top-k fraction of pixels onto the ``baseline`` image.

    Same arguments as :func:`deletion_curve`; area (B,) higher = more faithful.
    """
    return _curve("insertion", images, maps, score_fn, fractions, steps, baseline)
