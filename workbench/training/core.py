"""The trainer core both trainers run: start or resume, the epoch loop, early stopping, checkpoints.

:func:`fit` (the classifiers, :mod:`workbench.training.trainer`) and :func:`train_baseline` (the
segmentation baselines, :mod:`workbench.baselines.train`) differ in their data, their optimizer step,
their validation and their checkpoint files; everything else is here:

- :func:`start_run`: a fresh run (``train_config.json`` written, refusing a folder that holds one) or
  the newest verified committed checkpoint (:func:`~workbench.training.state.open_run`), refusing a
  changed configuration (:func:`check_resumable`; :data:`RESUME_FREE_FIELDS` may change).
- :func:`run_epochs`: per epoch, random streams seeded from ``(seed, rank, epoch)``
  (:func:`stream_seed`), the warm-up + cosine learning rate set before every step
  (:func:`~workbench.training.schedule.lr_at`), validation, :meth:`RunState.consider` for the best
  epoch, early stopping after ``patience`` epochs without improvement (the first ``min_epochs`` epochs
  never count), ``metrics.csv`` (:class:`~workbench.training.metrics.MetricsLog`), ``best.*`` and a
  committed checkpoint (``last.*``, ``checkpoints/step-N``). Whatever happens, the model's modules
  are left in the train / eval modes they had on entry.

Per epoch the core calls the trainer's :class:`TrainerHooks`: ``batches(epoch)`` (the epoch's
batches), ``step(batch, generator, lr)`` (one optimizer step; returns the loss and the number of
images), ``validate()`` (the ``val_*`` entries of the epoch's row) and ``score(row)`` (the monitored
value, lower is better), and ``save_weights(stem)`` (``stem.safetensors`` + ``stem.json``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from workbench.training.distributed import DistInfo, all_mean
from workbench.training.metrics import MetricsLog
from workbench.training.schedule import lr_at, set_lr
from workbench.training.state import RunState, commit_checkpoint, open_run
from workbench.utils.progress import progress

__all__ = ["RESUME_FREE_FIELDS", "GLOBAL_STREAM", "AUGMENT_STREAM", "ORDER_STREAM", "LoopConfig", "TrainerHooks",
           "TrainResult", "stream_seed", "check_resumable", "start_run", "run_epochs", "kept_modes", "best_row"]

RESUME_FREE_FIELDS: tuple[str, ...] = ("num_workers", "device", "eval_batch_size", "max_steps")
"""Config fields that may change between an interrupted run and its resumption (both trainers)."""

GLOBAL_STREAM, AUGMENT_STREAM, ORDER_STREAM = 1, 2, 3
"""The random streams of an epoch (:func:`stream_seed`'s last argument): ``torch.manual_seed`` (dropout,
drop-path, DataLoader seeds), the step's augmentation generator, and a trainer's own draw of the epoch's
order (the baselines' permutation)."""


class LoopConfig(Protocol):
    """What the core reads from a trainer's config (``TrainConfig`` and ``BaselineTrainConfig`` both have it)."""

    epochs: int
    patience: int
    min_epochs: int
    max_steps: int
    seed: int
    warmup_steps: int
    min_lr: float

    @property
    def peak_lr(self) -> float: ...

    def to_dict(self) -> dict[str, Any]: ...

    def save(self, path: str | Path) -> Path: ...


@dataclass(frozen=True)
class TrainerHooks:
    """What one trainer plugs into :func:`run_epochs`.

    ``model`` is checkpointed by ``save_weights(stem)`` and has its modes restored at the end;
    ``train_module`` (default ``model``; e.g. its DistributedDataParallel wrapper) is put in train mode
    at each epoch start. ``batches(epoch)`` gives the epoch's batches (``steps_per_epoch`` of them;
    the schedule's horizon is ``epochs * steps_per_epoch``). ``step(batch, generator, lr)`` runs one
    optimizer step (the core has already set ``lr``) and returns ``(loss, images)``: a scalar (tensor
    or float) and the number of images it used. ``validate()`` returns the epoch row's validation
    entries (None: a run without validation, where every epoch is the latest best and nothing stops
    early); ``score(row)`` (required with ``validate``) the monitored value of a validated row, lower
    is better.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    batches: Callable[[int], Iterable[Any]]
    steps_per_epoch: int
    step: Callable[[Any, torch.Generator, float], tuple[torch.Tensor | float, int]]
    save_weights: Callable[[Path], Any]
    validate: Callable[[], dict[str, float]] | None = None
    score: Callable[[dict], float] | None = None
    train_module: nn.Module | None = None


@dataclass(frozen=True)
class TrainResult:
    """What both trainers return (their results add their own fields): the run folder, the best epoch
    (1-based), optimizer steps, epochs run, whether patience ended the run before ``epochs``, and one
    metrics row per epoch (the rows of ``metrics.csv``)."""

    out_dir: Path
    best_epoch: int
    steps: int
    epochs_run: int
    stopped_early: bool
    history: tuple[dict, ...]

    def as_fields(self) -> dict[str, Any]:
        """The fields as keyword arguments (for a trainer's result that extends this one)."""
        return {f.name: getattr(self, f.name) for f in fields(TrainResult)}


def stream_seed(seed: int, rank: int, epoch: int, stream: int) -> int:
    """Independent seed of random stream ``stream`` for this (seed, rank, epoch)."""
    return int(np.random.SeedSequence([seed, rank, epoch, stream]).generate_state(1, np.uint64)[0] >> 1)


def check_resumable(saved: LoopConfig, now: LoopConfig, path: Path,
                    free: tuple[str, ...] = RESUME_FREE_FIELDS) -> None:
    """Raise a ValueError naming every field (but ``free``) that differs between ``saved`` and ``now``."""
    a, b = saved.to_dict(), now.to_dict()
    diff = [k for k in a if k not in free and a[k] != b[k]]
    if diff:
        raise ValueError(f"{path}: cannot resume with a different configuration; changed: "
                         + ", ".join(f"{k} {a[k]!r} -> {b[k]!r}" for k in diff))


def start_run(out: Path, resume: bool, cfg: LoopConfig, model: nn.Module, optimizer: torch.optim.Optimizer,
              device: torch.device | str, *, write_config: bool = True) -> RunState:
    """A fresh run (``cfg`` saved as ``train_config.json`` where ``write_config``; a folder holding a run
    is refused) or the state of the last committed checkpoint, restored into ``model`` and
    ``optimizer`` after :func:`check_resumable` against the saved config."""
    def save(path: Path) -> None:
        if write_config:
            cfg.save(path)

    return open_run(out, resume, save, lambda path: check_resumable(type(cfg).load(path), cfg, path),
                    model, optimizer, device)


def kept_modes(model: nn.Module) -> Callable[[], None]:
    """Record the train / eval mode of every module of ``model``; the returned function restores them."""
    modes = [(m, m.training) for m in model.modules()]

    def restore() -> None:
        for module, training in modes:
            module.training = training

    return restore


def run_epochs(hooks: TrainerHooks, cfg: LoopConfig, run: RunState, out: Path, device: torch.device, *,
               info: DistInfo = DistInfo(), on_epoch_end: Callable[[int, dict], None] | None = None) -> TrainResult:
    """Train from ``run`` (fresh or resumed) until ``cfg.epochs``, early stopping or ``cfg.max_steps``.

    Rank 0 (``info``) writes ``metrics.csv``, ``best.*`` and the committed checkpoint of every epoch;
    under a process group the ranks meet at a barrier after each. ``on_epoch_end(epoch, row)`` runs
    after the epoch's checkpoint. The model's modes on entry are restored on every exit. ``run`` is
    updated in place.
    """
    out = Path(out)
    restore_modes = kept_modes(hooks.model)
    try:
        _loop(hooks, cfg, run, out, device, info, on_epoch_end)
    finally:
        restore_modes()
    return TrainResult(out_dir=out, best_epoch=run.best_epoch, steps=run.step, epochs_run=run.epoch,
                       stopped_early=run.finished and run.epoch < cfg.epochs, history=tuple(run.history))


def _loop(hooks: TrainerHooks, cfg: LoopConfig, run: RunState, out: Path, device: torch.device, info: DistInfo,
          on_epoch_end: Callable[[int, dict], None] | None) -> None:
    train_module = hooks.train_module if hooks.train_module is not None else hooks.model
    total_steps = cfg.epochs * hooks.steps_per_epoch

    def lr(step: int) -> float:
        return lr_at(step, cfg.peak_lr, cfg.warmup_steps, total_steps, cfg.min_lr)

    log = MetricsLog(out / "metrics.csv", run.history)
    while not run.finished and run.epoch < cfg.epochs:
        if cfg.max_steps and run.step >= cfg.max_steps:  # a resume already at its cap adds no empty epoch
            break
        epoch, t0 = run.epoch, time.perf_counter()
        torch.manual_seed(stream_seed(cfg.seed, info.rank, epoch, GLOBAL_STREAM))
        gen = torch.Generator().manual_seed(stream_seed(cfg.seed, info.rank, epoch, AUGMENT_STREAM))
        train_module.train()
        loss_sum, n_steps, n_images = torch.zeros((), device=device, dtype=torch.float64), 0, 0
        bar = progress(hooks.batches(epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", total=hooks.steps_per_epoch)
        for batch in bar:
            if cfg.max_steps and run.step >= cfg.max_steps:
                break
            step_lr = lr(run.step)
            set_lr(hooks.optimizer, step_lr)
            loss, images = hooks.step(batch, gen, step_lr)
            loss_sum += loss
            run.step, n_steps, n_images = run.step + 1, n_steps + 1, n_images + images
        seconds = time.perf_counter() - t0
        train_loss = float(loss_sum) / max(n_steps, 1)
        row = {"epoch": epoch + 1, "step": run.step, "lr": lr(max(run.step - 1, 0)),
               "train_loss": all_mean(train_loss, device) if info.distributed else train_loss,
               "train_seconds": seconds, "images_per_s": n_images * info.world_size / max(seconds, 1e-9)}
        if hooks.validate is not None:
            row.update(hooks.validate())
            improved = run.consider(hooks.score(row), epoch + 1)
            run.bad_epochs = 0 if improved or epoch + 1 <= cfg.min_epochs else run.bad_epochs + 1
        else:  # no validation: every epoch is the latest best
            improved, run.best_epoch = True, epoch + 1
        run.epoch = epoch + 1
        stop_early = hooks.validate is not None and run.bad_epochs >= cfg.patience
        out_of_steps = bool(cfg.max_steps) and run.step >= cfg.max_steps
        run.finished = stop_early or run.epoch >= cfg.epochs
        row["seconds"] = time.perf_counter() - t0
        run.history.append(row)
        if info.is_main:
            log.append(row)
            if improved:  # before the commit: a kill in between replays this epoch and rewrites it
                hooks.save_weights(out / "best")
            commit_checkpoint(out, hooks.save_weights, hooks.optimizer, run)
        if info.distributed:
            dist.barrier()
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
        if stop_early or out_of_steps:
            break


def best_row(run: RunState) -> dict:
    """The history row of the best epoch ({} when there is none)."""
    return run.history[run.best_epoch - 1] if 0 < run.best_epoch <= len(run.history) else {}
