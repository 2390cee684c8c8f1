"""The demo's settings: one frozen dataclass, saved in ``demo.json`` next to what it produced."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from workbench.utils.config import JsonConfig
from workbench.utils.errors import check_choice

__all__ = ["CLASSIFIER_SOURCES", "DemoSettings", "TINY", "step_settings"]

CLASSIFIER_SOURCES: tuple[str, ...] = ("reference", "train")
"""``reference``: explain the shipped reference classifiers (no training); ``train``: train both from
scratch on the demo's training cohort within the demo's budget (``workbench demo --train``)."""


@dataclass(frozen=True)
class DemoSettings(JsonConfig):
    """Sizes of the two synthetic cohorts, of the classifiers' training and of the studies.

    ``classifiers`` (:data:`CLASSIFIER_SOURCES`): ``reference`` (the default) explains the shipped
    reference classifiers (:mod:`workbench.models.reference`) and skips the training cohort and the
    training step; ``train`` trains both classifiers here, with the settings below. Training from scratch needs a few hundred steps with a short warm-up before a Swin learns
    (docs/guide/training.md): ``epochs`` x ~12 class-balanced steps, ``warmup_steps`` 30, and no early
    stop within that budget (``patience`` = ``epochs``); the best checkpoint is the epoch with the
    highest validation ROC-AUC (``monitor``; the validation loss of class-balanced training moves with
    calibration, and its minimum fell within warm-up in the benchmarks); ``precision`` ``auto`` trains
    in bf16 autocast where the CPU runs it natively (1.7x faster here), fp32 elsewhere. The evaluation cohort (masks,
    subject-wise folds) plays PhysioNet CT-ICH; the training cohort, another seed, plays RSNA (the classifiers never see an evaluation subject, as in the paper).
    ``baselines``: comma-separated fully supervised baselines of the comparison study (unet,
    swin_unetr; "" = none, the default: a U-Net needs ~30 epochs per fold, beyond the demo's
    15-minute budget), trained per fold for ``baseline_epochs``. ``max_slices`` caps the lesion
    slices each study notebook scores (0 = all); ``study_runs`` > 0 keeps only the first runs of
    each study grid (tests).
    """

    classifiers: str = "reference"
    subjects: int = 20
    train_subjects: int = 40
    size: int = 256
    train_size: int = 160
    slices: int = 24
    seed: int = 0
    folds: int = 5
    preset: str = "cpu-small"
    epochs: int = 25
    warmup_steps: int = 30
    max_steps: int = 0
    batch_size: int = 32
    patience: int = 25
    monitor: str = "val_auc"
    precision: str = "auto"
    baselines: str = ""
    baseline_epochs: int = 30
    max_slices: int = 0
    study_runs: int = 0
    workers: int = 2

    def __post_init__(self):
        check_choice("classifiers", self.classifiers, CLASSIFIER_SOURCES)

    def updated(self, **changes: Any) -> "DemoSettings":
        """A copy with ``changes`` applied (None values ignored); unknown names are an error."""
        valid = {f.name for f in fields(self)}
        for key in sorted(changes):
            check_choice("demo setting", key, sorted(valid))
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# What the tests (and `workbench demo --tiny`) run: the whole chain in about a minute.
TINY = DemoSettings(classifiers="train", subjects=6, train_subjects=6, size=64, train_size=64, slices=6, folds=3, preset="test-tiny",
                    epochs=1, warmup_steps=1, max_steps=2, batch_size=8, patience=1, baselines="", baseline_epochs=1, max_slices=6,
                    study_runs=1, workers=2)

# Which settings each step depends on: a finished step is redone only when these change.
_STEP_KEYS = {
    "data": ("classifiers", "subjects", "train_subjects", "size", "train_size", "slices", "seed", "folds"),
    "train": ("preset", "epochs", "warmup_steps", "max_steps", "batch_size", "patience", "monitor", "precision", "seed"),
    "evaluate": ("baselines", "baseline_epochs"),
    "studies": ("max_slices", "study_runs"),
    "reports": (),
}


def step_settings(step: str, settings: DemoSettings) -> dict[str, Any]:
    """The settings ``step`` depends on, itself and upstream (a change upstream redoes it)."""
    order = list(_STEP_KEYS)
    keys: list[str] = []
    for name in order[: order.index(step) + 1]:
        keys += _STEP_KEYS[name]
    d = settings.to_dict()
    return {k: d[k] for k in dict.fromkeys(keys)}
