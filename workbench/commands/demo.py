"""``workbench demo``: the whole workbench end to end on synthetic data (what ``make demo`` runs).

Steps (each skipped when it finished before with the same settings, so an interrupted demo
resumes): two synthetic cohorts and their manifests, the binary and multilabel classifiers, the
comparison study of the methods, the notebook studies (papermill) and the offline HTML reports.
Output layout: :mod:`workbench.demo.steps`.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from workbench.utils.cli_types import at_least

NAME = "demo"
HELP = "Run the main job end to end on synthetic data: cohorts, classifiers, studies, HTML reports (make demo)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    from workbench.demo import STEPS, DemoSettings
    from workbench.training.precision import PRECISIONS

    d = DemoSettings()
    p.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    p.add_argument("--until", default=STEPS[-1], choices=STEPS, help="last step to run (default: all)")
    p.add_argument("--tiny", action="store_true", help="tiny sizes everywhere, classifiers trained (tests; about a minute)")
    p.add_argument("--train", action="store_true",
                   help="train both classifiers from scratch on a synthetic training cohort instead of explaining the "
                        "shipped reference classifiers (within the demo's minutes they learn the bleed only a little: "
                        "validation ROC-AUC ~0.6-0.7)")
    p.add_argument("--subjects", type=at_least(2), default=None, help=f"evaluation subjects (default {d.subjects})")
    p.add_argument("--train-subjects", type=at_least(2), default=None, help=f"training subjects (default {d.train_subjects})")
    p.add_argument("--size", type=at_least(16), default=None, help=f"evaluation slice size in px (default {d.size})")
    p.add_argument("--train-size", type=at_least(16), default=None, help=f"training slice size in px (default {d.train_size})")
    p.add_argument("--slices", type=at_least(1), default=None, help=f"slices per subject (default {d.slices})")
    p.add_argument("--seed", type=int, default=None, help=f"seed of the evaluation cohort; training uses seed + 1 "
                                                           f"(default {d.seed})")
    p.add_argument("--folds", type=at_least(2), default=None, help=f"subject-wise folds (default {d.folds})")
    p.add_argument("--preset", default=None, help=f"classifier preset (default {d.preset})")
    p.add_argument("--epochs", type=at_least(1), default=None, help=f"training epochs (default {d.epochs})")
    p.add_argument("--warmup-steps", type=at_least(0), default=None, help=f"training warm-up steps (default {d.warmup_steps})")
    p.add_argument("--max-steps", type=at_least(0), default=None, help="stop training after this many steps (0: no limit)")
    p.add_argument("--precision", default=None, choices=PRECISIONS,
                   help=f"training precision (default {d.precision}: bf16 where the CPU runs it natively)")
    p.add_argument("--baselines", default=None,
                   help=f"supervised baselines of the comparison, comma-separated (default {d.baselines!r}; '' = none)")
    p.add_argument("--baseline-epochs", type=at_least(1), default=None, help=f"baseline epochs per fold (default {d.baseline_epochs})")
    p.add_argument("--max-slices", type=at_least(0), default=None, help="lesion slices per study notebook (0: all)")
    p.add_argument("--workers", type=at_least(1), default=None, help=f"parallel notebook runs (default {d.workers})")


def run(args: argparse.Namespace) -> int:
    from workbench.demo import TINY, DemoSettings, run_demo
    from workbench.models.state_files import OFFLINE_ENV

    os.environ.setdefault(OFFLINE_ENV, "1")  # the demo never downloads weights (nor do its notebook kernels)

    base = TINY if args.tiny else DemoSettings()
    settings = base.updated(classifiers="train" if args.train else None, subjects=args.subjects, train_subjects=args.train_subjects, size=args.size,
                            train_size=args.train_size, slices=args.slices, seed=args.seed, folds=args.folds,
                            preset=args.preset, epochs=args.epochs, warmup_steps=args.warmup_steps, max_steps=args.max_steps,
                            precision=args.precision, baselines=args.baselines, baseline_epochs=args.baseline_epochs,
                            max_slices=args.max_slices, workers=args.workers)
    t0 = time.perf_counter()
    state = run_demo(args.out, settings, until=args.until)
    out = Path(args.out).resolve()
    ev = state.get("eval", {})
    print(f"demo finished in {time.perf_counter() - t0:.0f} s (steps up to {args.until!r}) -> {out}")
    if ev:
        print(f"  evaluation cohort: {ev['slices']} slices, {ev['ich_slices']} with ICH\n"
              f"  manifest:  {out / ev['manifest']}\n  data root: {out / ev['root']}")
    for task, folder in state.get("models", {}).items():
        ref = state.get("reference", {}).get(task) if settings.classifiers == "reference" else None
        print(f"  {task} classifier: {out / folder}" + (f"  ({ref['name']}, held-out ROC-AUC {ref['heldout_auc']:.3f})"
                                                      if ref else "  (trained here)"))
    if "report" in state:
        print(f"  reports:   {out / state['report']}  (open in a browser; works offline)")
    print("  explorer:  jupyter lab notebooks/01_explore.ipynb  (RUN_DIR points at this folder)")
    return 0
