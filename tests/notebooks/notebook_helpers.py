"""Helpers of the notebook tests: the tiny demo (built once per session: every notebook executed by
papermill through the demo's studies), the ``workbench`` CLI, an explorer copy for JupyterLab.

A uniquely named module (not ``conftest``), so test files import it unambiguously."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"


def workbench(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the ``workbench`` CLI of this environment; raises with its output when it fails."""
    exe = Path(sys.executable).with_name("workbench")
    env = dict(os.environ, WORKBENCH_PROGRESS="0")
    r = subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"workbench {' '.join(args)} exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory) -> Path:
    """``workbench demo --tiny`` output folder (about a minute on 2 idle cores)."""
    base = tmp_path_factory.mktemp("demo")
    workbench("demo", "--tiny", "--out", str(base / "demo"), cwd=base)
    return base / "demo"


def explorer_copy(folder: Path, run_dir: Path | str) -> Path:
    """``folder/01_explore.ipynb``: the explorer with ``RUN_DIR`` pointing at ``run_dir`` (what a user
    edits in the parameters cell), for serving with JupyterLab."""
    from workbench.reports.lab import explorer_notebook

    return explorer_notebook(NOTEBOOKS / "01_explore.ipynb", folder, run_dir)
