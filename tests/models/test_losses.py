"""Losses by hand: CE on logits for binary, focal BCE (gamma 2) for multilabel."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.models import focal_bce_with_logits, task_loss, task_probabilities


def _labels(any_: list[int]) -> torch.Tensor:
    lab = torch.zeros(len(any_), 6)
    lab[:, 0] = torch.tensor(any_, dtype=torch.float32)
    return lab


def test_binary_is_cross_entropy_on_logits():
    logits = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # (B=2, K=2)
    loss = task_loss("binary", logits, _labels([1, 1]))
    expected = (math.log(1 + math.exp(2.0)) + math.log(1 + math.exp(-3.0))) / 2  # -log softmax[:, 1]
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # a softmax before CE (the released code's slip) would give a different value
    wrong = torch.nn.functional.cross_entropy(torch.softmax(logits, 1), torch.tensor([1, 1]))
    assert abs(wrong.item() - expected) > 0.1


def test_focal_bce_by_hand():
    logits, target = torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]])
    p = 1 / (1 + math.exp(-2.0))
    # target 1, p = 0.5: (0.5)^2 * log 2 ; target 0, p = sigmoid(2): p^2 * -log(1 - p)
    expected = (0.25 * math.log(2) + p**2 * -math.log(1 - p)) / 2
    assert focal_bce_with_logits(logits, target).item() == pytest.approx(expected, rel=1e-6)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    assert focal_bce_with_logits(logits, target, gamma=0.0).item() == pytest.approx(bce.item(), rel=1e-6)


@pytest.mark.parametrize("task,k", [("binary", 2), ("multilabel", 6)])
def test_sample_reduction_averages_to_mean(task, k):
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(5, k, generator=g), (torch.rand(5, 6, generator=g) > 0.5).float()
    per = task_loss(task, logits, labels, reduction="sample")
    assert per.shape == (5,)
    assert per.mean().item() == pytest.approx(task_loss(task, logits, labels).item(), rel=1e-6)


def test_task_probabilities():
    logits = torch.tensor([[0.0, math.log(3.0)]])
    assert task_probabilities("binary", logits).tolist() == pytest.approx([0.75])
    multi = torch.zeros(2, 6)
    assert task_probabilities("multilabel", multi).shape == (2, 6)
    with pytest.raises(ValueError, match="unknown task 'x'.*binary, multilabel"):
        task_probabilities("x", logits)
