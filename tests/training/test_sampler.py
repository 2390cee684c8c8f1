"""Class-balanced sampler: half positive per epoch, reproducible, sharded across DDP ranks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.training.sampler import ClassBalancedSampler

POS = np.array([1] * 10 + [0] * 40, bool)  # 10 positives, 40 negatives


def test_each_epoch_draws_every_positive_and_as_many_negatives():
    s = ClassBalancedSampler(POS, seed=3)
    idx = list(s)
    assert len(idx) == len(s) == 20  # 2 x positive count
    assert sorted(i for i in idx if POS[i]) == list(range(10))
    neg = [i for i in idx if not POS[i]]
    assert len(neg) == 10 and len(set(neg)) == 10


def test_reproducible_per_epoch_and_different_across_epochs():
    a, b = ClassBalancedSampler(POS, seed=1), ClassBalancedSampler(POS, seed=1)
    a.set_epoch(2), b.set_epoch(2)
    assert list(a) == list(b)
    b.set_epoch(3)
    assert list(a) != list(b)


def test_few_negatives_are_drawn_with_replacement():
    pos = np.array([1] * 8 + [0] * 3, bool)
    idx = list(ClassBalancedSampler(pos, seed=0))
    assert sum(not pos[i] for i in idx) == 8


def test_ranks_partition_the_global_draw_and_stay_balanced():
    single = ClassBalancedSampler(POS, seed=5)
    single.set_epoch(1)
    full = single.epoch_indices()
    shards = []
    for rank in range(3):
        s = ClassBalancedSampler(POS, seed=5, num_replicas=3, rank=rank)
        s.set_epoch(1)
        shards.append(s.epoch_indices())
        assert len(s) == 7  # ceil(20 / 3)
        n_pos = int(POS[shards[-1].numpy()].sum())
        assert abs(n_pos - 3.5) <= 2
    interleaved = torch.stack([torch.cat([sh, sh.new_full((1,), -1)])[:7] for sh in shards], 1).flatten()
    assert interleaved[:20].tolist() == full.tolist()  # rank r takes entries r, r + 3, ...


def test_one_class_is_an_error():
    with pytest.raises(ValueError, match="both classes; got 0 positive, 5 negative"):
        list(ClassBalancedSampler(np.zeros(5, bool)))
