"""A 2.5D input from scratch: the shipped recipe with the slices 5 mm below and above as channels (issue 13).

``reference-<task>-2.5d`` is the shipped recipe (``reference-<task>``: same stream, seed, schedule,
256 px through a stride-8 convolutional stem, validation and held-out cohorts) with one change, the
input: the windows of the neighbouring slices stacked with the slice's own (9 channels; module
docstring of :mod:`workbench.data.dataset`). Both runs draw the same training subjects in the same
order, so their learning curves differ by the input alone (and by the run-to-run noise of one seed).

Why: the scan-context head (``bench/bench_context.py``), which reads the neighbouring slices' *logits*,
is the one large gain measured so far (+0.049 held-out AUC on 200 subjects). A bleed spans slices while
the image noise does not, so the neighbours' *pixels* may tell a faint or small bleed from noise where
the slice alone cannot. A fine-tune from the shipped weights (``bench/bench_finetune.py --variants
adjacent``: neighbours' weights start at zero) left them near zero, so the input is trained from scratch.

Reported: held-out ROC-AUC every 400 steps beside the shipped run's (its provenance's learning curve),
and the best checkpoint's held-out strata by lesion size and contrast beside the shipped classifier's.
The paired comparison on 200 held-out subjects is ``bench/bench_heldout_ci.py --subjects 200
--checkpoint 2.5d=runs/reference-binary-2.5d/best``.

Run: ``.venv/bin/python bench/bench_adjacent.py`` (the recipe's 8,000 steps: ~2 h on 2 cores; resumes;
the same as ``workbench train --recipe reference-binary-2.5d --out runs/reference-binary-2.5d``);
``--report-only`` renders ``bench/results/adjacent_<task>.md`` from the run folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from common import RESULTS, plot_curves, table, write_result
from workbench.models.reference import provenance
from workbench.training.recipes import run_recipe

ROOT = Path(__file__).resolve().parents[1]
STRATA = (("by_source_px", "1-24"), ("by_source_px", "25-99"), ("by_source_px", ">=100"), ("by_contrast", "<5 HU"),
          ("by_contrast", "5-15 HU"), ("by_contrast", ">=15 HU"), ("by_contrast", "<15 HU, >=100 px"))


def curve_rows(shipped: pd.DataFrame, stacked: pd.DataFrame) -> list[list[str]]:
    """One row per step of the 2.5D run: validation and held-out AUC of both runs at that step."""
    by_step = shipped.set_index("step")
    rows = []
    for _, r in stacked.iterrows():
        step = int(r["step"])
        s = by_step.loc[step] if step in by_step.index else None
        theirs = [f"{s['val_auc']:.3f}", f"{s['heldout_auc']:.3f}"] if s is not None else ["", ""]
        diff = f"{r['heldout_auc'] - s['heldout_auc']:+.3f}" if s is not None else ""
        rows.append([f"{step:,}", *theirs, f"{r['val_auc']:.3f}", f"**{r['heldout_auc']:.3f}**", diff])
    return rows


def strata_row(label: str, record: dict) -> list[str]:
    """Best checkpoint's held-out AUC on all slices and by stratum (``heldout`` of a run record)."""
    h = record["heldout"]
    return [label, f"{record.get('best_step') or ''}", f"**{h['auc_any']:.3f}**",
            *(f"{h[kind][key]['auc']:.3f}" for kind, key in STRATA)]


def render(task: str, run: Path) -> Path:
    name = f"reference-{task}"
    if not (run / "heldout.csv").is_file():
        raise SystemExit(f"bench_adjacent.py: {run}: no heldout.csv yet (the run has not finished an epoch); "
                         "run without --report-only to train it")
    shipped = provenance(name)
    curves = {f"{name} (shipped, slice alone)": pd.DataFrame(shipped["learning_curve"]),
              f"{name}-2.5d": pd.read_csv(run / "heldout.csv")}
    png = plot_curves(curves, RESULTS / f"adjacent_{task}.png")
    shipped_curve, stacked_curve = curves.values()
    body = [f"The shipped recipe `{name}` and `{name}-2.5d`, the same recipe with the slices 5 mm below and above "
            "as 6 more input channels, trained from scratch on the same stream subjects in the same order "
            "(module docstring of `bench/bench_adjacent.py`). Held-out cohort: seed 9200, 40 subjects; validation "
            "seed 9100, 30 subjects; one seed each.", "",
            f"![held-out ROC-AUC, shipped vs 2.5D]({png.name})", "",
            table(["step", "shipped: validation", "shipped: held-out", "2.5D: validation", "2.5D: held-out",
                   "held-out, 2.5D - shipped"], curve_rows(shipped_curve, stacked_curve))]
    record_path = run / "reference.json"
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        m = record["machine"]
        body += ["", f"Best checkpoint by validation AUC (held-out strata at the 256 px source, every negative kept "
                 f"in each). The 2.5D run: {record['steps']:,} steps in {record['train_seconds'] / 3600:.2f} h on "
                 f"{m['cpu']} ({m['cores']} cores, {m['torch_threads']} torch threads, {record['precision']}; wall "
                 "time, not a speed measurement); the shipped run: its provenance.", "",
                 table(["classifier", "best step", "all slices", "1-24 px", "25-99 px", ">= 100 px", "< 5 HU",
                        "5-15 HU", ">= 15 HU", "< 15 HU, >= 100 px"],
                       [strata_row(f"`{name}` (shipped)", shipped), strata_row(f"`{name}-2.5d`", record)])]
    else:
        body += ["", f"The run has not finished: {len(stacked_curve)} of its epochs so far."]
    return write_result(f"adjacent_{task}", f"A 2.5D input from scratch: `{name}-2.5d` against the shipped "
                        f"`{name}`", "\n".join(body))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="binary", choices=("binary", "multilabel"))
    p.add_argument("--out", default="", help="run folder (default runs/reference-<task>-2.5d)")
    p.add_argument("--data-dir", default=str(ROOT / "runs" / "reference_data"))
    p.add_argument("--report-only", action="store_true")
    args = p.parse_args(argv)
    run = Path(args.out or ROOT / "runs" / f"reference-{args.task}-2.5d")
    if not args.report_only:
        run_recipe(f"reference-{args.task}-2.5d", run, args.data_dir, resume=(run / "run.json").is_file(),
                   command=f"workbench train --recipe reference-{args.task}-2.5d --out {run}")
    print(render(args.task, run).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
