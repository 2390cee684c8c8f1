"""The explorer's model side: navigation, one cached capture per slice, heads, Dice, figures."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.explore import Explorer, parse_methods


@pytest.fixture(scope="module")
def explorer(tiny_run) -> Explorer:
    return Explorer.from_run(tiny_run["demo"], "binary", methods="hgi_sam,swin_sam,gradcam")


def test_parse_methods():
    assert parse_methods(" hgi_sam, gradcam ,hgi_sam") == ("hgi_sam", "gradcam")
    assert "rollout" in parse_methods("all") and parse_methods("") == parse_methods("all")
    with pytest.raises(ValueError, match="unknown method 'hgi'; valid choices: .*hgi_sam"):
        parse_methods("hgi")


def test_navigation_and_default_slice_is_a_bleed(explorer):
    assert len(explorer.subjects) == 4
    s, p = explorer.default_slice()
    row = explorer.row(s, p)
    assert explorer.dataset.frame.loc[row, "any"] == 1
    assert explorer.row(s, 99) == explorer.slices(s)[-1]  # clamped
    frame = explorer.dataset.frame
    for k in range(len(explorer.subjects)):  # a subject opens on a bleed, or mid-volume when it has none
        s2, p2 = explorer.default_slice(k)
        rows = explorer.slices(k)
        bleeding = [i for i, r in enumerate(rows) if frame.loc[r, "any"] == 1]
        assert s2 == k and (p2 in bleeding if bleeding else p2 == len(rows) // 2)
    saved = frame["any"].copy()
    try:  # subject 0 made ICH-free: it opens mid-volume, not on the skull base at slice 0
        frame.loc[explorer.slices(0), "any"] = 0
        assert explorer.default_slice(0) == (0, len(explorer.slices(0)) // 2) != (0, 0)
    finally:
        frame["any"] = saved
    with pytest.raises(ValueError, match="unknown subject 'x'"):
        explorer.slices("x")


def test_view_is_cached_and_maps_are_normalised(explorer):
    row = explorer.row(*explorer.default_slice())
    v = explorer.view(row)
    assert explorer.view(row) is v
    m = v.map("hgi_sam")
    assert m.shape == (32, 32) and float(m.min()) >= 0 and float(m.max()) <= 1 + 1e-6
    assert 0 <= v.prob <= 1


def test_dice_matches_the_thresholded_map(explorer):
    row = explorer.row(*explorer.default_slice())
    v = explorer.view(row)
    pred, mask = v.map("swin_sam") > 0.3, v.mask > 0.5
    expected = 2 * (pred & mask).sum().item() / (pred.sum().item() + mask.sum().item())
    assert explorer.dice(row, 0.3)["swin_sam"] == pytest.approx(expected)


def test_head_weights_are_gradient_norms_averaged_over_windows(explorer):
    row = explorer.row(*explorer.default_slice())
    maps, weights = explorer.heads(row, stage=2, block=1)
    block = explorer.view(row).explained.result.stage_blocks(1)[0]
    g = block.grad_logits  # (nW, h, N, N) for one sample
    assert maps.shape == (2, 4, 4)  # test-tiny stage 2: 2 heads on a 4 x 4 grid
    assert torch.allclose(weights, g.flatten(2).norm(dim=-1).mean(0))
    with pytest.raises(ValueError, match="unknown block 3 of stage 2; valid choices: 1, 2"):  # 1-based, as asked
        explorer.heads(row, stage=2, block=3)
    with pytest.raises(ValueError, match="unknown stage 0; valid choices: 1, 2"):
        explorer.heads(row, stage=0, block=1)


def test_figures(explorer):
    row = explorer.row(*explorer.default_slice())
    fig = explorer.methods_figure(row, ["hgi_sam", "gradcam"], "subdural", 0.4)
    assert "threshold 0.40" in fig.layout.title.text and fig.layout.annotations[0].text.startswith("hgi_sam · Dice")
    assert len(explorer.heads_figure(row, 1, 2, head=1).layout.annotations) == 1
    assert len(explorer.stages_figure(row).layout.annotations) == 2
    assert explorer.slider_figure(row, ["hgi_sam"]).layout.sliders[0].active == 4  # 0.5 of 0.1..0.9
    assert explorer.blocks_per_stage == [2, 2] and explorer.heads_per_stage == [1, 2]


def test_dice_is_nan_without_lesion(tiny_run):
    ex = Explorer.from_run(tiny_run["demo"], methods="swin_sam")
    frame = ex.dataset.frame
    negatives = frame.index[frame["any"] == 0]
    if len(negatives) == 0:
        pytest.skip("the tiny cohort has no slice without a lesion")
    assert math.isnan(ex.dice(int(negatives[0]), 0.5)["swin_sam"])


def test_device_choice_is_checked(tiny_run):
    with pytest.raises(ValueError, match="unknown device 'gpu'; valid choices: auto, cpu, cuda"):
        Explorer.from_run(tiny_run["demo"], methods="swin_sam", device="gpu")
    ex = Explorer.from_run(tiny_run["demo"], methods="swin_sam", device="auto")
    assert next(ex.model.parameters()).device == ex.device
    view = ex.view(ex.row(*ex.default_slice()))
    assert view.map("swin_sam").device.type == "cpu" and view.explained.result.logits.device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="torch sees no GPU"):
            Explorer.from_run(tiny_run["demo"], methods="swin_sam", device="cuda")


def test_narrow_band_maps_state_their_band_and_rank_scale_spreads_them(explorer):
    """rollout lived in 0.94-1.0 inside the brain and showed as flat red: its band goes into the panel
    title on the min-max scale, and the brain-rank scale spreads it over [0, 1]."""
    from dataclasses import replace

    row = explorer.row(*explorer.default_slice())
    view = explorer.view(row)
    brain = view.brain > 0.5
    narrow = torch.where(brain, 0.94 + 0.06 * view.map("hgi_sam"), torch.zeros_like(view.map("hgi_sam")))
    maps = dict(view.explained.maps, hgi_sam=narrow[None])
    explorer._cache[row] = replace(view, explained=replace(view.explained, maps=maps))
    try:
        title = explorer.methods_figure(row, ["hgi_sam", "gradcam"]).layout.annotations[0].text
        lo, hi = explorer.view(row).band("hgi_sam")
        assert f"brain {lo:.2f}-{hi:.2f}" in title and lo >= 0.94
        ranked = explorer.view(row).map("hgi_sam", "brain rank")[brain]
        assert ranked.min() < 0.05 and ranked.max() == 1.0
        fig = explorer.methods_figure(row, ["hgi_sam"], scale="brain rank")
        assert "brain 0.9" not in fig.layout.annotations[0].text and "on brain rank maps" in fig.layout.title.text
    finally:
        explorer._cache.pop(row)
