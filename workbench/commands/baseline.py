"""``workbench baseline``: train a fully supervised segmentation baseline (U-Net or SwinUNETR) on one fold."""

from __future__ import annotations

import argparse
import json

from workbench.training.augment import AugmentConfig
from workbench.training.config import DEVICES
from workbench.training.precision import PRECISIONS
from workbench.utils.cli_types import at_least, bounded, positive

NAME = "baseline"
HELP = "Train a fully supervised baseline (unet or swin_unetr, Dice + CE) on the masks of every fold but --test-fold."


def add_arguments(p: argparse.ArgumentParser) -> None:
    from workbench.baselines.config import MONITORS, BaselineTrainConfig
    from workbench.baselines.models import BASELINES, PRESETS

    d = BaselineTrainConfig()
    p.add_argument("--manifest", required=True, help="manifest CSV with lesion masks (has_mask = 1 rows)")
    p.add_argument("--root", required=True, help="data root the manifest's paths are relative to")
    p.add_argument("--model", required=True, choices=sorted(BASELINES))
    p.add_argument("--test-fold", type=int, required=True, help="fold never used for training or validation")
    p.add_argument("--val-fold", type=int, default=None, help="validation fold (default: the fold after the test fold)")
    p.add_argument("--out", required=True, help="run folder (checkpoints, metrics.csv, configs)")
    p.add_argument("--preset", default=d.preset, choices=PRESETS, help="cpu: narrow U-Net; paper: released widths")
    p.add_argument("--channels", type=int, nargs="+", default=None,
                   help="U-Net widths, one per level (overrides the preset; ignored by swin_unetr)")
    p.add_argument("--feature-size", type=int, default=None, help="SwinUNETR feature size, a multiple of 12")
    p.add_argument("--size", type=at_least(16), default=d.size,
                   help="input side in pixels (U-Net: multiple of 8, >= 16; SwinUNETR: multiple of 32, >= 64)")
    p.add_argument("--epochs", type=at_least(1), default=d.epochs, help="maximum epochs (early stopping may end sooner)")
    p.add_argument("--batch-size", type=at_least(1), default=d.batch_size)
    p.add_argument("--lr", type=positive, default=None, help="peak learning rate (default: 3e-3 unet, 1e-3 swin_unetr)")
    p.add_argument("--lambda-ce", type=bounded(float, 0.0), default=d.lambda_ce, help="weight of the CE term (Dice weight 1)")
    p.add_argument("--warmup-steps", type=at_least(0), default=d.warmup_steps)
    p.add_argument("--patience", type=at_least(1), default=d.patience)
    p.add_argument("--min-epochs", type=at_least(0), default=d.min_epochs, help="epochs that never count against --patience")
    p.add_argument("--monitor", default=d.monitor, choices=MONITORS)
    p.add_argument("--max-steps", type=at_least(0), default=0, help="stop after this many steps (0: no limit)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--precision", default=d.precision, choices=PRECISIONS,
                   help="bf16: bfloat16 autocast with fp32 weights; auto: bf16 where the device runs it natively")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")


def run(args) -> int:
    from workbench.baselines.config import BaselineTrainConfig
    from workbench.baselines.train import train_baseline

    cfg = BaselineTrainConfig(
        preset=args.preset, channels=tuple(args.channels) if args.channels else None, feature_size=args.feature_size,
        batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps, patience=args.patience,
        min_epochs=args.min_epochs, lambda_ce=args.lambda_ce,
        monitor=args.monitor, max_steps=args.max_steps, seed=args.seed, device=args.device,
        precision=args.precision, augment=AugmentConfig(0, 0, 0, 0, 0, 0) if args.no_augment else AugmentConfig())
    result = train_baseline(args.manifest, args.root, args.model, args.test_fold, args.out, epochs=args.epochs,
                            size=args.size, val_fold=args.val_fold, config=cfg, resume=args.resume)
    last = result.history[-1] if result.history else {}
    print(json.dumps({"out": str(result.out_dir), "model": args.model, "test_fold": result.split.test_fold,
                      "val_fold": result.split.val_fold, "best_epoch": result.best_epoch,
                      "best_score": result.best_score, "steps": result.steps, "epochs_run": result.epochs_run,
                      "stopped_early": result.stopped_early,
                      "last": {k: last.get(k) for k in ("epoch", "train_loss", "val_loss", "val_dice")}}))
    return 0
