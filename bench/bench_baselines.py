"""Fully supervised baselines per fold: training time and test-fold Dice / IoU / detection.

Generates a small synthetic PhysioNet cohort (``--subjects`` x ``--slices`` at ``--size`` px, 5
subject-wise folds), trains the U-Net and SwinUNETR (CPU presets) on each of ``--folds`` with
early stopping, evaluates on the held-out test fold (Dice / IoU per slice with a lesion at
p > 0.5; detection: more than 10 predicted pixels, AUC from the detection score) and writes
``bench/results/baselines.md`` (atomically). One torch thread: faster than two on the shared
2-core machine.

    python bench/bench_baselines.py                      # folds 0 1, ~15-20 min on 2 loaded cores
    python bench/bench_baselines.py --folds 0 1 2 3 4 --epochs 30
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path


import numpy as np
import pandas as pd
import torch

from common import table, write_result
from workbench.baselines import BaselineTrainConfig, evaluate_slices, train_baseline
from workbench.baselines.train import load_split_data
from workbench.data.manifest import build_manifest, write_manifest
from workbench.data.synth import write_cohort
from workbench.evaluation import detection_metrics

COHORT_SEED = 0
"""Seed of the synthetic cohort this benchmark writes and evaluates on."""


def _fold(manifest: Path, root: Path, name: str, fold: int, out: Path, args) -> tuple[dict, pd.DataFrame]:
    """Train on one fold; returns a summary row and the per-slice test table."""
    cfg = BaselineTrainConfig(batch_size=args.batch_size, patience=args.patience, device="cpu")
    start = time.perf_counter()
    result = train_baseline(manifest, root, name, fold, out, epochs=args.epochs, size=args.size, config=cfg)
    seconds = time.perf_counter() - start
    frame = pd.read_csv(manifest)
    test = frame[(frame["fold"] == fold) & (frame["has_mask"] == 1)]
    slices = evaluate_slices(result.model, load_split_data(test, root, args.size, "caching test"), cfg, desc="test")
    det = detection_metrics(torch.tensor(slices["score"].to_numpy(), dtype=torch.float64),
                            torch.tensor(slices["positive"].to_numpy()))
    row = {"model": name, "fold": fold, "epochs": result.epochs_run, "best_epoch": result.best_epoch,
           "train_s": seconds, "s_per_epoch": seconds / max(result.epochs_run, 1),
           "dice": float(np.nanmean(slices["dice"])), "iou": float(np.nanmean(slices["iou"])),
           "lesion_slices": int(slices["positive"].sum()), "test_slices": len(slices),
           "det_accuracy": det["accuracy"], "det_auc": det["roc_auc"]}
    print(row, flush=True)
    return row, slices.assign(model=name, fold=fold)


def _fmt(x: float, digits: int = 3) -> str:
    return "nan" if isinstance(x, float) and math.isnan(x) else f"{x:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subjects", type=int, default=10)
    p.add_argument("--slices", type=int, default=12)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--folds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--models", nargs="+", default=["unet", "swin_unetr"])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--patience", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=8)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    os.environ.setdefault("WORKBENCH_PROGRESS", "0")
    load = os.getloadavg()
    rows, tables = [], []
    with tempfile.TemporaryDirectory(prefix="bench_baselines_") as tmp:
        tmp = Path(tmp)
        write_cohort(tmp, subjects=args.subjects, seed=COHORT_SEED, size=args.size, n_slices=args.slices)
        root = tmp / "physionet"
        manifest = write_manifest(build_manifest("synthetic", root, n_folds=5)[0], tmp / "manifest.csv")
        for name in args.models:
            for fold in args.folds:
                row, slices = _fold(manifest, root, name, fold, tmp / f"{name}_{fold}", args)
                rows.append(row)
                tables.append(slices)
    per_fold = table(
        ["model", "test fold", "epochs (best)", "train s", "s / epoch", "Dice", "IoU", "lesion / test slices",
         "det. acc.", "det. AUC"],
        [[r["model"], r["fold"], f"{r['epochs']} ({r['best_epoch']})", f"{r['train_s']:.0f}",
          f"{r['s_per_epoch']:.1f}", _fmt(r["dice"]), _fmt(r["iou"]), f"{r['lesion_slices']} / {r['test_slices']}",
          _fmt(r["det_accuracy"]), _fmt(r["det_auc"])] for r in rows])
    pooled = pd.concat(tables)
    summary = []
    for name, g in pooled.groupby("model", sort=False):
        d, j = g["dice"].dropna(), g["iou"].dropna()
        summary.append([name, f"{d.mean():.3f} +- {d.std():.3f} ({d.sem():.3f})",
                        f"{j.mean():.3f} +- {j.std():.3f} ({j.sem():.3f})", len(d)])
    body = (
        f"Synthetic cohort: {args.subjects} subjects x {args.slices} slices at {args.size} px, 5 subject-wise folds; "
        f"test folds {args.folds}; CPU presets (U-Net widths 16-32-64-128, SwinUNETR feature size 12; peak lr "
        f"3e-3 / 1e-3, loss Dice + 0.3 CE), batch {args.batch_size}, up to {args.epochs} epochs, early stopping "
        f"patience {args.patience} (counted after epoch 10) on the validation Dice (validation = the next fold), "
        f"augmentation on, 1 torch thread. Load average at start "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (the 2 cores are shared: times are upper bounds).\n\n"
        f"### Per fold\n\n{per_fold}\n\n"
        f"### Pooled over the test folds' lesion slices (mean +- std (SEM), n slices)\n\n"
        + table(["model", "Dice", "IoU", "n"], summary)
        + "\n\nDice / IoU: per slice with a lesion, p > 0.5. Detection: more than 10 predicted pixels; AUC from the "
          "11th-largest foreground probability (the score whose threshold reproduces that rule). Tiny data: these "
          "numbers test the pipeline, they do not compare the methods.")
    print(f"wrote {write_result('baselines', 'Fully supervised baselines (bench_baselines.py)', body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
