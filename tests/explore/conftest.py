"""A tiny run built once per session: a 4-subject synthetic cohort and untrained test-tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> dict[str, Path]:
    """{'run': training-run folder (binary), 'demo': demo-like folder, 'manifest', 'root'}."""
    from workbench.data.manifest import build_manifest, write_manifest
    from workbench.data.synth import write_cohort
    from workbench.models import create_model, save_model

    base = tmp_path_factory.mktemp("tiny_run")
    root = write_cohort(base / "cohort", subjects=4, seed=3, size=48, n_slices=4, p_ich=1.0)
    frame, _ = build_manifest("synthetic", root, n_folds=2, seed=0)
    manifest = write_manifest(frame, base / "manifest.csv")
    torch.manual_seed(0)
    for task in ("binary", "multilabel"):
        save_model(create_model("test-tiny", task=task), base / "models" / task / "best")
    run = base / "models" / "binary"
    (run / "run.json").write_text(json.dumps({"manifest": str(manifest), "root": str(root)}))
    (base / "demo.json").write_text(json.dumps({
        "eval": {"manifest": "manifest.csv", "root": str(root.relative_to(base))},
        "models": {"binary": "models/binary", "multilabel": "models/multilabel"}}))
    return {"run": run, "demo": base, "manifest": manifest, "root": root}
