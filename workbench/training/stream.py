"""The synthetic data engine: a training stream of fresh subjects, never the same slice twice.

Training on a fixed cohort of 60 subjects plateaued (held-out ROC-AUC 0.66-0.77); the generator
can make as many subjects as a run consumes. :class:`SyntheticStream` draws subjects
``(seed, first_index + k)``, k = 0, 1, 2, ... from :func:`~workbench.data.synth.generate_subject`
at the source size, applies the model's input recipe (:func:`~workbench.data.dataset.prepare_volume`,
the function :class:`SliceDataset` uses) and yields batches.

Layout of the stream: *chunk* ``c`` holds subjects ``first_index + c*K .. + K - 1`` (K =
``subjects_per_chunk``), all their slices shuffled by a generator seeded from ``(seed, c)``; the
stream is the concatenation of the chunks, cut into batches. Batch ``g`` is therefore a pure
function of the configuration and ``g``: a resumed run continues at the exact slice where it
stopped, and two runs with the same stream see the same slices. Chunks are generated in DataLoader
workers (``num_workers``) ahead of the trainer, or read from a shard cache (``cache_dir``) that
another run of the same stream filled (a lock file per chunk: one run generates, the others wait).

Curriculum (training only): chunk ``c`` is drawn at :meth:`StreamConfig.difficulty_at` of the
first step it feeds: ``easy_hu`` HU brighter and ``easy_volume`` times larger lesions for
``easy_hold_steps``, then annealed to realistic over ``easy_anneal_steps`` (HU linearly, volume
geometrically), realistic afterwards. Appearance (training only, ``appearance``): a name of
:data:`~workbench.data.synth.APPEARANCES`; ``randomised`` varies each subject's tissue contrast,
calibration, bias field, blur and noise (:mod:`workbench.data.synth.appearance`). Cohorts that are
evaluated never take either path.

Shapes: images (B, C, S, S) float32 in [0, 1]; labels (B, 6) float32 in ``LABEL_COLUMNS`` order.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from workbench.data.dataset import ADJACENT_MM, DEFAULT_INPUT_MARGIN_MM, prepare_volume
from workbench.data.label_volumes import volume_slice_labels
from workbench.data.synth import BACKGROUNDS, Difficulty, generate_subject, get_appearance
from workbench.data.windowing import DEFAULT_WINDOWS
from workbench.models.checkpoint import load_tensors, save_tensors
from workbench.models.config import JsonConfig
from workbench.utils.errors import DataError, check_choice
from workbench.utils.threads import single_thread

__all__ = ["StreamConfig", "SyntheticStream", "cohort_subjects", "check_disjoint", "stream_summary"]

_LOCK_STALE_S = 600.0


@dataclass(frozen=True)
class StreamConfig(JsonConfig):
    """A stream of fresh synthetic training subjects ``(seed, first_index + k)`` (plain values).

    ``p_ich`` is the training prior of an ICH subject (a realistic cohort uses 0.5; more ICH
    subjects give more positive slices per generated subject without changing any lesion).
    ``batch_size`` fixes which step each chunk feeds (and so its curriculum difficulty); it must
    equal the trainer's batch size times its world size.
    """

    seed: int
    first_index: int = 0
    source_size: int = 256
    n_slices: int = 24
    background: str = "procedural"
    p_ich: float = 0.8
    subjects_per_chunk: int = 4
    batch_size: int = 32
    easy_hu: float = 0.0
    easy_volume: float = 1.0
    easy_hold_steps: int = 0
    easy_anneal_steps: int = 0
    appearance: str = "none"

    def __post_init__(self):
        check_choice("background", self.background, BACKGROUNDS)
        get_appearance(self.appearance)  # name check
        if self.first_index < 0 or self.subjects_per_chunk < 1 or self.batch_size < 1:
            raise ValueError(f"need first_index >= 0, subjects_per_chunk >= 1, batch_size >= 1 (got "
                             f"{self.first_index}, {self.subjects_per_chunk}, {self.batch_size})")
        if self.easy_hold_steps < 0 or self.easy_anneal_steps < 0:
            raise ValueError(f"curriculum steps must be >= 0 (got hold {self.easy_hold_steps}, "
                             f"anneal {self.easy_anneal_steps})")
        Difficulty(self.easy_hu, self.easy_volume)  # range check

    def to_dict(self) -> dict:
        """Plain values; ``appearance`` only when not ``none``, so the keys (shard cache, provenance) of
        streams recorded before the field existed are unchanged."""
        d = super().to_dict()
        if d["appearance"] == "none":
            del d["appearance"]
        return d

    @property
    def chunk_slices(self) -> int:
        return self.subjects_per_chunk * self.n_slices

    def difficulty_at(self, step: int) -> Difficulty:
        """Lesion difficulty of the data fed at optimizer step ``step`` (curriculum, module docstring)."""
        hold, anneal = self.easy_hold_steps, self.easy_anneal_steps
        if step < hold:
            t = 0.0
        elif anneal == 0 or step >= hold + anneal:
            return Difficulty()
        else:
            t = (step - hold) / anneal
        return Difficulty(hu_boost=round(self.easy_hu * (1.0 - t), 4),
                          volume_scale=round(float(self.easy_volume ** (1.0 - t)), 4))

    def chunk_difficulty(self, chunk: int) -> Difficulty:
        return self.difficulty_at(chunk * self.chunk_slices // self.batch_size)

    def subject_indices(self, chunk: int) -> range:
        start = self.first_index + chunk * self.subjects_per_chunk
        return range(start, start + self.subjects_per_chunk)


def _chunk_data(cfg: StreamConfig, recipe: dict, chunk: int) -> dict[str, torch.Tensor]:
    """Generate chunk ``chunk``: ``image`` (N, C, S, S) uint8 (1/255 steps), ``labels`` (N, 6) uint8,
    ``subject`` (N,) int64 generator index, ``slice`` (N,) int64, ``lesion_px`` (N,) int64 lesion
    pixels at the source size; N = subjects_per_chunk * n_slices, rows shuffled."""
    difficulty, appearance = cfg.chunk_difficulty(chunk), get_appearance(cfg.appearance)
    images, labels, subjects, slices, lesion_px = [], [], [], [], []
    with single_thread():
        for index in cfg.subject_indices(chunk):
            subject = generate_subject(index, cfg.seed, size=cfg.source_size, n_slices=cfg.n_slices,
                                       background=cfg.background, p_ich=cfg.p_ich, difficulty=difficulty,
                                       appearance=appearance)
            for item in prepare_volume(subject.hu, subject.spacing, brain_mask=False, **recipe):
                images.append((item["image"] * 255).round_().to(torch.uint8))
            labels.append(torch.from_numpy(volume_slice_labels(subject.labels)).to(torch.uint8))
            subjects += [index] * subject.hu.shape[0]
            slices += list(range(subject.hu.shape[0]))
            lesion_px.append(torch.from_numpy((subject.labels > 0).sum(axis=(1, 2))))
    order = torch.from_numpy(np.random.default_rng([cfg.seed, chunk, 7]).permutation(len(images)))
    return {"image": torch.stack(images)[order], "labels": torch.cat(labels)[order],
            "subject": torch.tensor(subjects, dtype=torch.int64)[order],
            "slice": torch.tensor(slices, dtype=torch.int64)[order],
            "lesion_px": torch.cat(lesion_px).to(torch.int64)[order]}


class SyntheticStream(IterableDataset):
    """Chunks of fresh synthetic subjects at a model's input recipe (module docstring).

    Args:
        config: the :class:`StreamConfig`.
        size, windows, resize_factor, input_mask, input_margin_mm, adjacent_slices, adjacent_mm: the
            model's input recipe (``ModelConfig.input_kwargs()`` plus the input size).
        cache_dir: optional shard cache shared by runs of the same stream and recipe.
    """

    def __init__(self, config: StreamConfig, size: int, windows=DEFAULT_WINDOWS, resize_factor: float = 1.1,
                 input_mask: str = "none", input_margin_mm: float = DEFAULT_INPUT_MARGIN_MM,
                 adjacent_slices: int = 0, adjacent_mm: float = ADJACENT_MM, cache_dir: str | Path | None = None):
        self.config = config
        self.recipe = {"size": int(size), "windows": tuple(windows), "resize_factor": float(resize_factor),
                       "input_mask": input_mask, "input_margin_mm": float(input_margin_mm)}
        if adjacent_slices:  # a single-slice recipe keeps the shard-cache key it had before 2.5D inputs
            self.recipe.update(adjacent_slices=int(adjacent_slices), adjacent_mm=float(adjacent_mm))
        self.cache_dir = Path(cache_dir) / self.key if cache_dir else None
        self._start_chunk = 0

    @property
    def key(self) -> str:
        """Hash of the stream configuration and input recipe (names the shard cache folder)."""
        blob = json.dumps({"stream": self.config.to_dict(), "recipe": self.recipe}, sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def describe(self) -> dict:
        """Plain-value description for run.json."""
        return {"stream": self.config.to_dict(), "recipe": {**self.recipe, "windows": list(self.recipe["windows"])},
                "key": self.key}

    def chunk(self, c: int) -> dict[str, torch.Tensor]:
        """Chunk ``c``, from the shard cache when present (generated and cached otherwise)."""
        if self.cache_dir is None:
            return _chunk_data(self.config, self.recipe, c)
        path = self.cache_dir / f"chunk_{c:07d}.safetensors"
        lock = path.with_suffix(".lock")
        while True:
            if path.is_file():
                try:
                    return load_tensors(path)
                except DataError:  # a damaged shard (its checksum says so): generate it again
                    path.unlink(missing_ok=True)
                    continue
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:  # another run generates it: wait, unless its lock went stale
                try:
                    if time.time() - lock.stat().st_mtime > _LOCK_STALE_S:
                        lock.unlink(missing_ok=True)
                except FileNotFoundError:
                    pass
                time.sleep(0.2)
                continue
            os.close(fd)
            try:
                data = _chunk_data(self.config, self.recipe, c)
                save_tensors(path, data)
                return data
            finally:
                lock.unlink(missing_ok=True)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        for c in itertools.count(self._start_chunk + wid, nw):
            yield self.chunk(c)

    def batches(self, start_step: int, batch_size: int, num_workers: int = 0, rank: int = 0,
                world_size: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless ``(images (B, C, S, S) float32, labels (B, 6) float32)`` from optimizer step ``start_step``.

        The global batch of step ``g`` holds stream slices ``[g*B, (g+1)*B)`` (B = the stream's
        ``batch_size``); rank ``r`` of ``world_size`` takes its ``batch_size`` slice ``[r*b, (r+1)*b)`` of it.
        """
        if batch_size * world_size != self.config.batch_size:
            raise ValueError(f"stream batch_size {self.config.batch_size} != batch size {batch_size} x world size "
                             f"{world_size}: the curriculum is defined per global step")
        first = start_step * self.config.batch_size
        n_chunk = self.config.chunk_slices
        self._start_chunk, offset = divmod(first, n_chunk)
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        loader = DataLoader(self, batch_size=None, num_workers=num_workers, persistent_workers=False,
                            prefetch_factor=2 if num_workers else None)
        images = labels = None
        for data in loader:
            img, lab = data["image"], data["labels"]
            if images is None:
                img, lab = img[offset:], lab[offset:]
                images, labels = img, lab
            else:
                images, labels = torch.cat([images, img]), torch.cat([labels, lab])
            lo, hi = rank * batch_size, (rank + 1) * batch_size
            while len(images) >= self.config.batch_size:
                yield images[lo:hi].float().div_(255.0), labels[lo:hi].float()
                images, labels = images[self.config.batch_size:], labels[self.config.batch_size:]

    def subjects_used(self, steps: int) -> range:
        """Generator indices of the subjects whose slices fed the first ``steps`` optimizer steps."""
        slices = steps * self.config.batch_size
        chunks = -(-slices // self.config.chunk_slices)
        return range(self.config.first_index, self.config.first_index + chunks * self.config.subjects_per_chunk)


def cohort_subjects(root: str | Path) -> tuple[int, range]:
    """``(seed, subject indices)`` of a cohort written by ``workbench synth`` (its ``cohort.json``)."""
    path = Path(root) / "cohort.json"
    if not path.is_file():
        raise DataError(root, "no cohort.json: not a synthetic cohort, its seeds cannot be checked")
    args = json.loads(path.read_text())["arguments"]
    return int(args["seed"]), range(int(args["subjects"]))


def check_disjoint(config: StreamConfig, cohorts: dict[str, tuple[int, range]]) -> None:
    """Refuse a stream that shares a subject ``(seed, index)`` with any evaluated cohort.

    ``cohorts``: ``{what: (seed, indices)}``. The stream uses indices ``first_index ..`` without end.
    """
    for what, (seed, indices) in cohorts.items():
        if seed == config.seed and len(indices) and indices[-1] >= config.first_index:
            raise DataError(what, f"cohort seed {seed} subjects {indices.start}..{indices[-1]} overlap the training "
                                  f"stream (seed {config.seed}, subjects {config.first_index}..); choose another "
                                  "--synthetic seed or first index")


def stream_summary(stream: SyntheticStream, steps: int) -> dict:
    """What a run consumed: seed, subject index range and the curriculum, for run.json / provenance."""
    used = stream.subjects_used(steps)
    return {**stream.describe(), "subjects_used": [used.start, used.stop - 1] if len(used) else [],
            "n_subjects_used": len(used), "steps": int(steps)}

