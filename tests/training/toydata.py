"""A tiny in-memory stand-in for ``SliceDataset`` (same item contract), for trainer tests.

Positive slices hold a bright disc ("bleed") in a random place of a noisy grey "head"; the
subtype of a positive slice is drawn at random.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

LABELS = ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")


class ToySlices(Dataset):
    def __init__(self, n: int = 48, size: int = 32, seed: int = 0, positive_fraction: float = 0.3):
        g = np.random.default_rng(seed)
        yy, xx = np.mgrid[:size, :size]
        self.images = np.zeros((n, 3, size, size), np.float32)
        self.labels = np.zeros((n, 6), np.float32)
        head = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (0.4 * size) ** 2).astype(np.float32)
        for i in range(n):
            img = 0.3 * head + 0.05 * g.standard_normal((size, size))
            if g.random() < positive_fraction:
                cy, cx = g.uniform(0.3, 0.7, 2) * size
                img += 0.6 * (((yy - cy) ** 2 + (xx - cx) ** 2) < (0.12 * size) ** 2)
                self.labels[i, 0] = 1
                self.labels[i, 1 + g.integers(5)] = 1
            self.images[i] = np.clip(img, 0, 1)[None].repeat(3, 0)
        self.frame = pd.DataFrame(self.labels.astype(int), columns=list(LABELS))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": torch.from_numpy(self.images[i]), "labels": torch.from_numpy(self.labels[i]), "index": i}
