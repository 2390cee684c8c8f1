"""The synthetic data engine: deterministic batches, exact resume, shard cache, curriculum, seed checks."""

from __future__ import annotations

import dataclasses
import itertools
import os
import time

import numpy as np
import pytest
import torch
from toydata import ToySlices

from workbench.data.label_volumes import volume_slice_labels
from workbench.data.synth import Difficulty, generate_subject, write_cohort
from workbench.models import create_model
from workbench.models.checkpoint import load_tensors
from workbench.training import TrainConfig, fit
from workbench.training.stream import StreamConfig, SyntheticStream, check_disjoint, cohort_subjects, stream_summary
from workbench.utils.errors import DataError

CFG = StreamConfig(seed=31, source_size=64, n_slices=6, p_ich=1.0, subjects_per_chunk=2, batch_size=4)


def _take(stream, start=0, n=6, **kw):
    return list(itertools.islice(stream.batches(start, kw.pop("batch_size", CFG.batch_size), **kw), n))


def _stream(cfg=CFG, **kw):
    return SyntheticStream(cfg, size=32, **kw)


def test_batches_are_the_chunks_in_order_with_their_labels():
    batches = _take(_stream(), n=6)  # 24 slices = 2 chunks of 2 subjects x 6 slices
    images = torch.cat([b[0] for b in batches])
    labels = torch.cat([b[1] for b in batches])
    assert images.shape == (24, 3, 32, 32) and images.dtype == torch.float32
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    # the slices of chunk 0 are those of subjects 0 and 1, shuffled: labels match as multisets
    expected = np.concatenate([volume_slice_labels(generate_subject(i, CFG.seed, size=64, n_slices=6, p_ich=1.0).labels)
                               for i in range(2)])
    got = labels[:12].numpy().astype(int)
    assert sorted(map(tuple, got)) == sorted(map(tuple, expected))
    assert not np.array_equal(got, expected), "slices are shuffled within a chunk"


def test_resume_at_any_step_continues_at_the_same_slice():
    full = _take(_stream(), n=7)
    for start in (1, 3, 5):  # inside a chunk, at a chunk boundary, inside the next
        resumed = _take(_stream(), start=start, n=7 - start)
        for a, b in zip(full[start:], resumed):
            assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_workers_shard_cache_and_ranks_give_the_same_stream(tmp_path):
    ref = _take(_stream(), n=6)
    cached = _take(_stream(cache_dir=tmp_path), n=6, num_workers=2)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(ref, cached))
    files = sorted(p.name for p in tmp_path.rglob("chunk_*.safetensors"))
    assert files[:2] == ["chunk_0000000.safetensors", "chunk_0000001.safetensors"]
    assert not list(tmp_path.rglob("*.lock"))
    again = _take(_stream(cache_dir=tmp_path), n=6)  # read back from the shards
    assert all(torch.equal(a[0], b[0]) for a, b in zip(ref, again))
    # two DDP ranks split each global batch of 4 into halves
    r0 = _take(_stream(), n=3, batch_size=2, rank=0, world_size=2)
    r1 = _take(_stream(), n=3, batch_size=2, rank=1, world_size=2)
    for g in range(3):
        assert torch.equal(torch.cat([r0[g][0], r1[g][0]]), ref[g][0])
    with pytest.raises(ValueError, match="batch size 3 x world size 1"):
        _take(_stream(), n=1, batch_size=3)


def test_a_stale_lock_is_taken_over(tmp_path, monkeypatch):
    import workbench.training.stream as stream_mod

    stream = _stream(cache_dir=tmp_path)
    stream.cache_dir.mkdir(parents=True)
    lock = stream.cache_dir / "chunk_0000000.lock"
    lock.touch()
    os.utime(lock, (time.time() - 3600, time.time() - 3600))
    monkeypatch.setattr(stream_mod, "_LOCK_STALE_S", 60.0)
    data = stream.chunk(0)
    assert data["image"].shape == (12, 3, 32, 32) and not lock.exists()


