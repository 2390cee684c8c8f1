"""Weighted ROC-AUC against scikit-learn and repetition; the subject bootstrap against explicit resampling."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from workbench.evaluation.aggregate import BootstrapCI
from workbench.evaluation.auc_bootstrap import auc_interval, bootstrap_auc, hanley_mcneil_se, subject_resample_weights
from workbench.evaluation.ranking import roc_auc, weighted_roc_auc


def cohort(seed: int, subjects: int = 12, per: int = 6):
    """Ties in the scores, slices grouped by subject, a second classifier correlated with the first."""
    g = np.random.default_rng(seed)
    groups = np.repeat([f"s{i:02d}" for i in range(subjects)], per)
    labels = (g.random(subjects * per) < 0.4).astype(int)
    a = np.round(labels * 0.8 + g.normal(0, 1, labels.size), 1)
    b = a + np.round(g.normal(0, 0.3, labels.size), 1) + 0.2 * labels
    return labels, a, b, groups


def test_weighted_auc_matches_sklearn_sample_weight_with_ties():
    g = np.random.default_rng(1)
    s, y = g.integers(0, 6, (5, 40)).astype(float), g.integers(0, 2, (5, 40))
    w = g.random((5, 40)) * 3
    w[:, :5] = 0  # zero weights: those samples take no part
    got = weighted_roc_auc(torch.tensor(s), torch.tensor(y), torch.tensor(w))
    for i in range(5):
        assert got[i].item() == pytest.approx(roc_auc_score(y[i], s[i], sample_weight=w[i]), abs=1e-12)


def test_integer_weights_are_repetition_and_unit_weights_are_roc_auc():
    labels, a, _, _ = cohort(2)
    k = np.random.default_rng(3).integers(0, 4, labels.size)
    rep = roc_auc_score(np.repeat(labels, k), np.repeat(a, k))
    w = torch.tensor(np.stack([k, np.ones_like(k)]), dtype=torch.float64)
    got = weighted_roc_auc(torch.tensor(a), torch.tensor(labels), w)  # (P,) scores shared by both rows
    assert got[0].item() == pytest.approx(rep, abs=1e-12)
    assert got[1].item() == pytest.approx(roc_auc(torch.tensor(a)[None], torch.tensor(labels)[None])[0].item(), abs=1e-12)


def test_weighted_auc_rejects_negative_weights_and_one_class_is_nan():
    with pytest.raises(ValueError, match=">= 0"):
        weighted_roc_auc(torch.zeros(3), torch.tensor([0, 1, 1]), torch.tensor([[1.0, -1.0, 1.0]]))
    w = torch.tensor([[1.0, 0.0, 0.0]])  # only the negative is weighted
    assert torch.isnan(weighted_roc_auc(torch.tensor([0.1, 0.5, 0.9]), torch.tensor([0, 1, 1]), w)).all()


def test_resample_weights_count_whole_subjects():
    groups = ["b", "a", "b", "c", "a", "a"]
    gen = torch.Generator().manual_seed(5)
    w = torch.cat(list(subject_resample_weights(groups, 6, generator=gen, n_resamples=30, chunk=7)))  # chunks of 7
    draws = torch.randint(3, (30, 3), generator=torch.Generator().manual_seed(5))  # the same draws, by hand
    for r in range(30):
        times = {key: int((draws[r] == i).sum()) for i, key in enumerate(["a", "b", "c"])}
        assert w[r].tolist() == [times[g] for g in groups]


def test_bootstrap_matches_explicit_subject_resampling():
    labels, a, b, groups = cohort(4)
    res = bootstrap_auc({"a": a, "b": b}, labels, groups, generator=torch.Generator().manual_seed(7),
                        n_resamples=200, reference="a")
    keys = sorted(set(groups))  # brute force: concatenate the drawn subjects' slices, score with scikit-learn
    draws = torch.randint(len(keys), (200, len(keys)), generator=torch.Generator().manual_seed(7)).numpy()
    auc = {"a": [], "b": []}
    for row in draws:
        idx = np.concatenate([np.flatnonzero(groups == keys[i]) for i in row])
        if labels[idx].min() == labels[idx].max():
            continue
        for name, s in (("a", a), ("b", b)):
            auc[name].append(roc_auc_score(labels[idx], s[idx]))
    diff = np.array(auc["b"]) - np.array(auc["a"])
    q = [0.025, 0.975]
    assert res.aucs["a"].estimate == pytest.approx(roc_auc_score(labels, a))
    assert [res.aucs["b"].low, res.aucs["b"].high] == pytest.approx(np.quantile(auc["b"], q), abs=1e-9)
    d = res.differences["b - a"]
    assert d.estimate == pytest.approx(roc_auc_score(labels, b) - roc_auc_score(labels, a))
    assert [d.low, d.high] == pytest.approx(np.quantile(diff, q), abs=1e-9)
    assert d.n_resamples == len(diff) and d.n_groups == 12 and d.statistic == "auc_difference"
    # pairing: the difference's interval is narrower than the width of either AUC's
    assert d.high - d.low < res.aucs["a"].high - res.aucs["a"].low


def test_one_class_resamples_are_dropped_for_every_classifier_alike():
    """Few subjects, bleeds in two of them: many resamples hold no positive; brute force drops the same ones."""
    g = np.random.default_rng(8)
    groups = np.repeat([f"s{i}" for i in range(5)], 4)
    labels = np.zeros(20, int)
    labels[[1, 2, 13]] = 1  # subjects s0 and s3
    a, b = g.normal(size=20) + labels, g.normal(size=20) + 2 * labels
    res = bootstrap_auc({"a": a, "b": b}, labels, groups, generator=torch.Generator().manual_seed(2),
                        n_resamples=300, reference="a")
    draws = torch.randint(5, (300, 5), generator=torch.Generator().manual_seed(2)).numpy()
    auc = {"a": [], "b": []}
    for row in draws:
        idx = np.concatenate([np.flatnonzero(groups == f"s{i}") for i in row])
        if labels[idx].min() == labels[idx].max():
            continue
        for name, s in (("a", a), ("b", b)):
            auc[name].append(roc_auc_score(labels[idx], s[idx]))
    kept = len(auc["a"])
    assert 50 < kept < 300  # (3/5)^5 of the resamples draw neither s0 nor s3
    d = res.differences["b - a"]
    assert res.aucs["a"].n_resamples == d.n_resamples == kept
    assert [d.low, d.high] == pytest.approx(np.quantile(np.array(auc["b"]) - np.array(auc["a"]), [0.025, 0.975]), abs=1e-9)


def test_auc_interval_is_bootstrap_auc_of_one_classifier():
    labels, a, _, groups = cohort(9)
    one = auc_interval(a, labels, groups, seed=4, n_resamples=150)
    full = bootstrap_auc({"x": a}, labels, groups, generator=torch.Generator().manual_seed(4), n_resamples=150).aucs["x"]
    assert (one.estimate, one.low, one.high) == (full.estimate, full.low, full.high)


def test_weighted_auc_errors_name_the_shapes_and_the_bad_weight():
    with pytest.raises(ValueError, match=r"found -2.0"):
        weighted_roc_auc(np.zeros(3), np.array([0, 1, 1]), np.array([[1.0, -2.0, 1.0]]))
    with pytest.raises(ValueError, match=r"scores \(3,\), labels \(3,\) and weights \(1, 4\)"):
        weighted_roc_auc(np.zeros(3), np.array([0, 1, 1]), np.ones((1, 4)))


def test_identical_rankings_differ_by_exactly_zero():
    labels, a, _, groups = cohort(6)
    res = bootstrap_auc({"a": a, "monotone": np.exp(a)}, labels, groups,
                        generator=torch.Generator().manual_seed(0), n_resamples=100, reference="a")
    d = res.differences["monotone - a"]
    assert (d.estimate, d.low, d.high) == (0.0, 0.0, 0.0)


def test_one_class_resamples_are_dropped_and_counted():
    groups = np.repeat(["pos", "n1", "n2", "n3"], 3)
    labels = np.array([1, 1, 0] + [0] * 9)  # every positive in one subject
    res = bootstrap_auc({"a": np.arange(12.0)}, labels, groups, generator=torch.Generator().manual_seed(1),
                        n_resamples=400)
    assert 0 < res.aucs["a"].n_resamples < 400  # (3/4)^4 of the resamples miss the subject with positives
    assert res.differences == {}


def test_bad_arguments_name_the_choices():
    labels, a, b, groups = cohort(0)
    with pytest.raises(ValueError, match="valid: a, b"):
        bootstrap_auc({"a": a, "b": b}, labels, groups, generator=torch.Generator(), reference="c")
    with pytest.raises(ValueError, match="'b' hold 3 values"):
        bootstrap_auc({"a": a, "b": b[:3]}, labels, groups, generator=torch.Generator())


def test_format():
    assert BootstrapCI(float("nan"), float("nan"), float("nan"), 0.95, 0, 0, "auc").format(signed=True) == "nan [nan, nan]"
    ci = BootstrapCI(0.0061, -0.0042, 0.0153, 0.95, 2000, 40, "auc_difference")
    assert ci.format(signed=True) == "+0.006 [-0.004, +0.015]"
    assert BootstrapCI(0.831, 0.79, 0.868, 0.95, 2000, 40, "auc").format() == "0.831 [0.790, 0.868]"


def test_hanley_mcneil_matches_simulation_of_independent_exponential_scores():
    """Negatives ~ Exp(1), positives ~ Exp(1/4): AUC = 1 / (1 + 1/4) = 0.8, the model where Q1, Q2 are exact."""
    g = torch.Generator().manual_seed(0)
    n_pos, n_neg, runs = 30, 60, 4000
    neg = torch.empty(runs, n_neg, dtype=torch.float64).exponential_(1.0, generator=g)
    pos = torch.empty(runs, n_pos, dtype=torch.float64).exponential_(0.25, generator=g)
    labels = torch.cat([torch.ones(runs, n_pos), torch.zeros(runs, n_neg)], 1)
    aucs = roc_auc(torch.cat([pos, neg], 1), labels)
    assert aucs.mean().item() == pytest.approx(0.8, abs=0.005)
    assert hanley_mcneil_se(0.8, n_pos, n_neg) == pytest.approx(aucs.std().item(), rel=0.05)
