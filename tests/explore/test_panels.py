"""Example panels explain each model on its own input recipe (regression: every model used to be
explained on the first dataset's images)."""

import pytest
import torch

from workbench.api import explain
from workbench.data.dataset import SliceDataset
from workbench.explore.panels import example_panels, model_input
from workbench.models import create_model, ich_index


def test_each_model_sees_its_own_input_recipe(tiny_run):
    torch.manual_seed(0)
    plain = create_model("test-tiny", task="binary")
    stroke = create_model("test-tiny", task="multilabel", windows=("brain", "subdural", "stroke"))
    dataset = SliceDataset(tiny_run["manifest"], tiny_run["root"], size=32)
    rows = [1, 2]
    panels = example_panels({"plain": plain, "stroke": stroke}, dataset, rows, {"gradcam": ("gradcam", {})})
    assert [p.name for p in panels] == ["plain", "stroke", "plain", "stroke"]
    own = model_input(stroke, dataset)
    assert own is not dataset and own.windows == ("brain", "subdural", "stroke")
    assert model_input(plain, dataset) is dataset
    for i, r in enumerate(rows):
        item, shared = own[r], dataset[r]
        want = explain(stroke, item["image"][None], ("gradcam",), ich_index(stroke), item["brain_mask"][None],
                       normalize=True)["gradcam"][0]
        wrong = explain(stroke, shared["image"][None], ("gradcam",), ich_index(stroke), shared["brain_mask"][None],
                        normalize=True)["gradcam"][0]
        got = panels[2 * i + 1].heat
        assert torch.allclose(got, want, atol=1e-5)
        assert not torch.allclose(got, wrong, atol=1e-3)  # the shared images would have given another map


def test_with_inputs_keeps_rows_and_checks_fields(tiny_run):
    dataset = SliceDataset(tiny_run["manifest"], tiny_run["root"], size=32)
    bigger = dataset.with_inputs(size=48)
    assert bigger.size == 48 and bigger.frame.equals(dataset.frame) and bigger[0]["image"].shape == (3, 48, 48)
    assert dataset.with_inputs(size=32, windows=["brain", "subdural", "bone"]) is dataset
    with pytest.raises(ValueError, match="unknown input recipe field 'task'; valid choices"):
        dataset.with_inputs(task="binary")
