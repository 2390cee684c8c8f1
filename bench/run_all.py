"""Run every ``bench/bench_*.py`` and assemble ``BENCHMARKS.md`` from ``bench/results/*.md``.

Usage: ``python bench/run_all.py [NAME ...]`` (names without ``bench_`` / ``.py``; default all).
``python bench/run_all.py --assemble`` only rebuilds BENCHMARKS.md from the stored results.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ORDER = ["synth", "dataset", "ingest", "explain", "train", "engine", "engine_256px_s8", "device_reference", "context", "context_e2e", "finetune_binary", "finetune_binary_long", "finetune_binary_long2", "finetune_binary_lr3e-4", "finetune_multilabel", "adjacent_binary", "context_2p5d", "heldout_ci", "heldout_ci_n200", "recipe", "baselines", "evaluate", "evaluate_cranium", "own_method", "components", "gate_probability", "demo",
         "explorer"]


def _demote(md: str) -> str:
    """Shift a result file's headings so its top level becomes ``##`` (below the page title)."""
    levels = [len(line) - len(line.lstrip("#")) for line in md.splitlines() if line.startswith("#")]
    shift = 2 - min(levels) if levels else 0
    return "\n".join("#" * shift + line if line.startswith("#") else line for line in md.splitlines())


def assemble() -> Path:
    from workbench.utils.io import write_text_atomic

    parts = sorted((HERE / "results").glob("*.md"), key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else 99, p.stem))
    text = "# Benchmarks\n\nMeasured on this project's CI-class machine (2 cores, no GPU) by the scripts in `bench/`;\n"
    text += "re-run with `make bench`. Ratios are measured within one run.\n\n"
    text += "\n\n".join(_demote(p.read_text().strip()) for p in parts) + "\n"
    text = re.sub(r"(!\[[^\]]*\]\()([^)/]+\.png\))", r"\1bench/results/\2", text)  # images beside the results
    return write_text_atomic(ROOT / "BENCHMARKS.md", text)


def main(argv: list[str]) -> int:
    if argv != ["--assemble"]:
        names = argv or [p.stem[len("bench_"):] for p in sorted(HERE.glob("bench_*.py"))]
        for name in names:
            script = HERE / f"bench_{name}.py"
            print(f"== {script.name}", flush=True)
            subprocess.run([sys.executable, str(script)], check=True, cwd=ROOT)
    print(f"wrote {assemble()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
