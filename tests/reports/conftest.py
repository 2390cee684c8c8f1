"""Executed fixture notebooks shared by the report tests (run once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks"


@pytest.fixture(scope="session")
def executed(tmp_path_factory) -> dict[str, Path]:
    """{'tiny': ..., 'explorer': ...}: the fixture notebooks executed by papermill (one after the other:
    papermill runs in threads of one process can hang)."""
    from workbench.studies import run_notebook

    root = tmp_path_factory.mktemp("executed")
    jobs = {"tiny": ("tiny_study.ipynb", {"SCALE": 2.0, "N_POINTS": 4, "LABEL": "report"}),
            "explorer": ("explorer.ipynb", {"POWER": 3})}
    return {k: run_notebook(FIXTURES / name, root / name, params) for k, (name, params) in jobs.items()}
