"""The live explorer in a real browser: JupyterLab + Playwright on Debian's chromium."""

from __future__ import annotations

import pytest

from notebook_helpers import explorer_copy
from live_lab import LabNotebook
from workbench.reports.browser import find_chromium

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (apt-get install chromium)")]


def test_slice_slider_redraws_the_explorer(tiny_demo, lab_server, browser, tmp_path):  # noqa: F811
    folder = explorer_copy(tmp_path / "notebooks", tiny_demo).parent
    server = lab_server(folder)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        lab = LabNotebook(page, server, "01_explore.ipynb", timeout_ms=120_000)
        lab.run_all()
        before, after = lab.slider_changes_figure(slider=1, figure=0)  # slider 0: subject, 1: slice
        assert "slice" in before and before != after
    finally:
        page.close()
