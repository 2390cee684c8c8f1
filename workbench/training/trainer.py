"""The training loop: class-balanced epochs, warm-up + cosine AdamW, validation on held-out
subjects, early stopping, best / last checkpoints, metrics CSV, resume, DDP.

Run folder (``out_dir``)::

    train_config.json            the TrainConfig
    metrics.csv                  one row per epoch (rewritten atomically)
    best.safetensors, best.json  weights + ModelConfig at the best validation ``monitor``
    last.safetensors, last.json  weights after the latest epoch
    last_state.{safetensors,json}  optimizer + counters
    checkpoints/step-N/          the same four files committed as one unit (newest two); --resume reads these

Determinism: every random stream (augmentation, dropout / drop-path, the sampler's draw) is
seeded from ``(seed, rank, epoch)`` at the start of each epoch, so an interrupted run resumed
from its last checkpoint replays the remaining epochs exactly as an uninterrupted run would.

The epoch loop, resume, early stopping and checkpoints are the trainer core's
(:mod:`workbench.training.core`, shared with the segmentation baselines); this module supplies the
classifier's data (class-balanced epochs or a synthetic stream), optimizer step, validation and
checkpoint files.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from workbench.models.checkpoint import save_model
from workbench.models.factory import model_config, unwrap
from workbench.training.config import TrainConfig
from workbench.training.core import RESUME_FREE_FIELDS, TrainerHooks, TrainResult, best_row, run_epochs, start_run
from workbench.training.distributed import DistInfo, dist_info, resolve_device
from workbench.training.loop import backbone_scale, collate, evaluate, make_optimizer, train_step
from workbench.training.metrics import classification_metrics
from workbench.training.sampler import ClassBalancedSampler
from workbench.training.schedule import set_backbone_scale
from workbench.training.state import RunState
from workbench.training.stream import SyntheticStream

__all__ = ["FitResult", "fit", "positives_of", "RESUME_FREE_FIELDS"]


@dataclass(frozen=True)
class FitResult(TrainResult):
    """``best_val_loss`` is the validation loss of ``best_epoch`` (the best epoch under ``monitor``)."""

    best_val_loss: float


def _monitored(monitor: str, row: dict) -> float:
    """The epoch's score under ``monitor``, lower is better (RunState keeps ``-AUC`` for ``val_auc``)."""
    if monitor == "val_loss":
        return float(row["val_loss"])
    return -float(row.get("val_auc_any", row.get("val_auc", math.nan)))


def positives_of(dataset: Dataset) -> np.ndarray:
    """(N,) bool ``any`` label per item: from ``dataset.frame`` when present, else by reading items."""
    frame = getattr(dataset, "frame", None)
    if frame is not None and "any" in frame:
        return frame["any"].to_numpy().astype(bool)
    return np.array([bool(dataset[i]["labels"][0] > 0.5) for i in range(len(dataset))])


def _batches(train_data, cfg: TrainConfig, run: RunState, info: DistInfo, device, positives):
    """``(epoch -> iterable of (images, labels), steps per epoch)`` for a Dataset (class-balanced
    epochs) or a :class:`SyntheticStream` (``cfg.steps_per_epoch`` fresh batches per epoch, resumed at
    ``run.step``)."""
    if isinstance(train_data, SyntheticStream):
        if cfg.steps_per_epoch < 1:
            raise ValueError("a synthetic stream has no end: set steps_per_epoch (--steps-per-epoch) >= 1")
        stream = train_data.batches(run.step, cfg.batch_size, cfg.num_workers, info.rank, info.world_size)
        return (lambda epoch: itertools.islice(stream, cfg.steps_per_epoch)), cfg.steps_per_epoch
    sampler = ClassBalancedSampler(positives if positives is not None else positives_of(train_data), seed=cfg.seed,
                                   num_replicas=info.world_size, rank=info.rank, ratio=cfg.negative_ratio)
    loader = DataLoader(train_data, batch_size=cfg.batch_size, sampler=sampler, drop_last=len(sampler) >= cfg.batch_size,
                        num_workers=cfg.num_workers, collate_fn=collate, pin_memory=device.type == "cuda",
                        persistent_workers=cfg.num_workers > 0)
    steps = cfg.steps_per_epoch or len(loader)

    def epoch_batches(epoch: int):
        sampler.set_epoch(epoch)
        return itertools.islice(loader, steps) if cfg.steps_per_epoch else loader

    return epoch_batches, steps


def fit(model: nn.Module, train_data: Dataset, val_data: Dataset | None, cfg: TrainConfig, out_dir: str | Path,
        *, resume: bool = False, device: torch.device | None = None, positives: Sequence[bool] | None = None,
        on_epoch_end: Callable[[int, dict], None] | None = None) -> FitResult:
    """Train ``model`` (any timm SwinTransformer; its config gives task and class names).

    ``train_data[i]`` / ``val_data[i]`` are dicts with ``image`` (C, S, S) and ``labels`` (6,);
    ``train_data`` may instead be a :class:`SyntheticStream` (fresh subjects, ``cfg.steps_per_epoch``).
    Under an initialised process group the model is wrapped in DistributedDataParallel and
    rank 0 writes the files. ``on_epoch_end(epoch, row)`` runs after each epoch's checkpoint. The
    model's train / eval modes are restored on return and when an exception ends the run.
    """
    info = dist_info()
    device = device or resolve_device(cfg.device, info.local_rank)
    mcfg = model_config(model)
    if mcfg.task != cfg.task:
        raise ValueError(f"model task {mcfg.task!r} differs from training task {cfg.task!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = unwrap(model).to(device)
    optimizer = make_optimizer(model, cfg)
    run = start_run(out, resume, cfg, model, optimizer, device, write_config=info.is_main)
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if info.distributed else model
    stream_batches, steps_per_epoch = _batches(train_data, cfg, run, info, device, positives)

    def epoch_batches(epoch: int):  # the stage of a two-stage fine-tuning is set per epoch
        set_backbone_scale(optimizer, backbone_scale(cfg, epoch))
        return stream_batches(epoch)

    def step(batch, generator: torch.Generator, lr: float):
        images, labels = (t.to(device, non_blocking=True) for t in batch)
        return train_step(ddp, optimizer, images, labels, cfg, generator, lr), len(images)

    def validate() -> dict[str, float]:
        val_loss, probs, labels = evaluate(model, val_data, cfg, device)
        metrics = classification_metrics(cfg.task, probs, labels, mcfg.class_names)
        return {"val_loss": val_loss, **{f"val_{k}": v for k, v in metrics.items()}}

    validated = val_data is not None and len(val_data) > 0
    hooks = TrainerHooks(model=model, optimizer=optimizer, batches=epoch_batches, steps_per_epoch=steps_per_epoch,
                         step=step, save_weights=lambda stem: save_model(model, stem, mcfg),
                         validate=validate if validated else None, score=lambda row: _monitored(cfg.monitor, row),
                         train_module=ddp)
    result = run_epochs(hooks, cfg, run, out, device, info=info, on_epoch_end=on_epoch_end)
    return FitResult(**result.as_fields(), best_val_loss=float(best_row(run).get("val_loss", math.nan)))
