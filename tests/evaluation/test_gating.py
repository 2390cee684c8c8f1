"""Gated masks and 3D post-processing on hand-made cases with known answers; the nested gate never
sees its test fold."""

import math

import pytest
import torch

from workbench.evaluation.components import remove_small_components
from workbench.evaluation.gating import gate_slices, select_gate_thresholds, subject_volume_scores, volume_error_ceiling


def test_gate_empties_slices_below_it():
    counts = torch.tensor([[5, 3], [4, 4], [7, 0]])
    prob = torch.tensor([0.2, 0.5, 0.9])
    assert gate_slices(counts, prob, 0.5).tolist() == [[0, 0], [4, 4], [7, 0]]
    assert gate_slices(counts, prob, 0.0).tolist() == counts.tolist()


def test_subject_volume_scores_by_hand():
    # subject a (bleed): two slices; subject b (clean): one slice with 3 false-positive pixels at t0, none at t1
    inter = torch.tensor([[4, 2], [2, 0], [0, 0]])
    pred = torch.tensor([[6, 2], [4, 0], [3, 0]])
    target = torch.tensor([5, 3, 0])
    ids, scores = subject_volume_scores(inter, pred, target, ["a", "a", "b"])
    assert ids == ["a", "b"]
    # a: t0 2*6/(10+8) = 2/3; t1: 2*2/(2+8) = 0.4.  b: t0 predicts something -> 0; t1 empty -> 1
    assert scores.flatten().tolist() == pytest.approx([2 / 3, 0.4, 0.0, 1.0])


def _cohort(n_subjects=6, seed=0):
    """Slices of subjects with and without bleeds; P(ICH) high on bleed slices, low elsewhere; every
    map marks 10 false-positive pixels at threshold 0 and 2 at threshold 1 on every slice."""
    g = torch.Generator().manual_seed(seed)
    inter, pred, target, prob, subjects, folds = [], [], [], [], [], []
    for s in range(n_subjects):
        bleed = s % 2 == 0
        for z in range(4):
            lesion = 20 if bleed and z in (1, 2) else 0
            inter.append([lesion, lesion // 2])
            pred.append([lesion + 10, lesion // 2 + 2])
            target.append(lesion)
            prob.append(float(0.6 + 0.4 * torch.rand(1, generator=g)) if lesion else float(0.4 * torch.rand(1, generator=g)))
            subjects.append(f"s{s}")
            folds.append(s % 3)
    return (torch.tensor(inter), torch.tensor(pred), torch.tensor(target), torch.tensor(prob, dtype=torch.float64),
            subjects, torch.tensor(folds))


def test_the_gate_removes_clean_slices_false_positives():
    inter, pred, target, prob, subjects, folds = _cohort()
    chosen = select_gate_thresholds(inter, pred, target, prob, subjects, folds, torch.tensor([0.1, 0.2]))
    for k, fg in chosen.items():
        train = folds != k
        clean, bleed = prob[train & (target == 0)], prob[train & (target > 0)]
        assert float(clean.max()) < fg.gate <= float(clean.max()) + 0.01 + 1e-9  # the lowest gate above every clean slice
        assert fg.gate <= float(bleed.min())  # ... that keeps every bleed slice
        assert fg.threshold == pytest.approx(0.1)  # threshold 0: 2*20/(30+20) = 0.8 beats 2*10/(12+20)
        assert fg.train_score == pytest.approx(1.0 / 2 + 0.8 / 2)  # clean subjects 1, bleed subjects 0.8
        assert fg.train_folds == tuple(j for j in range(3) if j != k) and fg.n_train_subjects == 4


def test_the_nested_gate_never_sees_its_test_fold():
    inter, pred, target, prob, subjects, folds = _cohort()
    before = select_gate_thresholds(inter, pred, target, prob, subjects, folds, torch.tensor([0.1, 0.2]))
    test = folds == 1
    prob2, pred2, inter2 = prob.clone(), pred.clone(), inter.clone()
    prob2[test] = 1.0 - prob2[test]  # the test fold's classifier and maps turned upside down
    pred2[test] = pred2[test] * 7
    inter2[test] = 0
    after = select_gate_thresholds(inter2, pred2, target, prob2, subjects, folds, torch.tensor([0.1, 0.2]))
    assert after[1] == before[1]  # its own (gate, threshold) did not move
    assert after[0] != before[0] or after[2] != before[2]  # ... while the folds that train on it did


def test_gate_zero_is_always_a_candidate():
    inter, pred, target, prob, subjects, folds = _cohort()
    chosen = select_gate_thresholds(inter, pred, target, prob, subjects, folds, torch.tensor([0.1, 0.2]),
                                    gates=torch.tensor([0.99], dtype=torch.float64))
    assert {fg.gate for fg in chosen.values()} <= {0.0, 0.99}
    with pytest.raises(ValueError, match="at least 2 folds"):
        select_gate_thresholds(inter, pred, target, prob, subjects, torch.zeros_like(folds), torch.tensor([0.1, 0.2]))


def test_small_components_are_removed_by_volume():
    mask = torch.zeros(4, 8, 8, dtype=torch.bool)
    mask[0:3, 1:4, 1:4] = True  # 27 voxels across three slices: 2.7 mL at 0.1 mL per voxel
    mask[3, 6, 6] = True  # a one-voxel speck: 0.1 mL
    mask[2, 5, 5] = True  # touches the speck only by a corner (z 2 -> 3, row 5 -> 6, col 5 -> 6)
    kept = remove_small_components(mask, voxel_ml=0.1, min_ml=0.25)
    assert int(kept.sum()) == 27 and bool(kept[0:3, 1:4, 1:4].all())  # 26-connected: the 0.2 mL pair goes
    assert int(remove_small_components(mask, 0.1, 0.15).sum()) == 29  # the corner-joined pair is 0.2 mL: kept
    assert int(remove_small_components(mask, 0.1, 0.15, connectivity=6).sum()) == 27  # 6-connected: two 0.1 mL specks
    assert torch.equal(remove_small_components(mask, 0.1, 0.0), mask)
    with pytest.raises(ValueError, match="unknown connectivity 8; valid choices: 6, 26"):
        remove_small_components(mask, 0.1, 0.1, connectivity=8)
    assert math.isclose(0.1 * 27, 2.7)


def test_volume_error_ceiling_by_hand():
    # subjects a (true 10 px over two slices) and b (true 4 px), c clean (not in the error). Two thresholds.
    pred = torch.tensor([[12, 6], [6, 2], [8, 4], [9, 9]])
    target = torch.tensor([6, 4, 4, 0])
    prob = torch.tensor([0.9, 0.3, 0.8, 0.6])
    subjects = ["a", "a", "b", "c"]
    # gate 0: a 18 / 8 px -> errors 0.8 / 0.2; b 8 / 4 -> 1.0 / 0.0; the median of two is their mean: t0 0.9, t1 0.1.
    # gate 0.5 drops a's second slice: a 12 / 6 -> 0.2 / 0.4; b as before; medians t0 0.6, t1 0.2.
    best, gate, t = volume_error_ceiling(pred, target, prob, subjects, torch.tensor([0.1, 0.2]), torch.tensor([0.0, 0.5]))
    assert (best, gate, t) == pytest.approx((0.1, 0.0, 0.2))
    with pytest.raises(ValueError, match="no subject with hemorrhage"):
        volume_error_ceiling(pred[3:], target[3:], prob[3:], ["c"], torch.tensor([0.1, 0.2]))
