"""Dataset loading throughput (slices/s) on the synthetic cohort at 256 and 512 px.

Times ``SliceDataset`` item access (NIfTI slice read, brain mask from HU, three windows,
resize-then-centre-crop) in one process, and through a 2-worker DataLoader.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path


import torch
from common import table, write_result
from torch.utils.data import DataLoader

from workbench.data.dataset import SliceDataset
from workbench.data.manifest import build_manifest
from workbench.data.synth import write_cohort

COHORT_SEED = 0
"""Seed of the synthetic cohort this benchmark writes and evaluates on."""


def measure(size: int, subjects: int, slices: int, tmp: Path) -> list:
    root = write_cohort(tmp / f"c{size}", subjects=subjects, seed=COHORT_SEED, size=size, n_slices=slices)  # .../physionet
    frame, _ = build_manifest("synthetic", root, n_folds=0)
    rows = []
    for brain in (True, False):
        ds = SliceDataset(frame, root, size=size, brain_mask=brain)
        ds[0]
        t0 = time.perf_counter()
        for i in range(len(ds)):
            ds[i]
        single = len(ds) / (time.perf_counter() - t0)
        loader = DataLoader(ds, batch_size=16, num_workers=2, shuffle=True)
        t0 = time.perf_counter()
        n = sum(len(b["image"]) for b in loader)
        multi = n / (time.perf_counter() - t0)
        rows.append([f"{size}", f"{size}", "yes" if brain else "no", f"{single:.0f}", f"{multi:.0f}"])
    return rows


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += measure(256, subjects=8, slices=24, tmp=Path(tmp))
        rows += measure(512, subjects=4, slices=24, tmp=Path(tmp))
    body = table(["stored px", "output px", "brain mask", "slices/s (1 process)", "slices/s (DataLoader, 2 workers)"], rows)
    print(body)
    write_result("dataset", "Dataset loading throughput", body)


if __name__ == "__main__":
    main()
