"""Offline HTML export: plotly embedded once, nothing from a CDN, widgets inlined, streams coalesced."""

from __future__ import annotations

import re

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from workbench.reports import export_html
from workbench.reports.export import html_exporter
from workbench.reports.preprocessors import PLOTLY_MIMETYPE

REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=[\"']?(https?:)?//", re.I)
PLOTLYJS_BANNER = "plotly.js v"  # the licence banner at the top of the embedded bundle


def test_plotly_figure_embedded_offline(executed, tmp_path):
    html = export_html(executed["tiny"], tmp_path / "tiny.html").read_text()
    assert html.count('class="plotly-graph-div"') == 1 and html.count(PLOTLYJS_BANNER) == 1
    assert "report: y = 2.0 x^2" in html  # the figure's own JSON
    assert not REMOTE_SCRIPT.search(html), REMOTE_SCRIPT.search(html)
    assert "mathjax" not in html.lower().split("</head>")[0] and "require.min.js" not in html
    stderr = re.findall(r'data-mime-type="application/vnd.jupyter.stderr"[^>]*>\s*<pre>(.*?)</pre>', html, re.S)
    assert stderr == []  # the notebook's progress bar is off in a batch run: nothing pink in the report


def test_plotlyjs_only_with_the_first_figure():
    fig = {"data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}], "layout": {"title": {"text": "t"}}, "config": {}}
    nb = new_notebook(cells=[new_code_cell("f", outputs=[new_output("display_data", data={PLOTLY_MIMETYPE: fig})])
                             for _ in range(3)])
    body, _ = html_exporter().from_notebook_node(nb)
    assert body.count('class="plotly-graph-div"') == 3 and body.count(PLOTLYJS_BANNER) == 1


def test_no_input_hides_code(executed, tmp_path):
    with_code = export_html(executed["tiny"], tmp_path / "a.html").read_text()
    without = export_html(executed["tiny"], tmp_path / "b.html", no_input=True).read_text()
    assert "asked to fail" in with_code and "asked to fail" not in without  # the code cell
    assert 'class="plotly-graph-div"' in without


def test_output_widget_figure_is_inlined(executed, tmp_path):
    assert "widgets" in nbformat.read(executed["explorer"], as_version=4).metadata  # saved widget state
    html = export_html(executed["explorer"], tmp_path / "explorer.html").read_text()
    assert html.count('class="plotly-graph-div"') == 1 and "power 3" in html
    assert "widget-state+json" not in html and "widget-view+json" not in html
    assert not REMOTE_SCRIPT.search(html)


def test_a_truncated_notebook_is_listed_and_the_others_still_exported(executed, tmp_path):
    import shutil

    from workbench.reports import build_reports

    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copy(executed["tiny"], runs / "good.ipynb")
    data = executed["tiny"].read_bytes()
    (runs / "killed.ipynb").write_bytes(data[: len(data) // 2])  # what a kill during a save leaves
    index = build_reports(runs, tmp_path / "reports")
    page = index.read_text()
    assert (tmp_path / "reports" / "good.html").is_file() and not (tmp_path / "reports" / "killed.html").exists()
    assert "killed" in page and "not a readable notebook" in page and "2 runs of 2 notebooks, 1 failed" in page


def test_a_report_folder_shares_one_plotlyjs(executed, tmp_path):
    import shutil

    from workbench.reports import build_reports
    from workbench.reports.export import SHARED_PLOTLYJS

    runs = tmp_path / "runs"
    runs.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(executed["tiny"], runs / f"{name}.ipynb")
    build_reports(runs, tmp_path / "out")
    pages = sorted((tmp_path / "out").glob("[abc].html"))
    shared = tmp_path / "out" / SHARED_PLOTLYJS
    assert len(pages) == 3 and shared.is_file() and PLOTLYJS_BANNER in shared.read_text()[:500]
    for page in pages:
        html = page.read_text()
        assert f'src="{SHARED_PLOTLYJS}"' in html and PLOTLYJS_BANNER not in html  # loaded, not embedded
        assert not REMOTE_SCRIPT.search(html) and page.stat().st_size < shared.stat().st_size / 4
    single = export_html(executed["tiny"], tmp_path / "alone.html").read_text()
    assert single.count(PLOTLYJS_BANNER) == 1  # a page exported on its own still embeds it
