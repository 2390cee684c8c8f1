"""``workbench import-checkpoint``: a classifier the workbench did not write (the HGI-SAM authors'
released weights, a timm-format Swin) as a workbench checkpoint every command accepts."""

from __future__ import annotations

import argparse

NAME = "import-checkpoint"
HELP = "convert an HGI-SAM released classifier or a timm Swin state dict into a workbench checkpoint"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="checkpoint file (.pth / .pt / .bin read with weights_only=True, or .safetensors)")
    p.add_argument("--format", required=True, choices=("hgi-sam", "timm"), help="layout of the file")
    p.add_argument("--task", required=True, choices=("binary", "multilabel"), help="what the classifier's head predicts")
    p.add_argument("--preset", default="paper", help="architecture preset the weights fit (default: paper, Swin-B 384 px)")
    p.add_argument("--out", required=True, help="output run folder: OUT/best.safetensors + OUT/best.json")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from workbench.models.checkpoint import save_model
    from workbench.models.importing import import_checkpoint

    model = import_checkpoint(args.file, args.format, args.task, args.preset)
    weights, config = save_model(model, Path(args.out) / "best")
    n = sum(p.numel() for p in model.parameters())
    print(f"imported {args.file} ({args.format}, {args.task}, preset {args.preset}, {n / 1e6:.1f} M parameters) -> "
          f"{weights} + {config.name}")
    return 0
