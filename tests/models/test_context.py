"""The scan-context head: identity when untrained, exact per-scan application in any row order,
safetensors round trip, clear errors, and that training learns what neighbouring slices carry."""

import numpy as np
import pytest
import torch

from workbench.evaluation.ranking import binary_auc
from workbench.models.context import (ContextHead, context_path, context_probabilities, load_context, save_context,
                                      scan_groups, to_logits)
from workbench.models.checkpoint import save_tensors
from workbench.training.context import fit_context_head
from workbench.utils.errors import DataError


def _random_head(seed: int = 0) -> ContextHead:
    torch.manual_seed(seed)
    head = ContextHead(kernel=5, hidden=8)
    torch.nn.init.normal_(head.net[-1].weight, std=0.5)  # the last layer starts at zero: make it act
    torch.nn.init.normal_(head.net[-1].bias, std=0.5)
    return head.eval()


def _shuffled_scans(rng, lengths):
    """Rows of several scans of the given lengths, shuffled: (volume ids, slice indices, probs)."""
    vol = np.concatenate([np.full(n, f"scan-{i}") for i, n in enumerate(lengths)])
    idx = np.concatenate([rng.permutation(np.arange(n) * 3 + 7) for n in lengths])  # gaps: only the order counts
    perm = rng.permutation(len(vol))
    return vol[perm], idx[perm], rng.uniform(0.01, 0.99, len(vol))


def test_untrained_head_is_the_identity():
    rng = np.random.default_rng(0)
    vol, idx, p = _shuffled_scans(rng, [24, 24, 5])
    assert np.allclose(context_probabilities(ContextHead(), p, vol, idx), p, atol=1e-6)


def test_each_scan_is_corrected_in_slice_order_exactly_as_alone():
    rng = np.random.default_rng(1)
    head = _random_head()
    vol, idx, p = _shuffled_scans(rng, [24, 7, 24, 1, 7, 30])
    got = context_probabilities(head, p, vol, idx)
    for v in np.unique(vol):  # brute force: one scan at a time, rows sorted by slice index
        rows = np.flatnonzero(vol == v)
        rows = rows[np.argsort(idx[rows])]
        z = torch.logit(torch.tensor(p[rows]), eps=1e-7).float()[None]
        with torch.no_grad():
            want = torch.sigmoid(head(z))[0].double().numpy()
        assert np.allclose(got[rows], want, atol=1e-6), v
    assert not np.allclose(got, p, atol=1e-3)  # the head did act


def test_scan_groups_cover_every_row_once_grouped_by_length():
    rng = np.random.default_rng(2)
    vol, idx, _ = _shuffled_scans(rng, [3, 5, 3])
    groups = scan_groups(vol, idx)
    assert [g.shape for g in groups] == [(2, 3), (1, 5)]
    assert sorted(np.concatenate([g.ravel() for g in groups])) == list(range(11))
    for g in groups:
        for rows in g:
            assert len(set(vol[rows])) == 1 and list(idx[rows]) == sorted(idx[rows])


def test_save_load_round_trip_and_missing_head(tmp_path):
    head = _random_head(3)
    stem = tmp_path / "model"
    assert context_path(stem) == tmp_path / "model.context.safetensors"
    assert load_context(stem) is None
    save_context(head, context_path(stem))
    back = load_context(stem)
    z = torch.randn(4, 24)
    with torch.no_grad():
        assert torch.equal(back(z), head(z))
    assert back.net[0].kernel_size == (5,) and back.net[0].out_channels == 8


def test_a_file_that_is_no_head_is_refused_naming_it(tmp_path):
    stem = tmp_path / "other"
    save_tensors(context_path(stem), {"weight": torch.ones(2, 2)})
    with pytest.raises(DataError, match="other.context.safetensors"):
        load_context(stem)


def test_logits_and_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="not logits"):
        to_logits(np.array([0.2, 3.5]))
    with pytest.raises(ValueError, match="even|odd"):
        ContextHead(kernel=4)
    with pytest.raises(ValueError, match="scans, slices"):
        ContextHead()(torch.zeros(24))


def test_training_learns_what_the_neighbours_carry():
    """Bleeds span 3-8 consecutive slices; the slice model misses some inner slices of a bleed (P 0.3,
    as on the negatives): the trained head raises them from their neighbours."""
    rng = np.random.default_rng(4)

    def cohort(scans: int):
        vol, idx, p, y = [], [], [], []
        for s in range(scans):
            label = np.zeros(24)
            if s % 2:
                start, length = rng.integers(2, 14), rng.integers(3, 9)
                label[start:start + length] = 1
            prob = np.where(label > 0, 0.9, 0.3) + rng.normal(0, 0.03, 24)
            missed = (label > 0) & (rng.uniform(size=24) < 0.4)
            prob[missed] = 0.3 + rng.normal(0, 0.03, missed.sum())
            vol += [s] * 24
            idx += list(range(24))
            p += list(np.clip(prob, 0.01, 0.99))
            y += list(label)
        return np.array(vol), np.array(idx), np.array(p), np.array(y)

    vol, idx, p, y = cohort(96)
    head = fit_context_head(p, y, vol, idx, seed=0, epochs=40)
    tv, ti, tp, ty = cohort(48)
    before, after = binary_auc(ty, tp), binary_auc(ty, context_probabilities(head, tp, tv, ti))
    assert after > before + 0.05, (before, after)


def test_a_scan_off_the_heads_slice_spacing_gets_no_context_probability():
    rng = np.random.default_rng(5)
    head = _random_head(6)
    vol, idx, p = _shuffled_scans(rng, [24, 24, 12])
    spacing = np.where(vol == "scan-1", 2.5, np.where(vol == "scan-2", 5.8, 5.0))  # thin, and within 1 mm of 5
    got = context_probabilities(head, p, vol, idx, spacing)
    assert np.isnan(got[vol == "scan-1"]).all()
    ok = vol != "scan-1"
    assert np.allclose(got[ok], context_probabilities(head, p, vol, idx)[ok])


def test_ich_probabilities_of_every_label_keep_any_first():
    from tests.training.toydata import ToySlices
    from workbench.models.factory import create_model
    from workbench.training.context import ich_probabilities

    torch.manual_seed(0)
    data = ToySlices(10, seed=3)
    binary, multi = create_model("test-tiny", task="binary").eval(), create_model("test-tiny", task="multilabel").eval()
    full = ich_probabilities(multi, data, all_labels=True)
    assert full.shape == (10, 6) and np.allclose(full[:, 0], ich_probabilities(multi, data))
    assert ich_probabilities(binary, data, all_labels=True).shape == (10,)  # a binary model has one label
