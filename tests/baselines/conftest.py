"""Fixtures of the baseline tests: one torch thread (faster than two on a shared 2-core machine) and a
tiny synthetic PhysioNet cohort (6 subjects x 8 slices at 48 px, 3 subject-wise folds)."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def cohort(tmp_path_factory):
    """(manifest CSV path, data root) of the synthetic cohort."""
    from workbench.data.manifest import build_manifest, write_manifest
    from workbench.data.synth import write_cohort

    out = tmp_path_factory.mktemp("baseline_cohort")
    write_cohort(out, subjects=6, seed=3, size=48, n_slices=8)
    frame = build_manifest("synthetic", out / "physionet", n_folds=3)[0]
    manifest = out / "manifest.csv"
    write_manifest(frame, manifest)
    return manifest, out / "physionet"


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("WORKBENCH_PROGRESS", "0")
