"""The acute-blood density prior (``blood_hu``) and attention refined by it (``blood_refine``):
HU read back from the windowed input, hand-computed likelihoods, the refined map against its
definition, and the errors a user meets."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from swin_reference import tiny_swin

from workbench.capture import capture
from workbench.capture.result import NotCapturedError
from workbench.data.windowing import stack_windows
from workbench.models import create_model
from workbench.operators import REGISTRY, minmax, run_operator, upsample
from workbench.operators.intensity import BloodOptions, blood_likelihood, input_hu


def _hu_phantom(size: int = 32) -> torch.Tensor:
    """(size, size) HU: CSF 5, brain 30, a 60 HU blood square, a 300 HU calcification, bone 1000 at the rim."""
    hu = torch.full((size, size), 30.0)
    hu[2:6, 2:6] = 5.0
    hu[10:18, 10:18] = 60.0
    hu[22:25, 22:25] = 300.0
    hu[0, :] = 1000.0
    return hu


def _capture_of(hu: torch.Tensor):
    """Capture of a timm Swin (its config inferred: the default brain / subdural / bone input)."""
    images = stack_windows(hu, ("brain", "subdural", "bone"))[None].clamp(0, 1)
    return capture(tiny_swin("square"), images, 1, gradients=())


def test_hu_is_read_back_from_the_narrowest_window_that_covers_the_range():
    hu = _hu_phantom()
    result = _capture_of(hu)
    assert result.windows == ((40.0, 80.0), (80.0, 200.0), (600.0, 2800.0))
    back = input_hu(result, 24.0, 116.0)[0]  # subdural window: -20..180 HU, exact inside it
    inside = (hu > -20) & (hu < 180)
    assert torch.allclose(back[inside], hu[inside], atol=1e-3)
    assert float(back[24, 24]) == pytest.approx(180.0)  # 300 HU clipped at the window's top
    wide = input_hu(result, -500.0, 1500.0)[0]  # only the bone window covers it
    assert float(wide[0, 5]) == pytest.approx(1000.0, abs=0.1)


def test_blood_likelihood_by_hand():
    opts = BloodOptions(lo=40.0, hi=100.0, softness=4.0)
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    for hu, expected in ((60.0, sig(5) * sig(10)), (40.0, 0.5 * sig(15)), (30.0, sig(-2.5) * sig(17.5)),
                         (120.0, sig(20) * sig(-5))):
        assert float(blood_likelihood(torch.tensor(hu), opts)) == pytest.approx(expected, rel=1e-5)


def test_blood_hu_lights_blood_and_nothing_else():
    prior = run_operator("blood_hu", _capture_of(_hu_phantom()))[0]
    assert prior.shape == (32, 32)
    assert float(prior[10:18, 10:18].min()) > 0.99  # 60 HU
    assert float(prior[4, 4]) < 1e-3 and float(prior[8, 8]) < 0.1  # CSF, brain (30 HU: 0.076)
    assert float(prior[23, 23]) < 1e-5 and float(prior[0, 5]) < 1e-5  # calcification, bone


def test_blood_refine_is_the_min_max_base_times_the_prior():
    model = tiny_swin("square")
    g = torch.Generator().manual_seed(3)
    hu = 30 + 40 * torch.rand((2, 32, 32), generator=g)
    images = stack_windows(hu, ("brain", "subdural", "bone")).clamp(0, 1)
    result = capture(model, images, 1, gradients=("logits",))
    prior = blood_likelihood(hu, BloodOptions())
    for base in ("rollout", "hgi_sam"):
        expected = minmax(upsample(run_operator(base, result), (32, 32))) * prior
        got = run_operator("blood_refine", result, base=base)
        assert torch.allclose(got, expected, atol=1e-5), base
    assert REGISTRY["blood_refine"].requires(REGISTRY["blood_refine"].options(base="hgi_sam")).gradients == {"logits"}


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="base method 'blood_hu'.*rollout"):
        run_operator("blood_refine", _capture_of(_hu_phantom()), base="blood_hu")
    with pytest.raises(ValueError, match="lo < hi"):
        BloodOptions(lo=100.0, hi=40.0)
    narrow = replace(_capture_of(_hu_phantom()), windows=((40.0, 80.0),) * 3)  # brain windows only
    with pytest.raises(ValueError, match=r"no input window covers 24..116 HU.*\(40, 80\)"):
        run_operator("blood_hu", narrow)
    with pytest.raises(NotCapturedError, match="no model input"):
        run_operator("blood_hu", replace(narrow, inputs=None))


def test_capture_records_a_workbench_models_own_windows():
    model = create_model("test-tiny", task="binary", windows=("bone", "physionet_brain", "subdural"), img_size=32).eval()
    hu = _hu_phantom()
    images = stack_windows(hu, ("bone", "physionet_brain", "subdural"))[None].clamp(0, 1)
    result = capture(model, images, 1, gradients=())
    assert result.windows == ((600.0, 2800.0), (40.0, 120.0), (80.0, 200.0))
    assert torch.equal(result.inputs, images)
    back = input_hu(result, 24.0, 76.0)[0]  # physionet_brain (-20..100 HU) is now the narrowest that covers it
    assert torch.allclose(back[10:18, 10:18], hu[10:18, 10:18], atol=1e-3)


def test_a_2p5d_models_prior_reads_its_own_slice_not_the_neighbours():
    model = create_model("test-tiny", task="binary", img_size=32, adjacent_slices=1).eval()
    hu = _hu_phantom()
    own = stack_windows(hu, ("brain", "subdural", "bone")).clamp(0, 1)
    neighbours = stack_windows(torch.full((2, 32, 32), 70.0), ("brain", "subdural", "bone")).clamp(0, 1)  # all "blood"
    images = torch.cat([neighbours[0], own, neighbours[1]])[None]  # (1, 9, 32, 32), slice-major
    result = capture(model, images, 1, gradients=())
    assert result.windows == ((40.0, 80.0), (80.0, 200.0), (600.0, 2800.0)) and torch.equal(result.inputs, own[None])
    prior = run_operator("blood_hu", result)[0]
    assert prior[12, 12] > 0.9 and prior[4, 4] < 0.01 and prior[20, 5] < 0.1  # blood; CSF and brain (30 HU) are not
