"""Synthesis throughput (slices/s) at 256 and 512 px; writes bench/results/synth.md.

Usage: python bench/bench_synth.py [--subjects N] [--slices K]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from workbench.data.cranium import cranium_available
from workbench.data.synth import generate_subject
from workbench.utils.io import write_text_atomic

RESULTS = Path(__file__).parent / "results" / "synth.md"


def measure(background: str, size: int, subjects: int, slices: int) -> float:
    """Slices per second of generate_subject (one warm-up subject not counted)."""
    generate_subject(0, 0, size=size, n_slices=slices, background=background)
    start = time.perf_counter()
    for i in range(1, subjects + 1):
        generate_subject(i, 0, size=size, n_slices=slices, background=background)
    return subjects * slices / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--slices", type=int, default=24)
    args = parser.parse_args()
    backgrounds = ["procedural"] + (["cranium"] if cranium_available() else [])
    rows = []
    for background in backgrounds:
        for size in (256, 512):
            rate = measure(background, size, args.subjects, args.slices)
            rows.append(f"| {background} | {size} | {args.slices} | {rate:.1f} | {args.slices / rate:.2f} |")
            print(rows[-1], flush=True)
    text = "\n".join([
        "# Synthesis throughput",
        "",
        f"`python bench/bench_synth.py --subjects {args.subjects} --slices {args.slices}`: "
        f"{platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}, one process.",
        "",
        "| background | size (px) | slices/subject | slices/s | s/subject |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ])
    write_text_atomic(RESULTS, text)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
