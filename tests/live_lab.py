"""Browser test fixtures: headless Chromium via Playwright, and a JupyterLab server to drive.

- ``browser`` fixture: Debian's ``/usr/bin/chromium`` launched by Playwright (its wheel carries the
  driver; ``playwright install`` is never needed). Skips with the reason when either is missing.
- ``lab_server`` fixture: a factory ``lab_server(folder) -> LabServer`` (see
  :func:`workbench.reports.lab.start_lab`), stopped after the test.
- :class:`LabNotebook` (from :mod:`workbench.reports.lab`): open a notebook, run all cells, press keys
  on a slider, read the plotly figure's text.

The fixtures are registered for every test by ``pytest_plugins = ["live_lab"]`` in tests/conftest.py. Seen: ~20 s per
live test on 2 cores.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from workbench.reports.browser import find_chromium
from workbench.reports.lab import LabNotebook, LabServer, chromium_browser, start_lab, stop_lab

__all__ = ["LabNotebook", "LabServer", "lab_server", "browser"]


@pytest.fixture
def lab_server(tmp_path_factory) -> Iterator:
    """Factory fixture: ``lab_server(folder)`` serves a temporary copy of ``folder`` with JupyterLab."""
    procs = []

    def start(folder) -> LabServer:
        server, proc = start_lab(folder, tmp_path_factory.mktemp("lab"))
        procs.append(proc)
        return server

    yield start
    for proc in procs:
        stop_lab(proc)


@pytest.fixture(scope="session")
def browser():
    """Playwright's Chromium API on Debian's chromium; skipped when either is missing."""
    if find_chromium() is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")
    with chromium_browser() as b:
        yield b
