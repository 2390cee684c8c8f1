"""Randomisation sanity check (Adebayo et al., NeurIPS 2018).

Maps of a trained model are compared with maps of the same inputs from a model whose weights were
randomly re-initialised (the caller produces both; no model code here). A map that barely changes
explains the architecture or the input, not the learned classifier. Values are raw similarities;
what counts as "changed enough" is the caller's call.
"""

from __future__ import annotations

import math

import torch

from workbench.evaluation._common import check_same_shape, flat
from workbench.evaluation.perturbation import relevance_order
from workbench.evaluation.ranking import spearman

__all__ = ["top_fraction_overlap", "randomisation_check"]


def top_fraction_overlap(maps: torch.Tensor, other: torch.Tensor, fraction: float = 0.1) -> torch.Tensor:
    """Share of the top ``fraction`` pixels of ``maps`` that are also in the top of ``other``.

    k = ceil(fraction * P) pixels per map, ties broken by pixel index. 1 = same top region; about
    ``fraction`` = unrelated maps.
    maps, other: (B, H, W) -> (B,) float64 in [0, 1].
    """
    check_same_shape(maps, other, ("maps", "other"))
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction}")
    k = math.ceil(fraction * flat(maps).shape[1])
    top_a = flat(relevance_order(maps)) < k
    top_b = flat(relevance_order(other)) < k
    return (top_a & top_b).sum(1).to(torch.float64) / k


def randomisation_check(maps: torch.Tensor, random_maps: torch.Tensor, fraction: float = 0.1) -> dict[str, torch.Tensor]:
    """Similarity of a trained model's maps to a re-initialised model's maps, per sample.

    maps, random_maps: (B, H, W) finite -> {"spearman": (B,) rank correlation (NaN for a constant
    map), "abs_spearman": its absolute value (a sign flip is no change), "top_overlap": (B,)
    :func:`top_fraction_overlap` at ``fraction``}. Low values mean the map depends on the weights.
    """
    check_same_shape(maps, random_maps, ("maps", "random_maps"))
    rho = spearman(flat(maps), flat(random_maps))
    return {"spearman": rho, "abs_spearman": rho.abs(), "top_overlap": top_fraction_overlap(maps, random_maps, fraction)}
