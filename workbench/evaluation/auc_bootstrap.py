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
from typing import Iterator, Mapping

import numpy as np
import torch

from workbench.evaluation.aggregate import (BootstrapCI, Groups, check_bootstrap, group_index, percentile_interval,
                                            resample_groups)
from workbench.evaluation.ranking import roc_auc, weighted_roc_auc

__all__ = ["AucComparison", "subject_resample_weights", "bootstrap_auc", "auc_interval", "hanley_mcneil_se"]

CHUNK = 256
"""Resamples drawn and scored at once: (CHUNK, slices) float64 weights bound the memory."""


@dataclass(frozen=True)
class AucComparison:
    """``aucs``: each classifier's AUC with its interval; ``differences``: ``"name - reference"`` ->
    the paired AUC difference with its interval (statistic ``"auc_difference"``). ``n_resamples`` of
    each interval counts the resamples kept (those holding both classes)."""

    aucs: dict[str, BootstrapCI]
    differences: dict[str, BootstrapCI]
    reference: str | None


def subject_resample_weights(groups: Groups, n: int, *, generator: torch.Generator, n_resamples: int,
                             chunk: int = CHUNK) -> Iterator[torch.Tensor]:
    """Chunks of (<= chunk, n) float64 weights, R rows in all: how often each slice's subject is drawn in
    each resample of the G subjects (G draws with replacement, :func:`~workbench.evaluation.aggregate.
    resample_groups`; chunking does not change the draws)."""
    keys, inverse = group_index(groups, n)
    return _weights(inverse, len(keys), generator, n_resamples, chunk)


def _weights(inverse: torch.Tensor, g: int, generator: torch.Generator, n_resamples: int,
             chunk: int = CHUNK) -> Iterator[torch.Tensor]:
    """:func:`subject_resample_weights` from each slice's group index (M,) into G groups."""
    for start in range(0, n_resamples, chunk):
        draws = resample_groups(g, min(chunk, n_resamples - start), generator)
        counts = torch.zeros(draws.shape, dtype=torch.float64).scatter_add_(1, draws, torch.ones(draws.shape, dtype=torch.float64))
        yield counts[:, inverse]


def _interval(estimate: float, stats: torch.Tensor, level: float, n_groups: int, statistic: str) -> BootstrapCI:
    ok = stats[~torch.isnan(stats)]
    if ok.numel() == 0:
        return BootstrapCI(estimate, math.nan, math.nan, level, 0, n_groups, statistic)
    return BootstrapCI(estimate, *percentile_interval(ok, level), level, int(ok.numel()), n_groups, statistic)


def bootstrap_auc(scores: Mapping[str, torch.Tensor | np.ndarray], labels, groups: Groups, *,
                  generator: torch.Generator, n_resamples: int = 2000, level: float = 0.95,
                  reference: str | None = None) -> AucComparison:
    """ROC-AUC of each classifier with a subject-bootstrap interval, and each one's paired difference to
    ``reference`` (one of ``scores``' names; None: no differences).

    scores: name -> (M,) finite scores of the same M slices; labels: (M,) 0/1; groups: (M,) subject ids;
    generator: explicit torch.Generator (seeded). Every classifier is scored on the same R resamples, and a
    resample without a positive or a negative slice is dropped for all of them.
    """
    if not scores:
        raise ValueError("no classifier to score; give scores as {name: (M,) scores}")
    if reference is not None and reference not in scores:
        raise ValueError(f"reference {reference!r} is not among the scores; valid: {', '.join(scores)}")
    check_bootstrap(level, n_resamples)
    y = torch.from_numpy(np.array(labels, dtype=np.float64)).reshape(-1)
    s = {k: torch.from_numpy(np.array(v, dtype=np.float64)).reshape(-1) for k, v in scores.items()}
    for name, v in s.items():
        if v.shape != y.shape:
            raise ValueError(f"scores {name!r} hold {v.numel()} values for {y.numel()} labels; give one score per slice")
    keys, inverse = group_index(groups, y.numel())
    n_groups = len(keys)
    stats: dict[str, list[torch.Tensor]] = {k: [] for k in s}
    for w in _weights(inverse, n_groups, generator, n_resamples):
        for k, v in s.items():
            stats[k].append(weighted_roc_auc(v, y, w))
    resampled = {k: torch.cat(v) for k, v in stats.items()}
    point = {k: float(roc_auc(v[None], y[None])[0]) for k, v in s.items()}
    aucs = {k: _interval(point[k], resampled[k], level, n_groups, "auc") for k in s}
    diffs = {} if reference is None else {
        f"{k} - {reference}": _interval(point[k] - point[reference], resampled[k] - resampled[reference], level,
                                        n_groups, "auc_difference") for k in s if k != reference}
    return AucComparison(aucs, diffs, reference)


def auc_interval(scores, labels, groups: Groups, *, seed: int = 0, n_resamples: int = 2000, level: float = 0.95) -> BootstrapCI:
    """One classifier's ROC-AUC with its subject-bootstrap interval (:func:`bootstrap_auc`, resamples drawn
    from ``torch.Generator().manual_seed(seed)``). scores, labels, groups: (M,) each."""
    return bootstrap_auc({"auc": scores}, labels, groups, generator=torch.Generator().manual_seed(seed),
                         n_resamples=n_resamples, level=level).aucs["auc"]


def hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of one ROC-AUC when every sample is independent (Hanley & McNeil 1982, eq. 2, with
    Q1 = A / (2 - A) and Q2 = 2 A^2 / (1 + A), exact for exponentially distributed scores). Slices of one
    scan are not independent: the subject bootstrap's interval is the one to report; this is the yardstick
    that shows how much the clustering widens it."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    return math.sqrt((auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg))
