"""Shared helpers of the benchmark scripts: machine description and markdown tables."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    """One line describing where the numbers were measured (CPU model, cores, native bf16, load, torch threads)."""
    import torch

    from workbench.training.recipes import machine_description

    cpu = machine_description(torch.device("cpu"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu['cpu']}, {os.cpu_count()} cores ({'native bf16' if cpu['cpu_native_bf16'] else 'no native bf16'}), "
        f"load {load:.2f} at start, torch {torch.__version__} ({torch.get_num_threads()} threads), {time.strftime('%Y-%m-%d')}"
    )


def table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, title: str, body: str) -> Path:
    """Write ``bench/results/NAME.md`` atomically with a title and the machine line."""
    from workbench.utils.io import write_text_atomic

    text = f"## {title}\n\nMeasured on: {machine()}\n\n{body.strip()}\n"
    return write_text_atomic(RESULTS / f"{name}.md", text)
