"""Class-balanced sampling as in the paper, single-process or sharded across DDP ranks.

Each epoch draws ``2 * P`` indices (P = number of positive slices): every positive once and P
negatives (without replacement while there are enough, else with), shuffled together. Under
DistributedDataParallel every rank builds the same list from ``(seed, epoch)`` and takes every
``num_replicas``-th entry from ``rank`` (the list padded to a multiple of ``num_replicas``), so the
balance holds globally and on each rank up to one sample. The draw is a pure function of
``(seed, epoch)``: resuming at epoch k replays epoch k exactly.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

__all__ = ["ClassBalancedSampler", "balanced_indices"]


def balanced_indices(positive: np.ndarray, generator: torch.Generator, ratio: float = 1.0) -> torch.Tensor:
    """One epoch's indices: all positives plus ``round(ratio * P)`` negatives, shuffled.

    positive: (N,) bool. Returns (P + round(ratio * P),) int64.
    """
    pos = torch.from_numpy(np.flatnonzero(positive)).long()
    neg = torch.from_numpy(np.flatnonzero(~positive)).long()
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError(f"class-balanced sampling needs both classes; got {len(pos)} positive, {len(neg)} negative")
    n_neg = int(round(ratio * len(pos)))
    if n_neg <= len(neg):
        neg_draw = neg[torch.randperm(len(neg), generator=generator)[:n_neg]]
    else:
        neg_draw = neg[torch.randint(len(neg), (n_neg,), generator=generator)]
    both = torch.cat([pos, neg_draw])
    return both[torch.randperm(len(both), generator=generator)]


class ClassBalancedSampler(Sampler[int]):
    """Yields dataset indices, half positive and half negative per epoch (see module docstring).

    Args:
        positive: (N,) bool or 0/1, one per dataset item (the ``any`` label).
        seed: base seed; epoch ``e`` uses ``seed * 1_000_003 + e``.
        num_replicas, rank: DDP world size and this process's rank (1 and 0 when not distributed).
        ratio: negatives per positive (1 = the paper's half/half).
    """

    def __init__(self, positive: Sequence[bool] | np.ndarray, seed: int = 0, num_replicas: int = 1,
                 rank: int = 0, ratio: float = 1.0):
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside 0..{num_replicas - 1}")
        self.positive = np.asarray(positive).astype(bool)
        self.seed, self.num_replicas, self.rank, self.ratio = int(seed), int(num_replicas), int(rank), float(ratio)
        self.epoch = 0
        n_pos = int(self.positive.sum())
        self.total = n_pos + int(round(ratio * n_pos))
        self.num_samples = -(-self.total // self.num_replicas)  # ceil

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose draw :meth:`__iter__` yields."""
        self.epoch = int(epoch)

    def epoch_indices(self) -> torch.Tensor:
        """This rank's indices for the current epoch, (num_samples,) int64."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        idx = balanced_indices(self.positive, g, self.ratio)
        pad = self.num_samples * self.num_replicas - len(idx)
        if pad:
            idx = torch.cat([idx, idx[:pad]])
        return idx[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples
