"""``workbench train``: train a Swin ICH classifier on a manifest (single process or torchrun DDP)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from workbench.data.dataset import ADJACENT_MM, DEFAULT_INPUT_MARGIN_MM, INPUT_MASKS
from workbench.data.windowing import DEFAULT_WINDOWS, WINDOW_PRESETS
from workbench.models.config import TASKS
from workbench.models.presets import PRESETS
from workbench.training.augment import AugmentConfig
from workbench.training.config import DEVICES, MONITORS, TrainConfig
from workbench.training.precision import PRECISIONS, resolve_precision
from workbench.training.recipes import RECIPES
from workbench.utils.io import write_json_atomic
from workbench.utils.cli_types import at_least, bounded, positive

NAME = "train"
HELP = "Train a Swin ICH classifier (binary or multilabel) from a manifest; works under torchrun."


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    p.add_argument("--recipe", choices=sorted(RECIPES),
                   help="train a named recipe end to end (synthetic stream, validation and held-out cohorts, "
                        "reference.json); only --out, --data-dir, --device, --num-workers, --threads, --max-steps "
                        "and --resume apply")
    p.add_argument("--data-dir", default="runs/reference_data",
                   help="with --recipe: where the validation / held-out cohorts and the stream's shard cache live")
    p.add_argument("--manifest", help="manifest CSV (data_manifests/README.md); required without --recipe")
    p.add_argument("--root", help="data root the manifest's paths are relative to; required without --recipe")
    p.add_argument("--task", choices=TASKS, help="required without --recipe")
    p.add_argument("--preset", default="cpu-small", choices=sorted(PRESETS))
    p.add_argument("--out", required=True, help="run folder (checkpoints, metrics.csv, configs)")
    p.add_argument("--val-fold", type=int, default=0, help="fold held out for validation (default 0)")
    p.add_argument("--no-val", action="store_true", help="train on every fold, no validation / early stop")
    p.add_argument("--exclude-folds", type=int, nargs="*", default=[], help="folds kept out of training (test)")
    p.add_argument("--epochs", type=at_least(1), default=d.epochs)
    p.add_argument("--batch-size", type=at_least(1), default=d.batch_size, help="per process")
    p.add_argument("--lr", type=positive, default=d.lr)
    p.add_argument("--weight-decay", type=bounded(float, 0.0), default=d.weight_decay)
    p.add_argument("--warmup-steps", type=at_least(0), default=d.warmup_steps)
    p.add_argument("--patience", type=at_least(1), default=d.patience)
    p.add_argument("--min-epochs", type=at_least(0), default=d.min_epochs, help="epochs that never count against --patience")
    p.add_argument("--freeze-backbone-epochs", type=at_least(0), default=d.freeze_backbone_epochs,
                   help="train the head only for this many epochs, then every layer (the paper's fine-tuning)")
    p.add_argument("--backbone-lr", type=float, default=d.backbone_lr,
                   help="the backbone's learning rate once it trains (0 = --lr)")
    p.add_argument("--monitor", default=d.monitor, choices=MONITORS,
                   help="picks the best checkpoint and drives early stopping (val_loss lower, val_auc higher)")
    p.add_argument("--max-steps", type=at_least(0), default=0, help="stop after this many steps (0: no limit)")
    p.add_argument("--steps-per-epoch", type=at_least(0), default=0,
                   help="steps between validations / checkpoints (0: one class-balanced pass over the training set)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--img-size", type=at_least(16), default=None, help="override the preset's input size")
    p.add_argument("--pretrained", default=None, metavar="SOURCE",
                   help="start the backbone from a timm-format file (.safetensors, or .pth / .bin read with "
                        "weights_only=True) or a timm / Hugging Face name (needs network); the head is the task's own")
    p.add_argument("--windows", nargs="+", default=list(DEFAULT_WINDOWS), choices=sorted(WINDOW_PRESETS),
                   help="CT windows stacked as input channels (default: the paper's brain subdural bone)")
    p.add_argument("--input-mask", default="none", choices=INPUT_MASKS,
                   help="brain: skull-strip the input to the HU brain mask (+ --input-margin-mm)")
    p.add_argument("--input-margin-mm", type=bounded(float, 0.0), default=DEFAULT_INPUT_MARGIN_MM,
                   help="how far beyond the brain mask a skull-stripped input keeps pixels")
    p.add_argument("--adjacent-slices", type=at_least(0), default=0,
                   help="2.5D input: also stack the windows of this many slices on each side (default 0: the slice alone)")
    p.add_argument("--adjacent-mm", type=positive, default=ADJACENT_MM,
                   help="distance between stacked slices; at another slice spacing the nearest slice is read")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--cache", action="store_true", help="decode every slice once and keep it in memory")
    p.add_argument("--num-workers", type=at_least(0), default=None, help="DataLoader worker processes (default 0; "
                   "a recipe's own default with --recipe)")
    p.add_argument("--threads", type=at_least(0), default=0,
                   help="torch CPU threads per process (0: torch's default); 1 is often faster on a busy machine")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--precision", default=d.precision, choices=PRECISIONS,
                   help="bf16: bfloat16 autocast with fp32 weights (1.7x faster per step on this project's AMX CPU); "
                        "auto: bf16 where the device runs it natively")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")


def _config(args) -> TrainConfig:
    return TrainConfig(
        task=args.task, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        warmup_steps=args.warmup_steps, patience=args.patience, min_epochs=args.min_epochs, monitor=args.monitor,
        seed=args.seed, max_steps=args.max_steps, steps_per_epoch=args.steps_per_epoch,
        freeze_backbone_epochs=args.freeze_backbone_epochs, backbone_lr=args.backbone_lr,
        num_workers=args.num_workers or 0, device=args.device, precision=args.precision,
        augment=AugmentConfig(0, 0, 0, 0, 0, 0) if args.no_augment else AugmentConfig(),
    )


def _run_recipe(args) -> int:
    from workbench.training.recipes import run_recipe

    record = run_recipe(args.recipe, args.out, args.data_dir, resume=args.resume, device=args.device,
                        num_workers=args.num_workers, max_steps=args.max_steps, threads=args.threads,
                        command="workbench " + shlex.join(sys.argv[1:]))
    held = record["heldout"]
    print(json.dumps({"out": str(args.out), "steps": record["steps"], "best_step": record["best_step"],
                      "best_val_auc": record["best_val_auc"], "heldout_auc_any": held["auc_any"],
                      "heldout_auc_ge100px": held["by_source_px"][">=100"]["auc"],
                      "train_seconds": record["train_seconds"]}))
    return 0


def run(args) -> int:
    import torch

    if args.recipe:
        return _run_recipe(args)
    missing = [f"--{name}" for name in ("manifest", "root", "task") if getattr(args, name) is None]
    if missing:
        raise ValueError(f"{', '.join(missing)} required (or --recipe NAME; "
                         f"valid recipes: {', '.join(sorted(RECIPES))})")

    from workbench.data.dataset import SliceDataset
    from workbench.models.factory import create_model
    from workbench.training.cache import CachedImages
    from workbench.training.distributed import init_distributed, shutdown
    from workbench.training.inputs import prepare_splits
    from workbench.training.trainer import fit

    cfg = _config(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    splits = prepare_splits(args.manifest, args.root, None if args.no_val else args.val_fold, args.exclude_folds)
    info, device = init_distributed(args.device)
    try:
        torch.manual_seed(args.seed)  # same initial weights on every rank (DDP also broadcasts rank 0's)
        overrides = {"img_size": args.img_size} if args.img_size else {}
        model = create_model(args.preset, task=args.task, windows=tuple(args.windows), input_mask=args.input_mask,
                             input_margin_mm=args.input_margin_mm, adjacent_slices=args.adjacent_slices,
                             adjacent_mm=args.adjacent_mm, pretrained=args.pretrained, **overrides)
        mcfg = model.workbench_config

        def dataset(frame, what):
            ds = SliceDataset(frame, args.root, size=mcfg.arch.img_size, brain_mask=False, **mcfg.input_kwargs())
            return CachedImages(ds, desc=f"caching {what}") if args.cache else ds

        train_ds = dataset(splits.train, "train")
        val_ds = dataset(splits.val, "val") if splits.val is not None else None
        if info.is_main:
            write_json_atomic(f"{args.out}/run.json", {
                "manifest": str(args.manifest), "root": str(args.root), "preset": args.preset,
                "val_fold": None if args.no_val else args.val_fold, "exclude_folds": list(args.exclude_folds),
                "world_size": info.world_size, "device": str(device),
                "precision": resolve_precision(cfg.precision, device), "train_slices": len(train_ds),
                "val_slices": len(val_ds) if val_ds is not None else 0, "argv": sys.argv[1:]})
        result = fit(model, train_ds, val_ds, cfg, args.out, resume=args.resume, device=device)
        if info.is_main:
            last = result.history[-1] if result.history else {}
            print(json.dumps({"out": str(result.out_dir), "best_epoch": result.best_epoch,
                              "best_val_loss": result.best_val_loss, "steps": result.steps,
                              "stopped_early": result.stopped_early,
                              "last": {k: last.get(k) for k in ("epoch", "train_loss", "val_loss", "val_auc")}}))
    finally:
        shutdown()
    return 0
