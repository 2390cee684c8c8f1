"""``workbench manifest``: scan a dataset folder into a manifest CSV (+ a skipped-items report)."""

from __future__ import annotations

import argparse
import json

from workbench.data.manifest import (build_manifest, check_overwritable, skipped_report_path, write_manifest,
                                     write_skipped)
from workbench.data.readers.base import READERS, load_builtin_readers
from workbench.utils.cli_types import at_least

NAME = "manifest"
HELP = "Scan a dataset folder (synthetic, physionet, ...) into a manifest CSV with subject-wise folds."


def add_arguments(p: argparse.ArgumentParser) -> None:
    load_builtin_readers()
    p.add_argument("--dataset", required=True, choices=sorted(READERS), help="reader to use")
    p.add_argument("--root", required=True, help="data root of the dataset")
    p.add_argument("--out", required=True, help="manifest CSV to write")
    p.add_argument("--folds", type=at_least(0), default=5, help="subject-wise folds (0 = leave unassigned)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    p.add_argument("--strict", action="store_true", help="stop at the first bad item instead of skipping it")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="reader option (repeatable), value parsed as JSON when possible")


def _options(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--option needs KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    check_overwritable(args.out)  # before the scan, which may take minutes
    frame, skipped = build_manifest(
        args.dataset, args.root, n_folds=args.folds, seed=args.seed, strict=args.strict, **_options(args.option)
    )
    write_manifest(frame, args.out)
    write_skipped(skipped, args.out)
    n_sub = frame["subject_id"].nunique()
    print(f"wrote {args.out}: {len(frame)} slices, {n_sub} subjects, {int(frame['any'].sum())} ICH slices")
    if skipped:
        print(f"skipped {len(skipped)} item(s), see {skipped_report_path(args.out)}:")
        for s in skipped[:10]:
            print(f"  {s.path}: {s.reason}")
    return 0
