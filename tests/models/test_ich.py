"""The one definition of the ICH target and P(ICH), on hand-computed logits."""

import math

import pytest
import torch

from workbench.models import create_model, ich_index, ich_probability, model_task


def test_ich_index_by_class_name():
    assert ich_index(create_model("test-tiny", task="binary")) == 1
    assert ich_index(create_model("test-tiny", task="multilabel")) == 0  # "any" comes first
    assert ich_index(("any", "epidural")) == 0 and ich_index(["no_ich", "ich"]) == 1
    assert ich_index(torch.nn.Linear(2, 2)) == 1  # a plain model is taken as binary
    with pytest.raises(ValueError, match="neither 'ich' nor 'any'"):
        ich_index(("cat", "dog"))


def test_ich_probability_hand_computed():
    binary = torch.tensor([[0.0, math.log(3.0)], [math.log(4.0), 0.0]])
    assert ich_probability("binary", binary).tolist() == pytest.approx([0.75, 0.2])
    multi = torch.zeros(2, 6)
    multi[0, 0], multi[1, 0], multi[1, 3] = math.log(4.0), -math.log(4.0), 9.0  # only "any" counts
    assert ich_probability("multilabel", multi).tolist() == pytest.approx([0.8, 0.2])
    with pytest.raises(ValueError, match="unknown task 'x'"):
        ich_probability("x", binary)
    with pytest.raises(ValueError, match=r"\(B, K\)"):
        ich_probability("binary", binary[0])


def test_model_task():
    assert model_task(create_model("test-tiny", task="multilabel")) == "multilabel"
    assert model_task(torch.nn.Linear(2, 2)) == "binary"
