"""Detection metrics from probabilities, against scikit-learn; detection from a segmentation."""

import numpy as np
import pytest
import torch
from sklearn.metrics import (accuracy_score, average_precision_score, f1_score, precision_score, recall_score,
                             roc_auc_score)

from workbench.evaluation import DETECTION_METRICS, confusion_counts, detect_from_mask, detection_metrics


def test_hand_case():
    probs = torch.tensor([0.9, 0.2, 0.6, 0.4])
    labels = torch.tensor([1, 0, 0, 1])
    assert confusion_counts(probs, labels) == {"tp": 1, "fp": 1, "tn": 1, "fn": 1}
    got = detection_metrics(probs, labels)
    assert tuple(got) == DETECTION_METRICS
    for k in ("accuracy", "precision", "recall", "f1", "specificity"):
        assert got[k] == 0.5
    assert got["roc_auc"] == pytest.approx(0.75)  # 3 of 4 positive/negative pairs ordered right
    assert got["average_precision"] == pytest.approx((1 / 1 + 2 / 3) / 2)  # precision 1 at 0.9, 2/3 at 0.4


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_matches_sklearn(threshold):
    g = torch.Generator().manual_seed(0)
    labels = torch.rand(200, generator=g) > 0.7
    probs = (torch.rand(200, generator=g) * 0.6 + 0.4 * labels).round(decimals=2)  # ties
    y, p = labels.numpy().astype(int), probs.numpy()
    hard = (p > threshold).astype(int)
    got = detection_metrics(probs, labels, threshold)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, hard))
    assert got["precision"] == pytest.approx(precision_score(y, hard))
    assert got["recall"] == pytest.approx(recall_score(y, hard))
    assert got["f1"] == pytest.approx(f1_score(y, hard))
    assert got["specificity"] == pytest.approx(recall_score(y, hard, pos_label=0))
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert got["average_precision"] == pytest.approx(average_precision_score(y, p))
    assert got["roc_auc"] != pytest.approx(roc_auc_score(y, hard))  # the released code's slip


def test_threshold_is_strict_and_undefined_ratios_are_nan():
    got = detection_metrics(torch.tensor([0.5, 0.5, 0.1]), torch.tensor([1, 0, 0]))
    # 0.5 is not > 0.5: nothing predicted positive -> precision undefined, F1 = 2*0 / (0 + 0 + 1) = 0
    assert np.isnan(got["precision"]) and got["recall"] == 0.0 and got["f1"] == 0.0
    assert got["specificity"] == 1.0
    one_class = detection_metrics(torch.tensor([0.2, 0.7]), torch.tensor([0, 0]))
    assert np.isnan(one_class["roc_auc"]) and np.isnan(one_class["recall"])


def test_hard_predictions_and_logits_are_refused():
    with pytest.raises(ValueError, match="never hard 0/1"):
        detection_metrics(torch.tensor([1, 0, 1]), torch.tensor([1, 0, 0]))
    with pytest.raises(ValueError, match=r"\[0, 1\].*logits"):
        detection_metrics(torch.tensor([2.3, -1.0]), torch.tensor([1, 0]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        detection_metrics(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([1, 0]))


def test_detect_from_mask_counts_more_than_n_pixels():
    pred = torch.zeros(3, 8, 8, dtype=torch.bool)
    pred[1].view(-1)[:10] = True  # exactly 10: not detected
    pred[2].view(-1)[:11] = True
    assert detect_from_mask(pred).tolist() == [False, False, True]
    assert detect_from_mask(pred, min_pixels=0).tolist() == [False, True, True]
    with pytest.raises(ValueError, match="min_pixels"):
        detect_from_mask(pred, min_pixels=-1)
