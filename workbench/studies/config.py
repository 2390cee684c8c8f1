"""Study configs: a notebook, an output folder, base parameters and a grid of parameter sets.

A study YAML (paths are relative to the YAML file's folder)::

    notebook: ../notebooks/02_compare_methods.ipynb
    output: ../runs/compare            # one folder per run under OUTPUT/runs/
    parameters: {SUBJECTS: 4}          # base values shared by every run
    grid:                              # cartesian product ...
      METHOD: [hgi_sam, swin_sam, gradcam]
      THRESHOLD: [0.3, 0.5]
    runs:                              # ... and / or an explicit list of parameter sets
      - {METHOD: rollout, THRESHOLD: 0.5}
    workers: 2                         # local processes (``--workers`` overrides)
    timeout: 1800                      # seconds per cell (optional)
    kernel: python3                    # optional; default: the notebook's kernel
    cwd: ..                            # optional kernel working directory; default: the run folder

Every parameter name must exist in the notebook's ``parameters`` cell; the error lists the valid
ones. Run ids are stable: a slug of the run's own values plus a hash of all its parameters.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from workbench.studies.parameters import check_parameters
from workbench.utils.config import JsonConfig, plain
from workbench.utils.errors import DataError
from workbench.utils.io import read_yaml

__all__ = ["StudyConfig", "RunSpec", "load_study", "expand_runs", "run_id_for"]

_KEYS = ("name", "notebook", "output", "parameters", "grid", "runs", "workers", "timeout", "kernel", "cwd")


@dataclass(frozen=True)
class StudyConfig(JsonConfig):
    """A study: which notebook, where its runs go, and the parameter sets to run.

    :meth:`to_dict` gives plain values (paths as strings, lists); :meth:`load` reads a study YAML
    (:func:`load_study`, paths relative to its folder).
    """

    name: str
    notebook: Path
    output: Path
    parameters: Mapping[str, Any] = field(default_factory=dict)
    grid: Mapping[str, tuple] = field(default_factory=dict)
    runs: tuple[Mapping[str, Any], ...] = ()
    workers: int = 2
    timeout: float | None = None
    kernel: str | None = None
    cwd: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return plain(super().to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "StudyConfig":
        return load_study(path)


@dataclass(frozen=True)
class RunSpec:
    """One run of a study: its stable id and the parameters it gets (base values included)."""

    run_id: str
    parameters: Mapping[str, Any]


def load_study(path: str | os.PathLike, output: str | os.PathLike | None = None) -> StudyConfig:
    """Read a study YAML (see module docstring); ``output`` overrides its output folder."""
    path = Path(path)
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise DataError(path, f"a study config must be a mapping of keys; valid keys: {', '.join(_KEYS)}")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise DataError(path, f"unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(_KEYS)}")
    for key in ("notebook", "output"):
        if key not in raw and not (key == "output" and output is not None):
            raise DataError(path, f"missing required key {key!r}")
    here = path.parent
    grid = raw.get("grid") or {}
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise DataError(path, "'grid' must map parameter names to non-empty lists of values")
    runs = raw.get("runs") or []
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise DataError(path, "'runs' must be a list of mappings (parameter name -> value)")
    config = StudyConfig(
        name=str(raw.get("name") or path.stem),
        notebook=(here / raw["notebook"]).resolve(),
        output=Path(output).resolve() if output is not None else (here / raw["output"]).resolve(),
        parameters=dict(raw.get("parameters") or {}),
        grid={str(k): tuple(v) for k, v in grid.items()},
        runs=tuple(dict(r) for r in runs),
        workers=int(raw.get("workers", 2)),
        timeout=None if raw.get("timeout") is None else float(raw["timeout"]),
        kernel=raw.get("kernel"),
        cwd=None if raw.get("cwd") is None else (here / raw["cwd"]).resolve(),
    )
    if not config.notebook.is_file():
        raise DataError(path, f"notebook {config.notebook} does not exist")
    return config


def run_id_for(own: Mapping[str, Any], parameters: Mapping[str, Any]) -> str:
    """Stable id: a readable slug of the run's own values plus a hash of all its parameters."""
    slug = "_".join(f"{k}-{v}" for k, v in sorted(own.items())).lower()
    slug = re.sub(r"[^a-z0-9.\-_]+", "", slug)[:48].strip("_-.") or "base"
    digest = hashlib.sha1(json.dumps(dict(parameters), sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


def expand_runs(config: StudyConfig) -> list[RunSpec]:
    """The study's runs: the grid's cartesian product, then the explicit list (duplicates dropped).

    With neither a grid nor a list, the study is one run with the base parameters. Every name is
    checked against the notebook's parameters cell.
    """
    own_sets: list[dict[str, Any]] = []
    if config.grid:
        names = list(config.grid)
        own_sets += [dict(zip(names, values)) for values in itertools.product(*config.grid.values())]
    own_sets += [dict(r) for r in config.runs]
    if not own_sets:
        own_sets = [{}]
    specs: dict[str, RunSpec] = {}
    for own in own_sets:
        parameters = {**config.parameters, **own}
        check_parameters(config.notebook, parameters)
        run_id = run_id_for(own, parameters)
        specs.setdefault(run_id, RunSpec(run_id, parameters))
    return list(specs.values())
