"""Screenshot of the live explorer for docs/ (not collected by default: run by docs/screenshots.py).

Environment: ``SHOT_RUN_DIR`` (a demo folder), ``SHOT_PNG`` (output path).
"""

from __future__ import annotations

import os
from pathlib import Path

from notebook_helpers import explorer_copy
from live_lab import LabNotebook


def test_shoot_explorer(lab_server, browser, tmp_path):
    run_dir, png = os.environ["SHOT_RUN_DIR"], Path(os.environ["SHOT_PNG"])
    folder = explorer_copy(tmp_path / "notebooks", run_dir).parent
    page = browser.new_page(viewport={"width": 1500, "height": 1250})
    try:
        lab = LabNotebook(page, lab_server(folder), "01_explore.ipynb", timeout_ms=300_000)
        page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
        lab.run_all()
        lab.slider_changes_figure(slider=1, figure=0)  # one step along the slice slider, as a user would
        page.locator(".jp-OutputArea-output .widget-vbox").first.scroll_into_view_if_needed()
        page.wait_for_timeout(1500)
        png.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(png))
    finally:
        page.close()