def test_curriculum_schedule_and_easy_chunks():
    cfg = dataclasses.replace(CFG, easy_hu=20.0, easy_volume=4.0, easy_hold_steps=3, easy_anneal_steps=4)
    assert cfg.difficulty_at(0) == cfg.difficulty_at(2) == Difficulty(20.0, 4.0)
    assert cfg.difficulty_at(5) == Difficulty(10.0, 2.0)  # halfway: HU linear, volume geometric
    assert cfg.difficulty_at(7) == cfg.difficulty_at(10**6) == Difficulty()
    assert cfg.chunk_difficulty(0) == Difficulty(20.0, 4.0)  # chunk 0 feeds step 0
    assert cfg.chunk_difficulty(3) == Difficulty()  # chunk 3 feeds step 9
    easy, real = _stream(cfg).chunk(0), _stream(CFG).chunk(0)
    assert int(easy["lesion_px"].sum()) > 2 * int(real["lesion_px"].sum())
    assert torch.equal((easy["lesion_px"] > 0), easy["labels"][:, 0].bool())
    with pytest.raises(ValueError, match="curriculum steps"):
        dataclasses.replace(CFG, easy_hold_steps=-1)


def test_appearance_randomises_the_rendering_not_the_labels_and_keeps_old_keys():
    from workbench.models.reference import provenance
    from workbench.training.recipes import RECIPES

    varied_cfg = dataclasses.replace(CFG, appearance="randomised")
    plain, varied = _stream(CFG).chunk(0), _stream(varied_cfg).chunk(0)
    assert torch.equal(plain["labels"], varied["labels"]) and torch.equal(plain["subject"], varied["subject"])
    assert not torch.equal(plain["image"], varied["image"])
    assert _stream(varied_cfg).key != _stream(CFG).key
    assert StreamConfig.from_dict(varied_cfg.to_dict()) == varied_cfg and "appearance" not in CFG.to_dict()
    # a stream recorded before the field existed keeps its key (shard caches, shipped provenance)
    shipped = provenance("reference-binary")["training_stream"]
    assert SyntheticStream(RECIPES["reference-binary"].stream, **shipped["recipe"]).key == shipped["key"]
    with pytest.raises(ValueError, match="none, randomised"):
        dataclasses.replace(CFG, appearance="strong")


def test_seed_overlap_with_an_evaluated_cohort_is_refused(tmp_path):
    root = write_cohort(tmp_path / "val", subjects=2, seed=CFG.seed, size=32, n_slices=2)
    assert cohort_subjects(root) == (CFG.seed, range(2))
    with pytest.raises(DataError, match="overlap the training stream"):
        check_disjoint(CFG, {"validation": cohort_subjects(root)})
    check_disjoint(dataclasses.replace(CFG, first_index=2), {"validation": cohort_subjects(root)})
    check_disjoint(CFG, {"other seed": (CFG.seed + 1, range(100))})
    with pytest.raises(DataError, match="no cohort.json"):
        cohort_subjects(tmp_path)
    summary = stream_summary(_stream(), steps=7)  # 28 slices -> 3 chunks -> subjects 0..5
    assert summary["subjects_used"] == [0, 5] and summary["stream"]["seed"] == CFG.seed


def test_fit_on_a_stream_resumes_bit_identically(tmp_path):
    cfg = TrainConfig(epochs=2, steps_per_epoch=3, batch_size=4, warmup_steps=2, lr=1e-3, eval_batch_size=16,
                      patience=5)
    val = ToySlices(16, seed=2)

    def model():
        torch.manual_seed(0)
        return create_model("test-tiny", task="binary")

    straight = fit(model(), _stream(), val, cfg, tmp_path / "a")
    fit(model(), _stream(), val, dataclasses.replace(cfg, max_steps=3), tmp_path / "b")
    resumed = fit(model(), _stream(), val, cfg, tmp_path / "b", resume=True)
    assert straight.steps == resumed.steps == 6
    wa, wb = load_tensors(tmp_path / "a" / "last.safetensors"), load_tensors(tmp_path / "b" / "last.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        fit(model(), _stream(), val, dataclasses.replace(cfg, steps_per_epoch=0), tmp_path / "c")


def test_a_damaged_shard_is_generated_again(tmp_path):
    stream = _stream(cache_dir=tmp_path)
    stream.cache_dir.mkdir(parents=True)
    good = stream.chunk(0)
    path = stream.cache_dir / "chunk_0000000.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the image data
    path.write_bytes(bytes(data))
    again = _stream(cache_dir=tmp_path).chunk(0)
    assert torch.equal(again["image"], good["image"]) and torch.equal(again["labels"], good["labels"])
