"""The demo's comparison study of the methods (:func:`workbench.protocol.run.run_protocol`).

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
    from workbench.models.checkpoint import load_model
    from workbench.protocol import WEAK_METHODS, ProtocolConfig, run_protocol

    models = state["models"]
    size = load_model(out / models["binary"]).workbench_config.arch.img_size
    baselines = tuple(b for b in settings.baselines.split(",") if b)
    config = ProtocolConfig(manifest=str(out / state["eval"]["manifest"]), root=str(out / state["eval"]["root"]),
                            output=str(out / "evaluation"), binary_checkpoint=str(out / models["binary"]),
                            multilabel_checkpoint=str(out / models["multilabel"]),
                            methods=tuple(WEAK_METHODS) + baselines, size=size,
                            baseline_epochs=settings.baseline_epochs, baseline_patience=settings.baseline_epochs,
                            bootstrap_resamples=500, seed=settings.seed)
    result = run_protocol(config)
    print(f"  {len(result.summary)} rows in {out / 'evaluation' / 'summary.csv'}")
    return out / "evaluation"
