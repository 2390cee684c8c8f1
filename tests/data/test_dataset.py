from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.data.dataset import SliceDataset, resize_crop, strip_to_brain
from workbench.data.labels import LABEL_COLUMNS
from workbench.data.manifest import build_manifest


@pytest.fixture
def manifest(tiny_physionet: Path):
    frame, _ = build_manifest("physionet", tiny_physionet, n_folds=3, seed=0)
    return frame


def test_shapes_ranges_and_label_alignment(manifest, tiny_physionet: Path):
    ds = SliceDataset(manifest, tiny_physionet, size=32, resize_factor=1.0)
    assert len(ds) == 12 and ds.labels.shape == (12, 6)
    for i in range(len(ds)):
        item = ds[i]
        assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
        assert 0.0 <= item["image"].min() and item["image"].max() <= 1.0
        assert item["mask"].shape == (32, 32) and set(item["mask"].unique().tolist()) <= {0.0, 1.0}
        row = ds.frame.iloc[i]
        assert item["labels"].tolist() == [float(row[c]) for c in LABEL_COLUMNS]
        # label alignment: a slice labelled ICH has mask pixels, an ICH-free one none
        assert bool(item["mask"].sum() > 0) == bool(row["any"])
        # the brain mask covers the phantom's interior and not the air
        assert item["brain_mask"][16, 16] == 1 and item["brain_mask"][0, 0] == 0
        if row["any"]:  # lesion pixels (70 HU) sit inside the brain mask and are bright in the brain window
            inside = item["mask"].bool()
            assert item["brain_mask"][inside].mean() > 0.9
            assert item["image"][0][inside].max() > 0.8 and item["image"][0][inside].mean() > 0.6


def test_fold_selection(manifest, tiny_physionet: Path):
    train = SliceDataset(manifest, tiny_physionet, size=16, exclude_folds=[0])
    test = SliceDataset(manifest, tiny_physionet, size=16, folds=[0])
    assert set(train.frame.subject_id).isdisjoint(test.frame.subject_id)
    assert len(train) + len(test) == 12
    with pytest.raises(ValueError, match="no slices left"):
        SliceDataset(manifest, tiny_physionet, folds=[7])


def test_resize_then_centre_crop_geometry():
    x = torch.zeros(1, 100, 100)
    x[0, 45:55, 45:55] = 1  # centred square of 10 px
    y = resize_crop(x, 50, 1.1, "nearest")  # 100 -> 55 -> crop 50
    assert y.shape == (1, 50, 50)
    assert y.sum().item() == pytest.approx(5.5 * 5.5, abs=6)
    assert y[0, 25, 25] == 1
    # non-square: shorter side drives the scale, the longer one is cropped
    z = resize_crop(torch.ones(2, 60, 120), 32, 1.0)
    assert z.shape == (2, 32, 32)


def test_downsampled_mask_stays_aligned_with_the_image():
    # 100 -> 37 px: floor-indexed "nearest" shifts the mask one row down against the bilinear image
    x = torch.zeros(1, 100, 100)
    x[:, 30:50, 30:50] = 1
    image = resize_crop(x, 37, 1.0, "bilinear")[0]
    mask = resize_crop(x, 37, 1.0, "nearest-exact")[0]
    rows_img = torch.nonzero(image.sum(1) > 0.5 * image.sum(1).max()).flatten()
    rows_mask = torch.nonzero(mask.sum(1)).flatten()
    assert (rows_mask.min().item(), rows_mask.max().item()) == (rows_img.min().item(), rows_img.max().item()) == (11, 17)
    with pytest.raises(ValueError, match="valid choices"):
        resize_crop(x, 32, mode="bicubicc")


def test_strip_to_brain_against_a_brute_force_distance():
    brain = torch.zeros(20, 20, dtype=torch.bool)
    brain[8:12, 6:10] = True
    image = torch.rand(2, 20, 20) + 0.1
    out = strip_to_brain(image, brain.numpy(), margin_px=2.5)
    yy, xx = torch.meshgrid(torch.arange(20), torch.arange(20), indexing="ij")
    inside = brain.nonzero()
    # brute force: distance from every pixel centre to the nearest brain pixel centre
    dist = ((yy[..., None] - inside[:, 0]) ** 2 + (xx[..., None] - inside[:, 1]) ** 2).float().sqrt().amin(-1)
    keep = dist <= 2.5
    assert torch.equal(out, image * keep)
    assert keep.sum() > brain.sum()  # the margin adds pixels
    assert torch.equal(strip_to_brain(image, np.zeros((20, 20), bool), 2.0), image)  # empty mask: unchanged
    with pytest.raises(ValueError, match="differ in size"):
        strip_to_brain(image, np.ones((10, 10), bool), 1.0)


def test_skull_stripped_input_keeps_the_brain_and_blanks_the_skull(manifest, tiny_physionet: Path):
    plain = SliceDataset(manifest, tiny_physionet, size=48, resize_factor=1.0, brain_mask=False)
    strip = SliceDataset(manifest, tiny_physionet, size=48, resize_factor=1.0, brain_mask=False,
                         windows=("brain", "subdural", "stroke"), input_mask="brain", input_margin_mm=1.0)
    for i in range(len(plain)):
        a, b = plain[i], strip[i]
        assert torch.equal(b["brain_mask"], torch.ones(48, 48))  # brain_mask=False keeps its meaning
        skull = a["image"][2] > 0.5  # bone window: the 1000 HU ring
        assert skull.any() and b["image"][:, skull].abs().max() < 1e-6  # bone gone everywhere it was
        centre = slice(20, 28)
        assert torch.equal(a["image"][0, centre, centre], b["image"][0, centre, centre])  # brain untouched
        if a["labels"][0]:
            lesion = a["mask"].bool()
            assert torch.equal(a["image"][0][lesion], b["image"][0][lesion])
    with pytest.raises(ValueError, match="input mask 'skull'.*none, brain"):
        SliceDataset(manifest, tiny_physionet, input_mask="skull")
