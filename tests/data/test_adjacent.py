"""2.5D inputs: which slices stack, from a volume, from a manifest, through the dataset and the stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from workbench.data.dataset import SliceDataset, adjacent_indices, adjacent_rows, prepare_slice, volume_stack
from workbench.data.manifest import build_manifest
from workbench.training.stream import StreamConfig, SyntheticStream


def test_adjacent_indices_clamp_at_the_ends():
    assert adjacent_indices(0, 5, 1).tolist() == [0, 0, 1]
    assert adjacent_indices(4, 5, 1).tolist() == [3, 4, 4]
    assert adjacent_indices(2, 5, 2, step=2).tolist() == [0, 0, 2, 4, 4]
    with pytest.raises(ValueError, match="z=5, n=5"):
        adjacent_indices(5, 5, 1)


def test_volume_stack_reads_slices_adjacent_mm_apart():
    hu = np.arange(8, dtype=np.float32)[:, None, None] * np.ones((8, 2, 2), np.float32)
    assert volume_stack(hu, 3, 5.0).shape == (2, 2)  # one slice: the slice itself
    assert volume_stack(hu, 3, 5.0, adjacent_slices=1)[:, 0, 0].tolist() == [2, 3, 4]
    assert volume_stack(hu, 3, 2.5, adjacent_slices=1)[:, 0, 0].tolist() == [1, 3, 5]  # 5 mm = 2 slices of 2.5 mm
    assert volume_stack(hu, 3, 1.0, adjacent_slices=1, adjacent_mm=3.0)[:, 0, 0].tolist() == [0, 3, 6]


def _frame(volumes: dict[str, tuple[list[int], float]]) -> pd.DataFrame:
    rows = [{"volume_id": v, "slice_index": k, "spacing_slice": mm} for v, (ks, mm) in volumes.items() for k in ks]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0).reset_index(drop=True)  # rows out of order


def test_adjacent_rows_by_volume_spacing_and_missing_slices():
    frame = _frame({"a": ([0, 1, 2, 3], 5.0), "b": ([0, 1, 2, 3, 4, 5, 6], 2.5), "c": ([0, 1, 3, 4], 5.0), "d": ([7], 5.0)})
    rows = adjacent_rows(frame, 1)
    got = {(v, k): [(frame.volume_id[r], int(frame.slice_index[r])) for r in rows[i]]
           for i, (v, k) in enumerate(zip(frame.volume_id, frame.slice_index))}
    assert got[("a", 0)] == [("a", 0), ("a", 0), ("a", 1)]
    assert got[("a", 2)] == [("a", 1), ("a", 2), ("a", 3)]
    assert got[("b", 3)] == [("b", 1), ("b", 3), ("b", 5)]  # 5 mm apart at 2.5 mm spacing
    assert got[("b", 6)] == [("b", 4), ("b", 6), ("b", 6)]
    # slice 2 missing: 1 and 3 are as near to it; the one nearer the slice itself is taken (never reach farther)
    assert got[("c", 1)] == [("c", 0), ("c", 1), ("c", 1)]
    assert got[("c", 3)] == [("c", 3), ("c", 3), ("c", 4)]
    assert got[("d", 7)] == [("d", 7)] * 3
    assert adjacent_rows(frame, 0).tolist() == [[i] for i in range(len(frame))]
    with pytest.raises(ValueError, match="adjacent_mm > 0"):
        adjacent_rows(frame, 1, 0.0)


def test_prepare_slice_stacks_slice_major_with_the_middle_slice_masks():
    rng = np.random.default_rng(0)
    stack = rng.normal(40, 20, (3, 40, 40)).astype(np.float32)
    mask = np.zeros((40, 40), bool)
    mask[10:20, 10:20] = True
    out = prepare_slice(stack, mask, 0.5, 32, brain_mask=False)
    assert out["image"].shape == (9, 32, 32)
    for k in range(3):
        alone = prepare_slice(stack[k], mask, 0.5, 32, brain_mask=False)
        torch.testing.assert_close(out["image"][3 * k:3 * k + 3], alone["image"])
        torch.testing.assert_close(out["mask"], alone["mask"])
    with pytest.raises(ValueError, match="odd number of slices"):
        prepare_slice(stack[:2], mask, 0.5, 32)


def test_dataset_stacks_the_neighbours_of_the_same_volume(tiny_physionet: Path):
    frame, _ = build_manifest("physionet", tiny_physionet, n_folds=3, seed=0)
    single = SliceDataset(frame, tiny_physionet, size=32, brain_mask=False)
    ds = single.with_inputs(adjacent_slices=1)
    assert ds is not single and ds.adjacent_slices == 1 and ds.with_inputs(adjacent_slices=1) is ds
    by_key = {(v, int(k)): i for i, (v, k) in enumerate(zip(ds.frame.volume_id, ds.frame.slice_index))}
    for i, (v, k) in enumerate(zip(ds.frame.volume_id, ds.frame.slice_index)):
        item = ds[i]
        assert item["image"].shape == (9, 32, 32)
        for j, dk in enumerate((-1, 0, 1)):
            other = single[by_key[(v, min(max(int(k) + dk, 0), 3))]]
            torch.testing.assert_close(item["image"][3 * j:3 * j + 3], other["image"])
        torch.testing.assert_close(item["mask"], single[i]["mask"])
        assert torch.equal(item["labels"], single[i]["labels"])


def test_stream_stacks_slices_and_keeps_single_slice_keys():
    cfg = StreamConfig(seed=3, subjects_per_chunk=1, batch_size=4, n_slices=6, source_size=64)
    single, stacked = SyntheticStream(cfg, size=32), SyntheticStream(cfg, size=32, adjacent_slices=1)
    assert "adjacent_slices" not in single.recipe and stacked.key != single.key
    a, b = single.chunk(0), stacked.chunk(0)
    assert b["image"].shape == (6, 9, 32, 32) and torch.equal(a["subject"], b["subject"]) and torch.equal(a["slice"], b["slice"])
    rows = {int(z): i for i, z in enumerate(a["slice"])}
    def same(x, y):  # uint8 images of float inputs equal to ~1e-7: a rounding may flip by one step
        return (x.int() - y.int()).abs().max() <= 1

    for i, z in enumerate(b["slice"].tolist()):  # the neighbours' channels are their own slices'
        assert same(b["image"][i, 3:6], a["image"][i])
        assert same(b["image"][i, 0:3], a["image"][rows[max(z - 1, 0)]])
        assert same(b["image"][i, 6:9], a["image"][rows[min(z + 1, 5)]])
    assert (b["image"][:, 0:3].int() - b["image"][:, 3:6].int()).abs().max() > 10  # neighbours are other slices
