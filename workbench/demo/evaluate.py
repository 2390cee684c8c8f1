"""The demo's comparison study of the methods (:func:`workbench.evaluation.study.run_study`).

Weak methods read the demo's two classifiers (trained on the training cohort); the fully
supervised baselines listed in ``settings.baselines`` are trained per test fold on the evaluation
cohort's masks, for at most ``settings.baseline_epochs`` epochs.
"""

from __future__ import annotations

from pathlib import Path

from workbench.demo.settings import DemoSettings

__all__ = ["evaluate_demo"]


def evaluate_demo(out: Path, state: dict, settings: DemoSettings) -> Path:
    """Run (or resume) the comparison study on the demo's evaluation cohort into ``OUT/evaluation``."""
    from workbench.evaluation.study import run_study
    from workbench.evaluation.study_config import WEAK_METHODS, StudyConfig
    from workbench.models.checkpoint import load_model

    models = state["models"]
    size = load_model(out / models["binary"]).workbench_config.arch.img_size
    baselines = tuple(b for b in settings.baselines.split(",") if b)
    config = StudyConfig(manifest=str(out / state["eval"]["manifest"]), root=str(out / state["eval"]["root"]),
                         output=str(out / "evaluation"), binary_checkpoint=str(out / models["binary"]),
                         multilabel_checkpoint=str(out / models["multilabel"]),
                         methods=tuple(WEAK_METHODS) + baselines, size=size, grid=(0.0, 1.0, 0.02),
                         baseline_epochs=settings.baseline_epochs, baseline_patience=settings.baseline_epochs,
                         bootstrap_resamples=500, seed=settings.seed)
    result = run_study(config)
    print(f"  {len(result.summary)} rows in {out / 'evaluation' / 'summary.csv'}")
    return out / "evaluation"
