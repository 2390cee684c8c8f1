"""Maps of the study's methods and their per-slice statistics, computed once per slice.

Shapes: images (B, C, S, S) in [0, 1]; masks / brain masks (B, S, S); maps (B, S, S); Q = grid
thresholds. A map is scored at every grid threshold in one sort (:func:`overlap_curve`), so the
threshold search and the final scores need no second pass over the images.

- weak methods: all methods of one classifier come from ONE forward + backward
  (:func:`workbench.explain`), then upsampling, brain mask and per-sample min-max
  (:func:`~workbench.operators.postprocess`); the classifier's probability comes from the same
  forward (:func:`~workbench.models.ich_probability`).
- baselines (:func:`workbench.baselines.inference.baseline_maps`): foreground probability times
  the brain mask, no min-max (they are probabilities, thresholded at a fixed 0.5); scored by the
  same :func:`score_maps`.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from workbench.api import explain
from workbench.evaluation.detection import detection_score
from workbench.evaluation.localisation import energy_pointing_game, map_auc, pointing_game
from workbench.evaluation.overlap import overlap_curve
from workbench.models.ich import ich_index, ich_probability, model_task

__all__ = ["STAT_KEYS", "weak_maps", "score_maps"]

#: Per-slice statistics cached for every (fold, method): (M, Q) counts and (M,) values.
STAT_KEYS = ("inter", "pred_n", "target_n", "pointing", "energy", "map_auc", "det_score", "prob")


def weak_maps(model: nn.Module, images: torch.Tensor, brain: torch.Tensor | None,
              variants: Mapping[str, tuple[str, Mapping[str, Any]]]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Maps of several weak methods of one classifier from one forward + backward, for its ICH logit.

    images: (B, C, S, S); brain: (B, S, S) or None; variants: {name: (operator, options)}
    -> ({name: (B, S, S) float in [0, 1] (min-max after the brain mask)}, P(ICH) (B,) float64).
    """
    out = explain(model, images, (), ich_index(model), brain, normalize=True, return_capture=True,
                  variants=variants)
    maps = {name: m.float() for name, m in out.maps.items()}
    prob = ich_probability(model_task(model), out.result.logits.detach().double())
    if not bool(torch.isfinite(prob).all()):  # never a silent "no bleed" from a broken classifier
        raise FloatingPointError(f"the classifier gave non-finite P(ICH) on {int((~torch.isfinite(prob)).sum())} of "
                                 f"{len(prob)} slices: corrupted weights or input; nothing was written for them")
    return maps, prob


def score_maps(maps: torch.Tensor, masks: torch.Tensor, grid: torch.Tensor, min_pixels: int,
               prob: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Per-slice statistics of :data:`STAT_KEYS`.

    maps: (B, S, S) >= 0; masks: (B, S, S) 0/1; grid: (Q,) -> inter / pred_n (B, Q) int64 (pixels of
    ``maps > t`` inside the mask / in total), target_n (B,) int64, pointing / energy / map_auc (B,)
    float64 (NaN without lesion), det_score (B,), prob (B,) (``prob`` or, when None, det_score).
    """
    masks = masks > 0.5
    inter, pred_n, target_n = overlap_curve(maps, masks, grid)
    det = detection_score(maps, min_pixels).double()  # score > t iff more than min_pixels pixels > t
    return {"inter": inter, "pred_n": pred_n, "target_n": target_n[:, 0], "pointing": pointing_game(maps, masks),
            "energy": energy_pointing_game(maps, masks), "map_auc": map_auc(maps, masks), "det_score": det,
            "prob": det if prob is None else prob.double()}
