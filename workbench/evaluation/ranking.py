"""Rank statistics in torch, batched over rows, with ties handled exactly.

Every function takes rows of scores (B, P) and works on each row alone, so a row's result never
depends on the other rows in the batch. Ties get average ranks (the mid-rank), which is what makes
ROC-AUC count a tied positive/negative pair as one half (Mann-Whitney with tie correction) and
what Spearman's rho uses. Scores must be finite: a NaN has no rank.
"""

from __future__ import annotations

import numpy as np
import torch

from workbench.evaluation._common import as_mask, check_same_shape, safe_div

__all__ = ["check_finite", "average_ranks", "roc_auc", "weighted_roc_auc", "binary_auc", "average_precision", "spearman"]


def check_finite(x: torch.Tensor, name: str) -> None:
    """Raise if ``x`` holds NaN or inf (a non-finite score has no rank)."""
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} holds {int((~torch.isfinite(x)).sum())} non-finite values; "
                         f"ranks need finite scores (replace NaN, e.g. torch.nan_to_num)")


def _tie_bounds(sorted_rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For rows sorted ascending (B, P): index of the first and one past the last equal value, (B, P) each."""
    lo = torch.searchsorted(sorted_rows, sorted_rows, right=False)
    hi = torch.searchsorted(sorted_rows, sorted_rows, right=True)
    return lo, hi


def average_ranks(scores: torch.Tensor) -> torch.Tensor:
    """1-based ranks per row, ties sharing the mean of their ranks.

    scores: (B, P) finite -> ranks (B, P) float64; e.g. [3, 1, 3] -> [2.5, 1, 2.5].
    """
    check_finite(scores, "scores")
    s, order = torch.sort(scores, dim=1)
    lo, hi = _tie_bounds(s)
    mid = (lo + hi + 1).to(torch.float64) / 2  # ranks lo+1 .. hi, averaged
    return torch.empty_like(mid).scatter_(1, order, mid)


def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """ROC-AUC of each row by the Mann-Whitney U statistic with tie correction.

    AUC = (sum of positive ranks - n+ (n+ + 1) / 2) / (n+ n-), ranks averaged over ties, which equals
    P(score+ > score-) + 0.5 P(score+ = score-) and scikit-learn's ``roc_auc_score``.

    scores: (B, P) finite; labels: (B, P) bool or 0/1 -> (B,) float64, NaN where a row holds one
    class only (all positive or all negative).
    """
    check_same_shape(scores, labels, ("scores", "labels"))
    pos = as_mask(labels, "labels")
    ranks = average_ranks(scores)
    n_pos = pos.sum(1).to(torch.float64)
    n_neg = pos.shape[1] - n_pos
    u = (ranks * pos).sum(1) - n_pos * (n_pos + 1) / 2
    return safe_div(u, n_pos * n_neg)


def weighted_roc_auc(scores, labels, weights) -> torch.Tensor:
    """ROC-AUC of each row with a weight per sample (e.g. how often a bootstrap resample drew it).

    AUC = sum over positives i and negatives j of w_i w_j (1[s_i > s_j] + 0.5 1[s_i = s_j]) / (W+ W-),
    so integer weights give the AUC of the samples repeated that often, and unit weights give
    :func:`roc_auc` (the unweighted form, by ranks); it equals scikit-learn's
    ``roc_auc_score(..., sample_weight=w)``. From one sort per row (one in all when the scores are
    shared): the negative weight below each score and tied with it, by cumulative sums.

    scores, labels: (B, P), or (P,) shared by every row of ``weights`` (tensors or arrays); weights:
    (B, P) finite, >= 0 -> (B,) float64, NaN where a row has no positive or no negative weight.
    """
    w, scores, labels = (x if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x))  # np.array copies: writable
                         for x in (weights, scores, labels))
    w = w.to(torch.float64)
    if w.ndim != 2:
        raise ValueError(f"weights of shape {tuple(w.shape)}: give one row of sample weights per AUC, (B, P)")
    bad = ~torch.isfinite(w) | (w < 0)
    if bool(bad.any()):
        raise ValueError(f"weights must be finite and >= 0 (a weight counts how often a sample is drawn); "
                         f"found {w[bad][0].item()!r}")
    shared = scores.ndim == 1
    if shared and (labels.ndim != 1 or scores.shape[0] != w.shape[1] or labels.shape != scores.shape):
        raise ValueError(f"scores {tuple(scores.shape)}, labels {tuple(labels.shape)} and weights {tuple(w.shape)}: "
                         f"give (P,) scores and labels with (B, P) weights, or all three as (B, P)")
    if not shared:
        check_same_shape(scores, w, ("scores", "weights"))
        check_same_shape(scores, labels, ("scores", "labels"))
    check_finite(scores, "scores")
    pos = as_mask(labels, "labels")
    rows = scores[None] if shared else scores
    s, order = torch.sort(rows, dim=1)
    lo, hi = _tie_bounds(s)
    if shared:  # one sort for every row of weights
        pos_sorted = pos[order[0]][None]
        w_sorted = w[:, order[0]]
        lo, hi = lo.expand_as(w_sorted), hi.expand_as(w_sorted)
    else:
        pos_sorted = pos.gather(1, order)
        w_sorted = w.gather(1, order)
    w_pos, w_neg = w_sorted * pos_sorted, w_sorted * ~pos_sorted
    below = torch.nn.functional.pad(torch.cumsum(w_neg, dim=1), (1, 0))  # below[:, k]: negative weight of the first k
    under, upto = below.gather(1, lo), below.gather(1, hi)  # strictly lower scores; lower or tied
    u = (w_pos * (under + 0.5 * (upto - under))).sum(1)
    return safe_div(u, w_pos.sum(1) * w_neg.sum(1))


def binary_auc(labels, scores) -> float:
    """ROC-AUC of one set of samples (the one :func:`roc_auc`, for 1-D inputs): labels (N,) 0/1 or
    bool and scores (N,) finite, as tensors, arrays or lists -> float; NaN with one class only."""
    labels = torch.from_numpy(np.array(labels, dtype=np.float64)).reshape(1, -1)  # np.array copies: writable
    scores = torch.from_numpy(np.array(scores, dtype=np.float64)).reshape(1, -1)
    return float(roc_auc(scores, labels >= 0.5)[0])


def average_precision(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Average precision of each row: sum over thresholds of (R_n - R_{n-1}) P_n, no interpolation.

    Thresholds are the distinct scores (a tie group enters as a whole), as in scikit-learn's
    ``average_precision_score``. Each positive contributes the precision at the end of its tie
    group, divided by the number of positives.

    scores: (B, P) finite; labels: (B, P) bool or 0/1 -> (B,) float64, NaN where a row has no positive.
    """
    check_same_shape(scores, labels, ("scores", "labels"))
    pos = as_mask(labels, "labels")
    check_finite(scores, "scores")
    neg_sorted, order = torch.sort(-scores, dim=1)  # descending scores
    pos_sorted = pos.gather(1, order)
    _, hi = _tie_bounds(neg_sorted)
    end = hi - 1  # last index of each element's tie group
    tp = torch.cumsum(pos_sorted, dim=1).to(torch.float64)
    precision_at = tp / torch.arange(1, scores.shape[1] + 1, dtype=torch.float64, device=scores.device)
    precision_end = precision_at.gather(1, end)
    return safe_div((precision_end * pos_sorted).sum(1), pos_sorted.sum(1))


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman's rank correlation per row: Pearson correlation of the average ranks.

    a, b: (B, P) finite -> (B,) float64 in [-1, 1]; NaN where a row of ``a`` or ``b`` is constant.
    """
    check_same_shape(a, b, ("a", "b"))
    ra = average_ranks(a)
    rb = average_ranks(b)
    ra = ra - ra.mean(1, keepdim=True)
    rb = rb - rb.mean(1, keepdim=True)
    return safe_div((ra * rb).sum(1), torch.sqrt((ra * ra).sum(1) * (rb * rb).sum(1)))
