"""``workbench synth``: write the synthetic ICH cohort in the PhysioNet CT-ICH layout (and others)."""

from __future__ import annotations

import argparse

from workbench.utils.cli_types import at_least, bounded, fraction

NAME = "synth"
HELP = "generate the synthetic ICH cohort (PhysioNet CT-ICH layout + label volumes; RSNA/CQ500/BHSD/INSTANCE layouts)"
LAYOUT_CHOICES = ("physionet", "rsna", "cq500", "bhsd", "instance", "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (each layout goes to OUT/<layout>)")
    parser.add_argument("--subjects", type=at_least(1), default=4, help="number of subjects (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--size", type=bounded(int, 16, 2048), default=256, help="slice size in pixels (default 256)")
    parser.add_argument("--slices", type=bounded(int, 1, 200), default=24, help="slices per subject, 5 mm each (default 24)")
    parser.add_argument("--background", choices=("procedural", "cranium"), default="procedural",
                        help="procedural phantom or the real Cranium CT of invesalius-examples")
    parser.add_argument("--p-ich", type=fraction, default=0.5, help="probability a subject has ICH (default 0.5)")
    parser.add_argument("--layout", action="append", choices=LAYOUT_CHOICES, default=None,
                        help="dataset layout to write (repeatable; default physionet; 'all' = every layout)")


def run(args: argparse.Namespace) -> int:
    from workbench.data.synth import ALL_LAYOUTS, write_layouts

    layouts = args.layout or ["physionet"]
    if "all" in layouts:
        layouts = list(ALL_LAYOUTS)
    written = write_layouts(args.out, layouts, subjects=args.subjects, seed=args.seed, size=args.size,
                            n_slices=args.slices, background=args.background, p_ich=args.p_ich)
    print(f"wrote {args.subjects} synthetic subjects ({args.background}, seed {args.seed}):")
    for name, folder in written.items():
        print(f"  {name:9s} {folder}")
    return 0
