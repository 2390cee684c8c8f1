"""Held-out strata: a lesion's local contrast on hand-made slices, and AUC by contrast against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from workbench.evaluation.ranking import binary_auc
from workbench.training.heldout import (PARTITION, SIZE_PARTITION, auc_by_contrast, auc_by_size, auc_with_strata,
                                       lesion_contrast)


def _slice(lesion_hu=50.0, brain_hu=30.0):
    hu = np.full((40, 40), brain_hu, dtype=np.float32)
    mask = np.zeros((40, 40), bool)
    mask[18:22, 18:22] = True
    hu[mask] = lesion_hu
    return hu, mask


def test_contrast_of_a_lesion_on_flat_brain_is_the_hu_step():
    hu, mask = _slice()
    assert lesion_contrast(hu, mask, pixel_mm=1.0) == pytest.approx(20.0)


def test_bone_and_air_and_far_pixels_stay_out_of_the_ring():
    hu, mask = _slice()
    hu[18:22, 23] = 1000.0  # bone 2 px from the lesion: outside the soft-tissue window
    hu[18:22, 15] = -800.0  # air 3 px away
    hu[18:22, 26] = 80.0    # soft tissue 5 px away: beyond the 3 mm ring at 1 mm pixels
    assert lesion_contrast(hu, mask, pixel_mm=1.0) == pytest.approx(20.0)


def test_ring_pixels_count_by_their_distance_in_mm():
    hu, mask = _slice()
    hu[18:22, 24] = 70.0  # 3 px away: in the ring at 1 mm pixels, out of it at 2 mm pixels (6 mm)
    dist_le_3 = 0
    for y in range(40):
        for x in range(40):
            if not mask[y, x]:
                dy = max(18 - y, y - 21, 0)
                dx = max(18 - x, x - 21, 0)
                dist_le_3 += math.hypot(dy, dx) <= 3.0
    expected = 50.0 - (30.0 * (dist_le_3 - 4) + 70.0 * 4) / dist_le_3  # brute force over the ring
    assert lesion_contrast(hu, mask, pixel_mm=1.0) == pytest.approx(expected)
    assert lesion_contrast(hu, mask, pixel_mm=2.0) == pytest.approx(20.0)


def test_no_lesion_or_no_ring_gives_nan():
    hu, mask = _slice()
    assert math.isnan(lesion_contrast(hu, np.zeros_like(mask), 1.0))
    assert math.isnan(lesion_contrast(np.full_like(hu, 1000.0), mask, 1.0))


def test_auc_by_contrast_matches_scikit_learn_per_stratum():
    rng = np.random.default_rng(0)
    n = 200
    label = (rng.random(n) < 0.4).astype(float)
    contrast = np.where(label > 0, rng.uniform(-5, 40, n), np.nan)
    contrast[np.nonzero(label)[0][:3]] = np.nan  # positives without a ring fall in no stratum
    px = np.where(label > 0, rng.integers(1, 800, n), 0)
    score = label * np.nan_to_num(contrast) / 10 + rng.normal(size=n)
    out = auc_by_contrast(label, score, contrast, px)
    neg = label == 0
    groups = {"<5 HU": contrast < 5, "5-15 HU": (contrast >= 5) & (contrast < 15), ">=15 HU": contrast >= 15,
              "no ring": np.isnan(contrast), ">=15 HU, >=100 px": (contrast >= 15) & (px >= 100),
              "<15 HU, >=100 px": (contrast < 15) & (px >= 100), ">=15 HU, <100 px": (contrast >= 15) & (px < 100)}
    assert set(out) == set(groups)
    clean = auc_by_contrast(label, score, np.nan_to_num(contrast, nan=1.0), px)
    assert "no ring" not in clean and auc_with_strata(clean, {}) == pytest.approx(binary_auc(label, score))
    for name, g in groups.items():
        keep = neg | (g & (label > 0))
        assert out[name]["positives"] == int((g & (label > 0)).sum())
        assert out[name]["auc"] == pytest.approx(roc_auc_score(label[keep], score[keep]))
    assert out[">=15 HU"]["auc"] > out["<5 HU"]["auc"]


def test_auc_rebuilt_from_strata_is_exact_and_matches_a_brute_force_replacement():
    rng = np.random.default_rng(1)
    n = 300
    label = (rng.random(n) < 0.35).astype(float)
    contrast = np.where(label > 0, rng.uniform(-5, 40, n), np.nan)
    contrast[np.nonzero(label)[0][:4]] = np.nan
    px = rng.integers(1, 800, n)
    score = rng.normal(size=n) + label
    strata = auc_by_contrast(label, score, contrast, px)
    assert sum(strata[k]["positives"] for k in PARTITION) == int(label.sum())
    assert auc_with_strata(strata, {}) == pytest.approx(binary_auc(label, score))
    perfect = score.copy()
    perfect[(label > 0) & (contrast >= 15)] = score.max() + 1  # every conspicuous bleed ranked first
    assert auc_with_strata(strata, {">=15 HU": 1.0}) == pytest.approx(binary_auc(label, perfect))


def test_size_strata_partition_the_positives_and_rebuild_the_auc_exactly():
    rng = np.random.default_rng(2)
    n = 400
    label = (rng.random(n) < 0.3).astype(float)
    px = np.where(label > 0, rng.integers(1, 900, n), 0)
    score = rng.normal(size=n) + label * np.log1p(px) / 3
    strata = auc_by_size(label, score, px)
    assert set(strata) == {"1-24", "25-99", "100-399", ">=400", ">=100"} and ">=100" not in SIZE_PARTITION
    assert sum(strata[k]["positives"] for k in SIZE_PARTITION) == int(label.sum())
    assert strata[">=100"]["positives"] == strata["100-399"]["positives"] + strata[">=400"]["positives"]
    assert auc_with_strata(strata, {}, SIZE_PARTITION) == pytest.approx(binary_auc(label, score))
    perfect = score.copy()
    perfect[(label > 0) & (px >= 25)] = score.max() + 1  # every bleed of >= 25 px ranked first
    rest = {k: 1.0 for k in SIZE_PARTITION if k != "1-24"}
    assert auc_with_strata(strata, rest, SIZE_PARTITION) == pytest.approx(binary_auc(label, perfect))
