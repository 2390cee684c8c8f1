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


def plot_curves(curves: dict, path: Path, xlabel: str = "optimizer step (batch 32)", marks: Sequence[tuple[float, str]] = (),
                legend: str = "lower right") -> Path:
    """Held-out ROC-AUC curves, all slices (solid) and bleeds >= 100 px (dashed), to a PNG.

    curves: label -> frame with columns ``step``, ``heldout_auc``, ``heldout_auc_ge100px``; marks:
    (x, text) vertical lines (e.g. where a fine-tune restarts the learning rate); legend: its matplotlib location."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
    for label, frame in curves.items():
        (line,) = ax.plot(frame["step"], frame["heldout_auc"], marker="o", ms=3, label=f"{label}: all slices")
        ax.plot(frame["step"], frame["heldout_auc_ge100px"], ls="--", lw=1, color=line.get_color(),
                label=f"{label}: bleeds >= 100 px")
    for x, text in marks:
        ax.axvline(x, color="grey", lw=0.8, ls="-.")
        ax.text(x, 0.47, f" {text}", fontsize=7, color="dimgrey", rotation=90, va="bottom", ha="right")
    ax.axhline(0.95, color="grey", lw=0.8, ls=":")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("held-out ROC-AUC (seed 9200, 40 subjects)")
    ax.set_ylim(0.45, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc=legend)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
