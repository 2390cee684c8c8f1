"""Subject-level bootstrap of detection ROC-AUC: one classifier's interval, and paired differences.

Slices of one scan are not independent (a bleed spans neighbouring slices, a head's anatomy is
shared by all its slices), so the interval resamples whole subjects, as
:func:`~workbench.evaluation.aggregate.bootstrap_ci` does for Dice: a resample draws G subjects with
replacement and every slice of a subject drawn k times weighs k in the AUC
(:func:`~workbench.evaluation.ranking.weighted_roc_auc`). A paired difference scores two classifiers
on the same slices and the same resamples, so what they share cancels: its interval is far narrower
than either AUC's when they agree on most slices, which is what makes a gain of a hundredth measurable.
Percentile intervals (Efron & Tibshirani 1993); resamples that draw no positive or no negative slice
are dropped and the count kept is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from workbench.evaluation.aggregate import BootstrapCI, Groups, group_index
from workbench.evaluation.ranking import roc_auc, weighted_roc_auc

__all__ = ["AucComparison", "subject_resample_weights", "bootstrap_auc", "hanley_mcneil_se"]

CHUNK = 256
"""Resamples scored at once: (CHUNK, slices) float64 tensors bound the memory."""


@dataclass(frozen=True)
class AucComparison:
    """``aucs``: each classifier's AUC with its interval; ``differences``: ``"name - reference"`` ->
    the paired AUC difference with its interval (statistic ``"auc_difference"``)."""

    aucs: dict[str, BootstrapCI]
    differences: dict[str, BootstrapCI]
    reference: str | None


def subject_resample_weights(groups: Groups, n: int, *, generator: torch.Generator, n_resamples: int) -> torch.Tensor:
    """(R, n) float64: how often each slice's subject is drawn in each of R resamples of the G subjects
    (G draws with replacement, so every row sums to n over whole subjects)."""
    keys, inverse = group_index(groups, n)
    g = len(keys)
    draws = torch.randint(g, (n_resamples, g), generator=generator)
    counts = torch.zeros(n_resamples, g, dtype=torch.float64).scatter_add_(1, draws, torch.ones(n_resamples, g, dtype=torch.float64))
    return counts[:, inverse]


def _interval(estimate: float, stats: torch.Tensor, level: float, n_groups: int, statistic: str) -> BootstrapCI:
    ok = stats[~torch.isnan(stats)]
    if ok.numel() == 0:
        return BootstrapCI(estimate, math.nan, math.nan, level, 0, n_groups, statistic)
    low, high = torch.quantile(ok, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)).tolist()
    return BootstrapCI(estimate, low, high, level, int(ok.numel()), n_groups, statistic)


def bootstrap_auc(scores: Mapping[str, torch.Tensor | np.ndarray], labels, groups: Groups, *,
                  generator: torch.Generator, n_resamples: int = 2000, level: float = 0.95,
                  reference: str | None = None) -> AucComparison:
    """ROC-AUC of each classifier with a subject-bootstrap interval, and each one's paired difference to
    ``reference`` (one of ``scores``' names; None: no differences).

    scores: name -> (M,) finite scores of the same M slices; labels: (M,) 0/1; groups: (M,) subject ids;
    generator: explicit torch.Generator (seeded). Every classifier is scored on the same R resamples.
    """
    if not scores:
        raise ValueError("no classifier to score; give scores as {name: (M,) scores}")
    if reference is not None and reference not in scores:
        raise ValueError(f"reference {reference!r} is not among the scores; valid: {', '.join(scores)}")
    if not 0 < level < 1 or n_resamples < 1:
        raise ValueError(f"need 0 < level < 1 and n_resamples >= 1; got level={level}, n_resamples={n_resamples}")
    y = torch.from_numpy(np.array(labels, dtype=np.float64)).reshape(-1)
    s = {k: torch.from_numpy(np.array(v, dtype=np.float64)).reshape(-1) for k, v in scores.items()}
    for name, v in s.items():
        if v.shape != y.shape:
            raise ValueError(f"scores {name!r} hold {v.numel()} values for {y.numel()} labels; give one score per slice")
    weights = subject_resample_weights(groups, y.numel(), generator=generator, n_resamples=n_resamples)
    n_groups = len(group_index(groups, y.numel())[0])
    stats = {k: torch.cat([weighted_roc_auc(v, y, w) for w in weights.split(CHUNK)]) for k, v in s.items()}
    point = {k: float(roc_auc(v[None], y[None])[0]) for k, v in s.items()}
    aucs = {k: _interval(point[k], stats[k], level, n_groups, "auc") for k in s}
    diffs = {} if reference is None else {
        f"{k} - {reference}": _interval(point[k] - point[reference], stats[k] - stats[reference], level, n_groups,
                                        "auc_difference") for k in s if k != reference}
    return AucComparison(aucs, diffs, reference)


def hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of one ROC-AUC when every sample is independent (Hanley & McNeil 1982, eq. 2, with
    Q1 = A / (2 - A) and Q2 = 2 A^2 / (1 + A), exact for exponentially distributed scores). Slices of one
    scan are not independent: the subject bootstrap's interval is the one to report; this is the yardstick
    that shows how much the clustering widens it."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    return math.sqrt((auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg))
