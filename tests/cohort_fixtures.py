"""Session fixtures of the protocol / explain-export tests (a plugin of tests/conftest.py): a tiny synthetic cohort (9 subjects x 6 slices at
48 px, 3 subject-wise folds) and randomly initialised ``test-tiny`` classifiers (32 px), saved as checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def study_cohort(tmp_path_factory) -> tuple[Path, Path]:
    """(manifest CSV, data root) of the evaluation cohort."""
    from workbench.data.manifest import build_manifest, write_manifest
    from workbench.data.synth import write_cohort

    out = tmp_path_factory.mktemp("study_cohort")
    root = write_cohort(out, subjects=9, seed=3, size=48, n_slices=6, p_ich=0.8)
    write_manifest(build_manifest("synthetic", root, n_folds=3)[0], out / "manifest.csv")
    return out / "manifest.csv", root


@pytest.fixture(scope="session")
def study_classifiers(tmp_path_factory) -> dict[str, Path]:
    """{task: checkpoint stem} of random test-tiny classifiers (binary and multilabel)."""
    from workbench.models import create_model, save_model

    out = tmp_path_factory.mktemp("study_classifiers")
    torch.manual_seed(0)
    stems = {"binary": out / "binary" / "best", "multilabel": out / "multilabel" / "best"}
    for task, stem in stems.items():
        save_model(create_model("test-tiny", task=task), stem)
    return stems
