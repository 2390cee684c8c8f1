"""Maps of the study's methods and their per-slice statistics, computed once per slice.

Shapes: images (B, C, S, S) in [0, 1]; masks / brain masks (B, S, S); maps (B, S, S); Q = grid
thresholds. A map is scored at every grid threshold in one sort (:func:`overlap_curve`), so the
threshold search and the final scores need no second pass over the images.

- weak methods: all methods of one classifier come from ONE forward + backward
  (:func:`~workbench.capture.capture`, as :func:`workbench.explain` does), then upsampling, brain
  mask and per-sample min-max (:func:`~workbench.operators.postprocess`); the classifier's
  probability comes from the same forward (binary: softmax class 1; multilabel: sigmoid of ``any``).
- baselines: foreground probability (:func:`~workbench.baselines.predict_baseline`) times the
  brain mask, no min-max (they are probabilities, thresholded at a fixed 0.5).
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from workbench.api import compute_maps, requirements, resolve_options
from workbench.baselines.inference import detection_score, predict_baseline
from workbench.capture import capture, default_cam_layer
from workbench.evaluation.localisation import energy_pointing_game, map_auc, pointing_game
from workbench.evaluation.overlap import overlap_curve
from workbench.evaluation.study_config import MethodSpec
from workbench.operators import PostProcess, postprocess

__all__ = ["STAT_KEYS", "ich_target", "classifier_probability", "weak_maps", "baseline_maps", "score_maps"]

#: Per-slice statistics cached for every (fold, method): (M, Q) counts and (M,) values.
STAT_KEYS = ("inter", "pred_n", "target_n", "pointing", "energy", "map_auc", "det_score", "prob")


def ich_target(model: nn.Module) -> int:
    """Index of the ICH output: class ``ich`` (binary, 1) or ``any`` (multilabel, 0), from the config."""
    cfg = getattr(model, "workbench_config", None)
    names = tuple(cfg.class_names) if cfg is not None else ("no_ich", "ich")
    for name in ("ich", "any"):
        if name in names:
            return names.index(name)
    raise ValueError(f"the classifier's classes {names} hold neither 'ich' nor 'any'; cannot choose the ICH target")


def classifier_probability(logits: torch.Tensor, task: str, target: int) -> torch.Tensor:
    """P(ICH) per slice. logits: (B, K) -> (B,) float64: softmax (binary) or sigmoid (multilabel)."""
    if task == "binary":
        return logits.detach().double().softmax(-1)[:, target]
    return logits.detach().double()[:, target].sigmoid()


def weak_maps(model: nn.Module, images: torch.Tensor, brain: torch.Tensor | None,
              specs: Mapping[str, MethodSpec]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Maps of several weak methods of one classifier from one forward + backward.

    images: (B, C, S, S); brain: (B, S, S) or None; specs: {study method: spec}, distinct operators
    -> ({method: (B, S, S) float in [0, 1] (min-max after the brain mask)}, P(ICH) (B,) float64).
    """
    ops = {spec.operator: name for name, spec in specs.items()}
    if len(ops) != len(specs):
        raise ValueError(f"methods {sorted(specs)} share an operator; give each operator once per classifier")
    target = ich_target(model)
    options = resolve_options(list(ops), {}, {spec.operator: dict(spec.options) for spec in specs.values()})
    req = requirements(options)
    layers = sorted({default_cam_layer(model) if n is None else n for n in req.layers})
    result = capture(model, images, target, layers=layers, gradients=sorted(req.gradients))
    raw = compute_maps(result, options)
    size = tuple(images.shape[-2:])
    maps = {ops[op]: postprocess(m, size, brain, PostProcess(normalize=True)).float() for op, m in raw.items()}
    task = getattr(getattr(model, "workbench_config", None), "task", "binary")
    prob = classifier_probability(result.logits, task, target)
    if not bool(torch.isfinite(prob).all()):  # never a silent "no bleed" from a broken classifier
        raise FloatingPointError(f"the classifier gave non-finite P(ICH) on {int((~torch.isfinite(prob)).sum())} of "
                                 f"{len(prob)} slices: corrupted weights or input; nothing was written for them")
    return maps, prob


def baseline_maps(model: nn.Module, images: torch.Tensor, brain: torch.Tensor | None) -> torch.Tensor:
    """Foreground probability maps (B, S, S) of a baseline, times the brain mask when given."""
    probs = predict_baseline(model, images, batch_size=images.shape[0])
    return probs if brain is None else probs * brain.to(probs.dtype)


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
