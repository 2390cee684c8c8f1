"""Find what a notebook works on: a model checkpoint, a manifest and its data root.

``resolve_run(RUN_DIR)`` accepts

- a demo folder (``workbench demo`` output, with ``demo.json``): its ``model`` (``binary`` or
  ``multilabel``) and its evaluation cohort;
- a training run folder (``workbench train --out``, with ``best.json`` and ``run.json``): that model
  and, unless given, the manifest / root it was trained on;

and any explicit ``model`` / ``manifest`` / ``root`` overrides (paths relative to the current
directory). Errors name the folder and what was expected in it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


from workbench.models.reference import resolve_stem
from workbench.utils.errors import choice_error

__all__ = ["DEMO_FILE", "RunPaths", "resolve_run", "load_run"]

DEMO_FILE = "demo.json"


@dataclass(frozen=True)
class RunPaths:
    """Resolved inputs: checkpoint (a folder with best.* or a stem), manifest CSV, data root."""

    model: Path
    manifest: Path
    root: Path


def _demo_paths(run_dir: Path, model: str) -> tuple[Path, Path, Path]:
    info = json.loads((run_dir / DEMO_FILE).read_text())
    models = info.get("models", {})
    if model in models:
        checkpoint = run_dir / models[model]
    elif model:
        checkpoint = resolve_stem(model)
        if not (checkpoint.exists() or checkpoint.with_suffix(".json").exists()):
            raise ValueError(f"unknown model {model!r} for demo {run_dir}; valid choices: "
                             f"{', '.join(models) or '(no model trained yet)'} or a checkpoint path")
    else:
        raise choice_error("model", model, models, f" for demo {run_dir}")
    data = info["eval"]
    return checkpoint, run_dir / data["manifest"], run_dir / data["root"]


def resolve_run(run_dir: str | os.PathLike = "", model: str = "binary", manifest: str | os.PathLike = "",
                root: str | os.PathLike = "") -> RunPaths:
    """Checkpoint, manifest and root for a notebook (see the module docstring); "" = not given."""
    run = Path(run_dir) if str(run_dir) else None
    checkpoint: Path | None = None
    found_manifest = found_root = None
    if run is not None:
        if not run.is_dir():
            raise FileNotFoundError(f"run folder {run} does not exist (run `make demo`, or point RUN_DIR at a "
                                    f"`workbench demo` output or a `workbench train` run folder)")
        if (run / DEMO_FILE).is_file():
            checkpoint, found_manifest, found_root = _demo_paths(run, model)
        elif (run / "best.json").is_file():
            checkpoint = run
            if (run / "run.json").is_file():
                info = json.loads((run / "run.json").read_text())
                found_manifest, found_root = Path(info["manifest"]), Path(info["root"])
        else:
            raise FileNotFoundError(f"{run} is neither a demo folder ({DEMO_FILE}) nor a training run (best.json)")
    elif model:
        checkpoint = resolve_stem(model)  # a path, or a shipped reference name ("reference-binary")
    if checkpoint is None or not (checkpoint / "best.json").is_file() and not checkpoint.with_suffix(".json").is_file():
        raise FileNotFoundError(f"no checkpoint at {checkpoint} (expected best.json + best.safetensors)")
    manifest_path = Path(manifest) if str(manifest) else found_manifest
    root_path = Path(root) if str(root) else found_root
    if manifest_path is None or root_path is None:
        raise ValueError(f"no manifest / root known for {run_dir or model!r}: pass MANIFEST and DATA_ROOT")
    if not manifest_path.is_file():
        raise FileNotFoundError(f"manifest {manifest_path} does not exist")
    return RunPaths(checkpoint, manifest_path, root_path)


def load_run(run_dir: str | os.PathLike = "", model: str = "binary", manifest: str | os.PathLike = "",
             root: str | os.PathLike = "", brain_mask: bool = True):
    """(model in eval mode, SliceDataset of the run's cohort at the model's input size, windows and mask)."""
    from workbench.data.dataset import SliceDataset
    from workbench.models import load_model

    paths = resolve_run(run_dir, model, manifest, root)
    net = load_model(paths.model)
    cfg = net.workbench_config
    return net, SliceDataset(paths.manifest, paths.root, size=cfg.arch.img_size, brain_mask=brain_mask,
                             **cfg.input_kwargs())
