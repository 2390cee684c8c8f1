"""Train a fully supervised baseline on one cross-validation fold (HGI-SAM paper, MELBA 2023, section 4).

Unlike the released code (which ran a single epoch), a run trains up to ``epochs`` epochs with
warm-up + cosine AdamW and stops early after ``patience`` epochs without a better validation
score (the first ``min_epochs`` epochs never count against the patience). The epoch loop is the
classifier trainer's core (:mod:`workbench.training.core`: warm-up + cosine schedule, per-epoch
seeded random streams, :class:`~workbench.training.state.RunState` resume files,
:class:`~workbench.training.metrics.MetricsLog`, early stopping, best / last checkpoints); this
module supplies the baseline's data, optimizer step, validation and safetensors checkpoints.

Run folder (``out_dir``)::

    train_config.json             the BaselineTrainConfig
    run.json                      manifest, root, test / validation fold, slice counts
    splits.json                   training and validation subjects (never a test-fold subject)
    metrics.csv                   one row per epoch (rewritten atomically)
    best.safetensors, best.json   weights + BaselineConfig at the best validation score
    last.safetensors, last.json   weights after the latest epoch
    last_state.{safetensors,json} optimizer + counters, for ``resume=True``
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn as nn

from workbench.baselines.checkpoint import save_baseline
from workbench.baselines.config import BaselineTrainConfig, make_loss, model_options
from workbench.baselines.data import CachedSlices, FoldSplit, augment_pair, baseline_splits
from workbench.baselines.inference import detect, foreground_probability, predict_masks
from workbench.baselines.models import BaselineNet, create_baseline
from workbench.evaluation.detection import detection_score
from workbench.evaluation.overlap import dice, iou
from workbench.models.checkpoint import load_tensors
from workbench.training.core import ORDER_STREAM, TrainerHooks, TrainResult, run_epochs, start_run, stream_seed
from workbench.training.distributed import resolve_device
from workbench.training.precision import precision_forward
from workbench.training.schedule import param_groups
from workbench.utils.io import write_json_atomic
from workbench.utils.progress import progress

__all__ = ["BaselineResult", "train_baseline", "evaluate_slices", "load_split_data"]


@dataclass(frozen=True)
class BaselineResult(TrainResult):
    """The trainer core's result, the best model (eval mode), the fold split and the best ``monitor`` value."""

    model: BaselineNet
    split: FoldSplit
    best_score: float


