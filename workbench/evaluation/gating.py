"""Classifier-gated masks: a slice whose P(ICH) is below a gate gets an empty mask.

A min-max normalised map always has pixels above any threshold, so an ungated weak method predicts a
bleed on every slice (specificity 0) and inflates every scan's volume. The gate uses the classifier
that made the map (its P(ICH) from the same forward pass). Gate and map threshold are chosen
together, per test fold, on the other folds only (nested, like :func:`~.thresholds.select_thresholds`):
the pair maximises the mean per-subject volume score

- a subject with hemorrhage: volume Dice, 2 sum(TP) / (sum(pred) + sum(true)) over all its slices;
- a hemorrhage-free subject: 1 when nothing is predicted in the whole scan, else 0 (the usual
  convention for an empty reference),

so false positives on clean slices and scans count, unlike the paper's Dice on positive slices.
Gate 0 (no gating) is always on the grid, so gating never scores worse than no gating on the
training folds. Ties go to the lowest gate, then the lowest threshold.

Shapes: M slices, Q map thresholds, G gates. inter / pred_n: (M, Q) pixel counts of ``map > t``
inside the lesion / in total (:func:`~workbench.evaluation.overlap.overlap_curve`); target_n: (M,);
prob: (M,) P(ICH); subjects: (M,) subject ids; folds: (M,) test fold of each slice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from workbench.evaluation.aggregate import group_index
from workbench.evaluation.overlap import threshold_grid

__all__ = ["GATE_GRID", "GATE_PROBABILITIES", "FoldGate", "gate_slices", "subject_volume_scores", "best_gate_threshold", "select_gate_thresholds",
           "volume_error_ceiling"]

GATE_GRID = (0.0, 1.0, 0.01)
"""(start, stop, step) of the P(ICH) gates searched (gate 0 = no gating)."""
GATE_PROBABILITIES = ("slice", "context")
"""What a gate reads: the slice's own P(ICH), or the P(ICH) with scan context where the classifier carries a
context head (:mod:`workbench.models.context`; the slice's own elsewhere)."""


@dataclass(frozen=True)
class FoldGate:
    """The (gate, threshold) used on test fold ``fold``, chosen on ``train_folds``."""

    fold: int
    gate: float
    threshold: float
    train_folds: tuple[int, ...]
    train_score: float  # mean per-subject volume score on the training folds at (gate, threshold)
    n_train_subjects: int


def gate_slices(counts: torch.Tensor, prob: torch.Tensor, gate: float | torch.Tensor) -> torch.Tensor:
    """``counts`` (M, ...) with every slice whose ``prob`` (M,) is below its ``gate`` (one value, or (M,):
    each slice's own, e.g. its fold's) set to 0 (an empty mask)."""
    if prob.ndim != 1 or counts.shape[0] != prob.shape[0]:
        raise ValueError(f"counts of shape {tuple(counts.shape)} and prob of shape {tuple(prob.shape)}: "
                         "give one probability per slice")
    keep = (prob.to(torch.float64) >= torch.as_tensor(gate, dtype=torch.float64)).reshape(-1, *([1] * (counts.ndim - 1)))
    return torch.where(keep, counts, torch.zeros((), dtype=counts.dtype))


def subject_volume_scores(inter: torch.Tensor, pred_n: torch.Tensor, target_n: torch.Tensor,
                          subjects: Sequence) -> tuple[list, torch.Tensor]:
    """Per-subject volume score (module docstring) at every threshold: -> (ids, (S, Q) float64)."""
    if inter.shape != pred_n.shape or inter.ndim != 2 or target_n.shape != inter.shape[:1]:
        raise ValueError(f"inter {tuple(inter.shape)}, pred_n {tuple(pred_n.shape)}, target_n {tuple(target_n.shape)}: "
                         "give (M, Q), (M, Q), (M,)")
    ids, inv = group_index(subjects, inter.shape[0])
    s = len(ids)
    i = torch.zeros(s, inter.shape[1], dtype=torch.float64).index_add_(0, inv, inter.to(torch.float64))
    p = torch.zeros(s, inter.shape[1], dtype=torch.float64).index_add_(0, inv, pred_n.to(torch.float64))
    t = torch.zeros(s, dtype=torch.float64).index_add_(0, inv, target_n.to(torch.float64))[:, None]
    dice = 2 * i / (p + t).clamp_min(1e-12)
    empty = (p == 0).to(torch.float64)  # (S, Q): nothing predicted in the whole scan
    return ids, torch.where(t > 0, dice, empty)


def _gate_grid(gates: torch.Tensor | None) -> torch.Tensor:
    gates = threshold_grid(*GATE_GRID) if gates is None else torch.as_tensor(gates, dtype=torch.float64)
    if not bool((gates == 0).any()):
        gates = torch.cat([gates.new_zeros(1), gates])
    return torch.unique(gates)  # sorted: ties go to the lowest gate


def best_gate_threshold(inter: torch.Tensor, pred_n: torch.Tensor, target_n: torch.Tensor, prob: torch.Tensor,
                        subjects: Sequence, thresholds: torch.Tensor,
                        gates: torch.Tensor | None = None) -> tuple[float, float, float, int]:
    """The (gate, threshold) with the highest mean per-subject volume score over all the subjects given
    -> (gate, threshold, mean score, number of subjects). Ties: lowest gate, then lowest threshold."""
    thresholds = torch.as_tensor(thresholds, dtype=torch.float64)
    if inter.shape[1] != thresholds.shape[0]:
        raise ValueError(f"counts of {inter.shape[1]} thresholds do not fit a grid of {thresholds.shape[0]}")
    best, best_at, n_subjects = -math.inf, (0.0, 0.0), 0
    for gate in _gate_grid(gates).tolist():
        ids, scores = subject_volume_scores(gate_slices(inter, prob, gate), gate_slices(pred_n, prob, gate),
                                            target_n, subjects)
        mean = scores.mean(0)  # (Q,)
        q = int(torch.argmax(mean))  # first maximum = lowest threshold
        if float(mean[q]) > best:
            best, best_at, n_subjects = float(mean[q]), (gate, float(thresholds[q])), len(ids)
    return best_at[0], best_at[1], best, n_subjects


def select_gate_thresholds(inter: torch.Tensor, pred_n: torch.Tensor, target_n: torch.Tensor, prob: torch.Tensor,
                           subjects: Sequence, folds: torch.Tensor, thresholds: torch.Tensor,
                           gates: torch.Tensor | None = None) -> dict[int, FoldGate]:
    """Per test fold, the (gate, threshold) with the highest mean per-subject volume score over the
    subjects of the other folds (the test fold's rows are dropped before anything is summed)."""
    folds = torch.as_tensor(folds)
    subjects = list(subjects)
    distinct = sorted(torch.unique(folds).tolist())
    if len(distinct) < 2:
        raise ValueError(f"nested gate search needs at least 2 folds; got {distinct}")
    out = {}
    for k in distinct:
        train = (folds != k).nonzero()[:, 0]  # the test fold's rows are dropped first
        gate, threshold, score, n = best_gate_threshold(inter[train], pred_n[train], target_n[train], prob[train],
                                                        [subjects[j] for j in train.tolist()], thresholds, gates)
        out[k] = FoldGate(k, gate, threshold, tuple(j for j in distinct if j != k), score, n)
    return out


def volume_error_ceiling(pred_n: torch.Tensor, target_n: torch.Tensor, prob: torch.Tensor, subjects: Sequence,
                         thresholds: torch.Tensor, gates: torch.Tensor | None = None) -> tuple[float, float, float]:
    """The lowest median relative volume error |V_est - V_true| / V_true over the subjects with hemorrhage
    that ANY (gate, threshold) of the grids reaches, chosen on these same subjects: an oracle, so a
    ceiling of what a map allows, never a result -> (median error, gate, threshold). Volumes are summed
    pixel counts (the slice spacing of a subject cancels in the ratio); ties: lowest gate, then threshold."""
    thresholds = torch.as_tensor(thresholds, dtype=torch.float64)
    if pred_n.ndim != 2 or pred_n.shape[1] != thresholds.shape[0] or target_n.shape != pred_n.shape[:1]:
        raise ValueError(f"pred_n {tuple(pred_n.shape)}, target_n {tuple(target_n.shape)} for a grid of "
                         f"{thresholds.shape[0]} thresholds: give (M, Q) and (M,)")
    ids, inv = group_index(subjects, pred_n.shape[0])
    true = torch.zeros(len(ids), dtype=torch.float64).index_add_(0, inv, target_n.to(torch.float64))
    ich = true > 0
    if not bool(ich.any()):
        raise ValueError("no subject with hemorrhage: a relative volume error needs a true volume")
    best = (math.inf, 0.0, 0.0)
    for gate in _gate_grid(gates).tolist():
        est = torch.zeros(len(ids), pred_n.shape[1], dtype=torch.float64).index_add_(
            0, inv, gate_slices(pred_n, prob, gate).to(torch.float64))
        err = ((est[ich] - true[ich, None]).abs() / true[ich, None]).quantile(0.5, dim=0)  # (Q,)
        q = int(torch.argmin(err))
        if float(err[q]) < best[0]:
            best = (float(err[q]), gate, float(thresholds[q]))
    return best
