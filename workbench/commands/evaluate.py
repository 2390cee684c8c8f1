"""``workbench evaluate``: the paper's K-fold study (all methods, nested thresholds) from a YAML config."""

from __future__ import annotations

import argparse

from workbench.utils.cli_types import at_least

NAME = "evaluate"
HELP = "Run (or resume) the evaluation study of a YAML config: weak maps, baselines, nested thresholds, tables."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="study YAML, e.g. protocols/paper.yaml (docs/guide/protocol.md)")
    p.add_argument("--out", default=None, help="output folder (default: the config's `output`)")
    p.add_argument("--methods", nargs="+", default=None, help="override the config's methods")
    p.add_argument("--threshold-mode", default=None, choices=("nested", "fixed"), help="override the config's mode")
    p.add_argument("--threads", type=at_least(1), default=None, help="torch threads (default: the config's)")
    p.add_argument("--device", default=None, choices=("auto", "cpu", "cuda"),
                   help="where the classifiers and baselines run (default: the config's, auto)")


def run(args: argparse.Namespace) -> int:
    from workbench.protocol import load_protocol_config, run_protocol

    cfg = load_protocol_config(args.config, output=args.out, methods=tuple(args.methods) if args.methods else None,
                                  threshold_mode=args.threshold_mode, threads=args.threads, device=args.device)
    result = run_protocol(cfg)
    print((result.out_dir / "summary.md").read_text())
    print(f"study written to {result.out_dir} ({len(result.computed)} fold x method pairs computed, "
          f"the rest from the cache)")
    return 0
