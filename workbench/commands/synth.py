"""``workbench synth``: write the synthetic ICH cohort in the PhysioNet CT-ICH layout."""

from __future__ import annotations

import argparse

NAME = "synth"
HELP = "generate the synthetic ICH cohort (PhysioNet CT-ICH layout + label volumes)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (the cohort goes to OUT/physionet)")
    parser.add_argument("--subjects", type=int, default=4, help="number of subjects (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--size", type=int, default=256, help="slice size in pixels (default 256)")
    parser.add_argument("--slices", type=int, default=24, help="slices per subject, 5 mm each (default 24)")
    parser.add_argument("--background", choices=("procedural", "cranium"), default="procedural",
                        help="procedural phantom or the real Cranium CT of invesalius-examples")
    parser.add_argument("--p-ich", type=float, default=0.5, help="probability a subject has ICH (default 0.5)")


def run(args: argparse.Namespace) -> int:
    from workbench.data.synth import write_cohort

    out = write_cohort(args.out, subjects=args.subjects, seed=args.seed, size=args.size,
                       n_slices=args.slices, background=args.background, p_ich=args.p_ich)
    print(f"wrote {args.subjects} synthetic subjects ({args.background}, seed {args.seed}) to {out}")
    for part in ("ct_scans", "masks", "labels", "brain_masks", "hemorrhage_diagnosis_raw_ct.csv", "cohort.json"):
        print(f"  {out / part}")
    return 0
