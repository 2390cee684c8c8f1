"""Reports in headless Chromium with no network, and the live-notebook harness in JupyterLab."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from live_lab import LabNotebook
from workbench.reports import export_html
from workbench.reports.browser import can_unshare_network, dump_dom, find_chromium, screenshot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (apt-get install chromium)")]


@pytest.fixture(scope="module")
def report(executed, tmp_path_factory) -> Path:
    return export_html(executed["tiny"], tmp_path_factory.mktemp("report") / "tiny.html", no_input=True)


def test_report_screenshot_offline_is_not_blank(report, tmp_path):
    assert can_unshare_network(), "unshare -n is not available: the screenshot would not prove offline rendering"
    png = screenshot(report, tmp_path / "shot.png", window_size=(900, 900), offline=True)
    pixels = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert pixels.shape == (900, 900) and pixels.std() > 10  # text and a chart, not a blank page
    dom = dump_dom(report, offline=True)
    assert "js-plotly-plot" in dom and dom.count('class="main-svg"') >= 2  # plotly.js drew the figure


def test_report_makes_no_network_request(report, browser):  # noqa: F811
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri(), wait_until="load")
    page.wait_for_selector(".js-plotly-plot .main-svg")
    assert "report: y = 2.0 x^2" in (page.locator(".js-plotly-plot").text_content() or "")
    assert [u for u in requests if not u.startswith(("file:", "data:", "blob:"))] == []
    page.close()


def test_live_slider_redraws_plotly_figure(lab_server, browser):  # noqa: F811
    server = lab_server(FIXTURES)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        nb = LabNotebook(page, server, "explorer.ipynb")
        nb.run_all()
        before, after = nb.slider_changes_figure()
        assert "power 2" in before and "power 3" in after
    finally:
        page.close()


def test_a_report_folder_page_draws_with_the_shared_plotlyjs_offline(executed, tmp_path):
    import shutil

    from workbench.reports import build_reports

    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copy(executed["tiny"], runs / "tiny.ipynb")
    build_reports(runs, tmp_path / "out", no_input=True)
    dom = dump_dom(tmp_path / "out" / "tiny.html", offline=True)
    assert "js-plotly-plot" in dom and dom.count('class="main-svg"') >= 2  # plotly.js loaded from plotly.min.js
