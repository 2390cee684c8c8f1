"""Localisation scores of raw or post-processed maps against lesion masks (sources per score below).

Every score is per sample, (B, H, W) maps and masks in, (B,) float64 out, and NaN when the mask is
empty: an empty mask is never a hit (a peer library cast NaN to bool and counted it as one) and is
never a miss. No score normalises across the batch, so a sample's score does not depend on the
other samples it is batched with.

- pointing game (Zhang et al., ECCV 2016, here without a tolerance radius): is the map's maximum
  inside the mask;
- energy pointing game (Wang et al., Score-CAM, CVPRW 2020): share of the map's mass inside the mask;
- relevance rank accuracy (Arras et al., Information Fusion 2022): share of the |mask| highest pixels
  that lie inside the mask;
- ROC-AUC of the map as a pixel classifier of the mask.
"""

from __future__ import annotations

import torch

from workbench.evaluation._common import as_mask, check_same_shape, flat, safe_div
from workbench.evaluation.ranking import check_finite, roc_auc
from workbench.utils.errors import check_choice

__all__ = ["TIE_RULES", "pointing_game", "energy_pointing_game", "relevance_rank_accuracy", "map_auc"]

TIE_RULES = ("fraction", "any", "all")


def _pairs(maps: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Checked flat rows: maps (B, P), masks (B, P) bool, and a (B,) bool 'mask is empty'."""
    check_same_shape(maps, masks)
    check_finite(maps, "maps")
    m = flat(as_mask(masks))
    return flat(maps), m, ~m.any(1)


def _nan_where(empty: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
    return torch.where(empty, torch.full_like(score, float("nan")), score)


def pointing_game(maps: torch.Tensor, masks: torch.Tensor, ties: str = "fraction") -> torch.Tensor:
    """Hit (1) if the map's maximum lies inside the mask, miss (0) if not, NaN if the mask is empty.

    Ties at the maximum are explicit, never left to argmax's index order:
    ``"fraction"`` (default): the share of the maximal pixels inside the mask, i.e. the expected hit
    under a random tie-break (a constant map scores the mask's area share);
    ``"any"``: hit if any maximal pixel is inside; ``"all"``: hit only if all of them are.

    maps: (B, H, W) finite; masks: (B, H, W) bool or 0/1 -> (B,) float64 in [0, 1] or NaN.
    """
    check_choice("tie rule", ties, TIE_RULES)
    m, mask, empty = _pairs(maps, masks)
    at_max = m == m.max(dim=1, keepdim=True).values
    inside = (at_max & mask).sum(1)
    if ties == "fraction":
        score = inside.to(torch.float64) / at_max.sum(1)
    elif ties == "any":
        score = (inside > 0).to(torch.float64)
    else:
        score = (inside == at_max.sum(1)).to(torch.float64)
    return _nan_where(empty, score)


def energy_pointing_game(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """sum(map inside mask) / sum(map), per sample.

    The map must be non-negative (apply ReLU or min-max first; a signed map has no "energy").
    maps: (B, H, W) >= 0; masks: (B, H, W) -> (B,) float64 in [0, 1]; NaN for an empty mask or an
    all-zero map.
    """
    m, mask, empty = _pairs(maps, masks)
    if bool((m < 0).any()):
        raise ValueError(f"energy pointing game needs non-negative maps; found minimum {m.min().item():.4g}; "
                         f"clamp first (PostProcess(relu=True) or normalize=True)")
    m = m.to(torch.float64)
    return _nan_where(empty, safe_div((m * mask).sum(1), m.sum(1)))


def relevance_rank_accuracy(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of the K = |mask| highest-ranked pixels that lie inside the mask, per sample.

    Ties at the K-th value are resolved in expectation: pixels strictly above the K-th largest value
    v all count; the remaining places are filled by the pixels equal to v, each counting with the
    share of those pixels that are inside the mask. So a constant map scores the mask's area share,
    and the result never depends on sort order.

    maps: (B, H, W) finite; masks: (B, H, W) -> (B,) float64 in [0, 1]; NaN for an empty mask.
    """
    m, mask, empty = _pairs(maps, masks)
    k = mask.sum(1)
    desc = torch.sort(m, dim=1, descending=True).values
    kth = desc.gather(1, (k - 1).clamp_min(0)[:, None])  # (B, 1) K-th largest value
    above = m > kth
    equal = m == kth
    n_above = above.sum(1)
    share_equal = safe_div((equal & mask).sum(1), equal.sum(1))
    hits = (above & mask).sum(1) + (k - n_above) * share_equal
    return _nan_where(empty, safe_div(hits, k))


def map_auc(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """ROC-AUC of the map's pixel values as a classifier of mask pixels (ties count one half).

    maps: (B, H, W) finite; masks: (B, H, W) -> (B,) float64; NaN when the mask is empty or full.
    """
    check_same_shape(maps, masks)
    return roc_auc(flat(maps), flat(masks))