@torch.no_grad()
def evaluate_slices(model: BaselineNet, data: CachedSlices, cfg: BaselineTrainConfig,
                    loss_fn: nn.Module | None = None, desc: str = "val") -> pd.DataFrame:
    """One row per slice of ``data``: ``loss`` (per batch, repeated; only with ``loss_fn``), ``dice``,
    ``iou`` (NaN without a lesion), ``score`` (detection score), ``detected``, ``positive``.

    Binarisation ``p > cfg.threshold``; detection: more than ``cfg.min_pixels`` pixels.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    rows = []
    try:
        for idx in progress(torch.arange(len(data)).split(cfg.eval_batch_size), desc=desc, leave=False):
            images, masks = data.batch(idx)
            logits = precision_forward(model, images.to(device), cfg.precision)
            probs = foreground_probability(logits).cpu()
            row = {"index": idx, "dice": dice(predict_masks(probs, cfg.threshold), masks),
                   "iou": iou(predict_masks(probs, cfg.threshold), masks),
                   "score": detection_score(probs, cfg.min_pixels),
                   "detected": detect(probs, cfg.threshold, cfg.min_pixels), "positive": masks.flatten(1).any(1)}
            if loss_fn is not None:
                row["loss"] = torch.full((len(idx),), float(loss_fn(logits, masks[:, None].to(device))))
            rows.append(row)
    finally:
        model.train(was_training)
    return pd.DataFrame({k: torch.cat([r[k] for r in rows]).numpy() for k in rows[0]})


def _summary(table: pd.DataFrame) -> dict[str, float]:
    """Validation row entries: mean loss, mean Dice / IoU over lesion slices, detection accuracy."""
    return {"val_loss": float(table["loss"].mean()), "val_dice": float(table["dice"].mean()),
            "val_iou": float(table["iou"].mean()),
            "val_detection_accuracy": float((table["detected"] == table["positive"]).mean())}


def load_split_data(frame: pd.DataFrame, root: str | Path, size: int, desc: str) -> CachedSlices:
    """Decode the slices and masks of manifest rows ``frame`` at ``size`` px into memory."""
    from workbench.data.dataset import SliceDataset

    return CachedSlices(SliceDataset(frame, root, size=size, brain_mask=False), desc=desc)


def _epoch_batches(data: CachedSlices, cfg: BaselineTrainConfig):
    """``(epoch -> index batches, steps per epoch)``: drop-last batches of a permutation seeded from
    ``(seed, epoch)``."""
    bs = min(cfg.batch_size, len(data))
    steps = max(1, len(data) // bs)

    def batches(epoch: int) -> list[torch.Tensor]:
        order = torch.Generator().manual_seed(stream_seed(cfg.seed, 0, epoch, ORDER_STREAM))
        perm = torch.randperm(len(data), generator=order)
        return [perm[b * bs:(b + 1) * bs] for b in range(steps)]

    return batches, steps


def train_baseline(manifest: str | Path | pd.DataFrame, root: str | Path, name: str, test_fold: int,
                   out_dir: str | Path, epochs: int = 30, size: int = 128, *, val_fold: int | None = None,
                   config: BaselineTrainConfig | None = None, resume: bool = False, **overrides: Any) -> BaselineResult:
    """Train baseline ``name`` (``unet`` or ``swin_unetr``) on the masked slices of every fold but
    ``test_fold``, validating on ``val_fold`` (default: the next fold); see the module docstring.

    ``config`` gives the other hyper-parameters (``overrides`` replace single fields, e.g.
    ``batch_size=8``); ``name``, ``epochs`` and ``size`` always win. Returns the best model.
    """
    cfg = dataclasses.replace(config or BaselineTrainConfig(), model=name, epochs=epochs, size=size, **overrides)
    split = baseline_splits(manifest, root, test_fold, val_fold)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    model = create_baseline(cfg.model, cfg.preset, **model_options(cfg))
    model.config.check_size(cfg.size)
    model = model.to(device)
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.peak_lr)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = start_run(out, resume, cfg, model, optimizer, device)
    train = load_split_data(split.train, root, cfg.size, "caching train")
    val = load_split_data(split.val, root, cfg.size, "caching val")
    if cfg.monitor == "val_dice" and not bool(val.masks.flatten(1).any(1).any()):
        raise ValueError(f"monitor 'val_dice' needs lesions in validation fold {split.val_fold}; it has none "
                         "(use monitor 'val_loss' or another val_fold)")
    write_json_atomic(out / "run.json", {
        "manifest": split.source, "root": str(root), "test_fold": split.test_fold, "val_fold": split.val_fold,
        "train_slices": len(train), "val_slices": len(val), "device": str(device)})
    write_json_atomic(out / "splits.json", {"test_fold": split.test_fold, **split.subjects()})
    loss_fn = make_loss(cfg)
    batches, steps_per_epoch = _epoch_batches(train, cfg)
    sign = 1.0 if cfg.monitor == "val_loss" else -1.0  # RunState keeps a lower-is-better score

    def step(idx: torch.Tensor, generator: torch.Generator, lr: float):
        images, masks = augment_pair(*train.batch(idx), cfg.augment, generator)
        loss = loss_fn(precision_forward(model, images.to(device), cfg.precision),
                       masks[:, None].to(device))  # masks (B, 1, S, S) 0/1
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        return loss.detach(), len(idx)

    hooks = TrainerHooks(model=model, optimizer=optimizer, batches=batches, steps_per_epoch=steps_per_epoch,
                         step=step, save_weights=lambda stem: save_baseline(model, stem),
                         validate=lambda: _summary(evaluate_slices(model, val, cfg, loss_fn)),
                         score=lambda row: sign * row[cfg.monitor])
    result = run_epochs(hooks, cfg, run, out, device)
    best = out / ("best" if (out / "best.json").exists() else "last")
    model.load_state_dict(load_tensors(best.with_suffix(".safetensors"), device=device, finite=True), strict=True)
    return BaselineResult(**result.as_fields(), model=model.eval(), split=split, best_score=sign * run.best_val_loss)
