"""Explain defaults of a classifier: per method, the P(ICH) gate and map threshold that give the best
whole-scan masks on a set of validation subjects with lesion masks.

``workbench explain`` on a user's own scans has no study at hand to choose thresholds. A classifier
can carry them instead: :func:`calibrate` scores every method's maps on validation subjects (never
the subjects a result is reported on) and picks, per method, the (gate, threshold) pair with the
highest mean per-subject volume score (:func:`~workbench.evaluation.gating.best_gate_threshold`).
The shipped reference classifiers record the result in their provenance (``explain_defaults``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from workbench.data.dataset import SliceDataset
from workbench.evaluation.gating import best_gate_threshold
from workbench.evaluation.maps import weak_maps
from workbench.evaluation.overlap import overlap_curve, threshold_grid
from workbench.models.context import ContextHead, frame_context_probabilities
from workbench.utils.progress import progress

__all__ = ["calibrate"]


def calibrate(model: nn.Module, dataset: SliceDataset, methods: Sequence[str], batch_size: int = 16,
              grid: torch.Tensor | None = None, brain_mask: bool = True, context: ContextHead | None = None) -> dict:
    """``{"methods": {m: {"gate", "threshold", "volume_score"}}, "gate_probability", "subjects", "slices",
    "lesion_slices"}`` for ``model`` on ``dataset`` (its own input recipe, lesion masks required). With a
    ``context`` head the gates read P(ICH) with scan context (``gate_probability`` ``context``; the
    dataset's frame gives each slice's volume and position), else the slice's own (``slice``)."""
    grid = threshold_grid() if grid is None else grid
    methods = list(dict.fromkeys(methods))
    variants = {m: (m, {}) for m in methods}
    stats: dict[str, dict[str, list[torch.Tensor]]] = {m: {"inter": [], "pred_n": [], "target_n": []} for m in methods}
    probs = []
    for idx in progress(torch.arange(len(dataset)).split(batch_size), desc="calibrating", leave=False):
        items = [dataset[int(i)] for i in idx]
        images = torch.stack([it["image"] for it in items])
        masks = torch.stack([it["mask"] for it in items])
        brain = torch.stack([it["brain_mask"] for it in items]) if brain_mask else None
        maps, prob = weak_maps(model, images, brain, variants)
        probs.append(prob)
        for m in methods:  # only the pixel counts at every threshold are needed (one sort per slice)
            inter, pred_n, target_n = overlap_curve(maps[m].detach(), masks > 0.5, grid)
            for key, value in (("inter", inter), ("pred_n", pred_n), ("target_n", target_n[:, 0])):
                stats[m][key].append(value)
    prob = torch.cat(probs)
    if context is not None:
        ctx = frame_context_probabilities(context, prob.double().numpy(), dataset.frame)
        if np.isnan(ctx).any():
            raise ValueError("calibrating on P(ICH) with scan context needs 5 mm slices; some scans of this dataset "
                             "have another spacing (calibrate on the slice's own P(ICH) instead)")
        prob = torch.from_numpy(ctx)
    subjects = list(dataset.frame["subject_id"].astype(str))
    out = {}
    for m in methods:
        inter, pred_n, target_n = (torch.cat(stats[m][k]) for k in ("inter", "pred_n", "target_n"))
        gate, threshold, score, _ = best_gate_threshold(inter, pred_n, target_n, prob, subjects, grid)
        out[m] = {"gate": round(gate, 6), "threshold": round(threshold, 6), "volume_score": score}
    target = torch.cat(stats[methods[0]]["target_n"])
    return {"methods": out, "gate_probability": "slice" if context is None else "context", "subjects": len(set(subjects)), "slices": len(dataset),
            "lesion_slices": int((target > 0).sum())}
