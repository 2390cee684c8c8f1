"""``workbench explain``: maps and masks of a trained classifier over any manifest, as NIfTI over the source scans."""

from __future__ import annotations

import argparse

from workbench.evaluation.gating import GATE_PROBABILITIES
from workbench.utils.cli_types import at_least, bounded, fraction

NAME = "explain"
HELP = "Export attention / CAM maps, thresholded masks (NIfTI, source affine), probabilities and volumes."


def _threshold(text: str) -> tuple[str, float]:
    """``0.05`` (every method) or ``METHOD=0.05``."""
    name, _, value = text.rpartition("=")
    try:
        float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"threshold {text!r}: give VALUE or METHOD=VALUE, e.g. 0.05 or hgi_sam=0.05")
    try:
        return name, fraction(value)
    except argparse.ArgumentTypeError as err:  # maps are min-max normalised: a threshold outside [0, 1] marks all or nothing
        raise argparse.ArgumentTypeError(f"threshold {text!r}: {err} (maps are min-max normalised)") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="classifier stem (runs/x/best) or run folder")
    p.add_argument("--manifest", required=True, help="manifest CSV of the scans (any dataset, your own included)")
    p.add_argument("--root", required=True, help="data root the manifest's paths are relative to")
    p.add_argument("--methods", nargs="+", default=["hgi_sam"], help="explanation methods (e.g. hgi_sam swin_sam gradcam)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--threshold", nargs="+", type=_threshold, default=[],
                   help="VALUE for every method or METHOD=VALUE each (default: the released constants)")
    p.add_argument("--batch-size", type=at_least(1), default=16)
    p.add_argument("--no-brain-mask", action="store_true", help="do not multiply the maps by the HU brain mask")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where the classifier runs (auto: a GPU when torch sees one)")
    p.add_argument("--gate", type=fraction, default=None,
                   help="P(ICH) below which a slice gets an empty mask (default: the checkpoint's calibrated gate, "
                        "else 0 = no gating)")
    p.add_argument("--gate-probability", default="slice", choices=GATE_PROBABILITIES,
                   help="what a given --gate reads: the slice's own P(ICH) (default), or P(ICH) with scan context "
                        "where the checkpoint carries a context head; a calibrated gate reads what it was calibrated on")
    p.add_argument("--min-component-ml", type=bounded(float, 0.0), default=0.0,
                   help="drop 3D connected components (26-connected across slices) of the gated masks smaller "
                        "than this volume in mL (default 0: keep every component)")
    p.add_argument("--min-pixels", type=at_least(0), default=None,
                   help="a slice counts as detected when its mask holds MORE than this many source pixels "
                        "(default: the released code's rule, workbench.evaluation.detection.MIN_LESION_PIXELS)")


def _check(args: argparse.Namespace) -> None:
    """Repeated methods or thresholds are refused, not silently merged (one line, names the value)."""
    repeated = sorted({m for m in args.methods if args.methods.count(m) > 1})
    if repeated:
        raise ValueError(f"--methods repeats {', '.join(repeated)}; give each method once")
    shared = [v for name, v in args.threshold if not name]
    named = [name for name, _ in args.threshold if name]
    if len(shared) > 1:
        raise ValueError(f"--threshold got {len(shared)} shared values {shared}; give one VALUE "
                         "for every method, or METHOD=VALUE each")
    twice = sorted({n for n in named if named.count(n) > 1})
    if twice:
        raise ValueError(f"--threshold sets {', '.join(twice)} twice")


def run(args: argparse.Namespace) -> int:
    from workbench.evaluation.explain_export import ExportConfig, export_explanations

    _check(args)
    shared = [v for name, v in args.threshold if not name]
    cfg = ExportConfig(checkpoint=args.checkpoint, manifest=args.manifest, root=args.root, out=args.out,
                       methods=tuple(args.methods), threshold=shared[-1] if shared else None,
                       thresholds=tuple((name, v) for name, v in args.threshold if name),
                       batch_size=args.batch_size, brain_mask=not args.no_brain_mask,
                       gate=args.gate, gate_probability=args.gate_probability, min_component_ml=args.min_component_ml, device=args.device, **({} if args.min_pixels is None else {"min_pixels": args.min_pixels}))
    result = export_explanations(cfg)
    print(f"{len(result.files)} NIfTI files, probabilities.csv and volumes.csv written to {result.out_dir}")
    return 0
