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
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from workbench.models.checkpoint import save_model
from workbench.models.factory import model_config, unwrap
from workbench.training.config import TrainConfig
from workbench.training.distributed import all_mean, dist_info, resolve_device
from workbench.training.loop import collate, evaluate, make_optimizer, train_step
from workbench.training.metrics import MetricsLog, classification_metrics
from workbench.training.sampler import ClassBalancedSampler
from workbench.training.schedule import lr_at
from workbench.training.stream import SyntheticStream
from workbench.training.state import RunState, commit_checkpoint, open_run
from workbench.utils.progress import progress

__all__ = ["FitResult", "fit", "positives_of", "RESUME_FREE_FIELDS"]

RESUME_FREE_FIELDS = ("num_workers", "device", "eval_batch_size", "max_steps")
"""TrainConfig fields that may change between an interrupted run and its resumption."""


@dataclass(frozen=True)
class FitResult:
    """``best_val_loss`` is the validation loss of ``best_epoch`` (the best epoch under ``monitor``)."""

    out_dir: Path
    best_epoch: int
    best_val_loss: float
    steps: int
    epochs_run: int
    stopped_early: bool
    history: tuple[dict, ...]


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


def _stream_seed(seed: int, rank: int, epoch: int, stream: int) -> int:
    """Independent seed of random stream ``stream`` for this (seed, rank, epoch)."""
    return int(np.random.SeedSequence([seed, rank, epoch, stream]).generate_state(1, np.uint64)[0] >> 1)


def _check_resumable(saved: TrainConfig, now: TrainConfig, path: Path) -> None:
    a, b = saved.to_dict(), now.to_dict()
    diff = [k for k in a if k not in RESUME_FREE_FIELDS and a[k] != b[k]]
    if diff:
        raise ValueError(f"{path}: cannot resume with a different configuration; changed: "
                         + ", ".join(f"{k} {a[k]!r} -> {b[k]!r}" for k in diff))


def _start(model: nn.Module, optimizer, cfg: TrainConfig, out: Path, resume: bool, device) -> RunState:
    """Fresh run (refusing to overwrite one) or the state of the last committed checkpoint."""
    def save(path: Path) -> None:
        if dist_info().is_main:
            cfg.save(path)

    return open_run(out, resume, save, lambda path: _check_resumable(TrainConfig.load(path), cfg, path),
                    unwrap(model), optimizer, device)


def _barrier() -> None:
    if dist_info().distributed:
        dist.barrier()


def _batches(train_data, cfg: TrainConfig, run: RunState, info, device, positives):
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
    rank 0 writes the files. ``on_epoch_end(epoch, row)`` runs after each epoch's checkpoint.
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
    run = _start(model, optimizer, cfg, out, resume, device)
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if info.distributed else model
    epoch_batches, steps_per_epoch = _batches(train_data, cfg, run, info, device, positives)
    total_steps = cfg.epochs * steps_per_epoch
    log = MetricsLog(out / "metrics.csv", run.history)
    while not run.finished and run.epoch < cfg.epochs:
        epoch, t0 = run.epoch, time.perf_counter()
        torch.manual_seed(_stream_seed(cfg.seed, info.rank, epoch, 1))
        gen = torch.Generator().manual_seed(_stream_seed(cfg.seed, info.rank, epoch, 2))
        ddp.train()
        loss_sum, n_steps, n_images = torch.zeros((), device=device, dtype=torch.float64), 0, 0
        bar = progress(epoch_batches(epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", total=steps_per_epoch)
        for images, labels in bar:
            if cfg.max_steps and run.step >= cfg.max_steps:
                break
            lr = lr_at(run.step, cfg.lr, cfg.warmup_steps, total_steps, cfg.min_lr)
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            loss_sum += train_step(ddp, optimizer, images, labels, cfg, gen, lr)
            run.step, n_steps, n_images = run.step + 1, n_steps + 1, n_images + len(images)
        seconds = time.perf_counter() - t0
        row = {"epoch": epoch + 1, "step": run.step, "lr": lr_at(max(run.step - 1, 0), cfg.lr, cfg.warmup_steps,
                                                                 total_steps, cfg.min_lr),
               "train_loss": all_mean(float(loss_sum) / max(n_steps, 1), device),
               "train_seconds": seconds, "images_per_s": n_images * info.world_size / max(seconds, 1e-9)}
        if val_data is not None and len(val_data):
            val_loss, probs, labels = evaluate(model, val_data, cfg, device)
            metrics = classification_metrics(cfg.task, probs, labels, mcfg.class_names)
            row.update({"val_loss": val_loss, **{f"val_{k}": v for k, v in metrics.items()}})
            improved = run.consider(_monitored(cfg.monitor, row), epoch + 1)
            run.bad_epochs = 0 if improved else run.bad_epochs + 1
        else:  # no validation: every epoch is the latest best
            improved, run.best_epoch = True, epoch + 1
        run.epoch = epoch + 1
        stop_early = val_data is not None and run.bad_epochs >= cfg.patience
        out_of_steps = bool(cfg.max_steps) and run.step >= cfg.max_steps
        run.finished = stop_early or run.epoch >= cfg.epochs
        row["seconds"] = time.perf_counter() - t0
        run.history.append(row)
        if info.is_main:
            log.append(row)
            if improved:  # before the commit: a kill in between replays this epoch and rewrites it
                save_model(model, out / "best", mcfg)
            commit_checkpoint(out, lambda stem: save_model(model, stem, mcfg), optimizer, run)
        _barrier()
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
        if stop_early or out_of_steps:
            break
    best_row = run.history[run.best_epoch - 1] if 0 < run.best_epoch <= len(run.history) else {}
    return FitResult(out_dir=out, best_epoch=run.best_epoch, best_val_loss=float(best_row.get("val_loss", math.nan)),
                     steps=run.step,
                     epochs_run=run.epoch, stopped_early=run.bad_epochs >= cfg.patience and val_data is not None,
                     history=tuple(run.history))
