"""Rank statistics against scikit-learn / SciPy, ties included."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, roc_auc_score

from workbench.evaluation import average_precision, average_ranks, binary_auc, roc_auc, spearman


def test_average_ranks_hand():
    assert average_ranks(torch.tensor([[3.0, 1.0, 3.0, 0.0]])).tolist() == [[3.5, 2.0, 3.5, 1.0]]


def rows(seed: int, b: int = 6, p: int = 40):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 8, (b, p), generator=g).double() / 7  # ties
    labels = torch.rand(b, p, generator=g) > 0.6
    return scores, labels


def test_roc_auc_and_average_precision_match_sklearn():
    scores, labels = rows(0)
    auc, ap = roc_auc(scores, labels), average_precision(scores, labels)
    for i in range(scores.shape[0]):
        y, s = labels[i].numpy(), scores[i].numpy()
        assert auc[i].item() == pytest.approx(roc_auc_score(y, s))
        assert ap[i].item() == pytest.approx(average_precision_score(y, s))


def test_one_class_rows_are_nan():
    scores = torch.tensor([[0.1, 0.5, 0.9], [0.1, 0.5, 0.9]])
    labels = torch.tensor([[0, 0, 0], [1, 1, 1]])
    assert torch.isnan(roc_auc(scores, labels)).all()
    ap = average_precision(scores, labels)
    assert torch.isnan(ap[0]) and ap[1] == 1.0


def test_spearman_matches_scipy():
    scores, _ = rows(1)
    other = scores + 0.3 * torch.randn(scores.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    got = spearman(scores, other)
    for i in range(scores.shape[0]):
        assert got[i].item() == pytest.approx(spearmanr(scores[i].numpy(), other[i].numpy()).statistic)
    assert torch.isnan(spearman(torch.ones(1, 5), torch.arange(5.0)[None])).all()


def test_non_finite_scores_are_an_error():
    with pytest.raises(ValueError, match="non-finite"):
        roc_auc(torch.tensor([[np.nan, 1.0]]), torch.tensor([[0, 1]]))


def test_binary_auc_is_roc_auc_on_one_row():
    g = torch.Generator().manual_seed(3)
    scores = torch.rand(50, generator=g).round(decimals=1)  # ties
    labels = (torch.rand(50, generator=g) > 0.6).long()
    want = roc_auc_score(labels.numpy(), scores.numpy())
    assert binary_auc(labels.numpy(), scores.numpy()) == pytest.approx(want, abs=1e-12)
    assert binary_auc(labels.tolist(), scores.tolist()) == pytest.approx(want, abs=1e-12)
    assert binary_auc([0, 1, 1], [0.2, 0.1, 0.9]) == pytest.approx(0.5)  # by hand: one of two pairs ordered
    assert math.isnan(binary_auc([1, 1], [0.3, 0.4]))
