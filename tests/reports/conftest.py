"""Executed fixture notebooks shared by the report tests (run once per session)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks"


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: needs Debian's chromium (/usr/bin/chromium); Playwright for the live tests")


@pytest.fixture(scope="session")
def executed(tmp_path_factory) -> dict[str, Path]:
    """{'tiny': ..., 'explorer': ...}: the fixture notebooks executed by papermill, side by side."""
    from workbench.studies import run_notebook

    root = tmp_path_factory.mktemp("executed")
    jobs = {"tiny": ("tiny_study.ipynb", {"SCALE": 2.0, "N_POINTS": 4, "LABEL": "report"}),
            "explorer": ("explorer.ipynb", {"POWER": 3})}
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {k: pool.submit(run_notebook, FIXTURES / name, root / name, params) for k, (name, params) in jobs.items()}
        return {k: f.result() for k, f in futures.items()}
