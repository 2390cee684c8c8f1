"""The report index and ``workbench report`` on a study folder and on a plain folder of notebooks."""

from __future__ import annotations

import shutil

import pytest

from command_helpers import run_command
from workbench.commands import report as report_command
from workbench.reports.browser import find_chromium
from workbench.reports.index import index_html
from workbench.reports.runs import ReportRun, find_runs
from workbench.utils.io import write_json_atomic


def test_index_shows_varying_parameters_results_and_failures(tmp_path):
    runs = [ReportRun("a", tmp_path, {"SCALE": 1.0, "N": 3}, {"dice": 0.71234, "curve": [1, 2]}),
            ReportRun("b", tmp_path, {"SCALE": 2.0, "N": 3}, {}, "failed", "cell 4: ValueError: boom")]
    page = index_html(runs, {"a": "a.html"}, "T <1>")
    assert '<a href="a.html">SCALE=1</a><small>a</small>' in page  # named by what varies; the id below
    assert '<td class="run">SCALE=2<small>b</small></td>' in page  # b has no report page
    assert "N=3" not in page  # N is the same everywhere
    assert "<th>dice</th>" in page and "0.7123" in page and "<th>curve</th>" not in page  # scalars only
    assert "cell 4: ValueError: boom" in page and "T &lt;1&gt;" in page


def test_report_command_on_a_study_folder_and_plain_notebooks(executed, tmp_path, capsys):
    study = tmp_path / "study"
    run_dir = study / "runs" / "scale-2.0-abc"
    run_dir.mkdir(parents=True)
    shutil.copy(executed["tiny"], run_dir / "tiny_study.ipynb")
    write_json_atomic(run_dir / "status.json", {"run_id": "scale-2.0-abc", "state": "done", "notebook": "tiny_study.ipynb",
                                                "parameters": {"SCALE": 2.0}, "results": {"total": 28.0}})
    shutil.copy(executed["explorer"], study / "explorer.ipynb")  # not a study run: read from the notebook
    out = study / "report"  # inside --runs: skipped when looking for notebooks
    assert run_command(report_command, ["--runs", str(study), "--out", str(out), "--no-input"]) == 0
    assert f"report: {out / 'index.html'}" in capsys.readouterr().out
    shots = find_chromium() is not None  # thumbnails of each run's first figure need chromium
    names = sorted(p.name for p in out.iterdir())
    css = [n for n in names if n.startswith("report-") and n.endswith(".css")]  # the pages' shared stylesheet
    assert len(css) == 1 and 'rel="stylesheet" href="%s"' % css[0] in (out / "explorer.html").read_text()
    assert [n for n in names if n not in css] == ["explorer.html", "index.html", "plotly.min.js", "scale-2.0-abc.html",
                                                  *(["thumbs"] if shots else [])]
    if shots:
        assert [p.name for p in (out / "thumbs").iterdir()] == ["scale-2.0-abc.png"]  # the explorer copy draws none
        assert 'src="thumbs/scale-2.0-abc.png"' in (out / "index.html").read_text()
    page = (out / "index.html").read_text()
    assert 'href="scale-2.0-abc.html"' in page and 'href="explorer.html"' in page and "28" in page
    explorer = next(r for r in find_runs(study) if r.run_id == "explorer")
    assert explorer.parameters["POWER"] == 3 and explorer.state == "done"


def test_report_on_an_empty_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no executed notebook"):
        run_command(report_command, ["--runs", str(tmp_path), "--out", str(tmp_path / "r")])


def test_index_has_one_section_per_notebook_with_its_own_columns(tmp_path):
    runs = [ReportRun("x1", tmp_path, {"STAGE": 1}, {"dice": 0.5}, title="01 · Explore"),
            ReportRun("c1", tmp_path, {"MODEL": "binary"}, {"auc": 0.9}, title="02 · Compare"),
            ReportRun("x2", tmp_path, {"STAGE": 2}, {"dice": 0.6}, title="01 · Explore")]
    page = index_html(runs, {}, "T")
    explore, compare = page.index("<h2>01 · Explore</h2>"), page.index("<h2>02 · Compare</h2>")  # sorted by title
    assert explore < compare and page.count("<table>") == 2 and "3 runs of 2 notebooks" in page
    first, second = page[explore:compare], page[compare:]
    assert "STAGE=2" in first and "<th>auc</th>" not in first  # no column of another notebook
    assert "<th>auc</th>" in second and "<th>dice</th>" not in second and "c1</a>" not in second


def test_index_keeps_to_a_few_headline_numbers_and_shows_thumbnails_and_purpose(tmp_path):
    """The first index was one 59-column table, 7,696 px wide."""
    results = {f"r{i}": float(i) for i in range(40)}
    runs = [ReportRun(f"run{k}", tmp_path, {"K": k}, results, title="02 · Compare", purpose="Compare <all>.")
            for k in range(3)]
    page = index_html(runs, {"run0": "run0.html"}, "T", thumbs={"run0": "thumbs/run0.png"})
    assert page.count("<th>") == 3 + 6 and "<th>r5</th>" in page and "<th>r6</th>" not in page
    assert '<a href="run0.html"><img class="thumb" src="thumbs/run0.png"' in page
    assert '<p class="purpose">Compare &lt;all&gt;.</p>' in page


def test_a_run_takes_its_notebook_title(executed):
    from workbench.reports.runs import notebook_title
    import json

    title, purpose = notebook_title(json.loads(executed["tiny"].read_text()))
    assert title and not title.startswith("#")
    nb = {"cells": [{"cell_type": "markdown", "source": ["# 03 · X\n", "\n", "First line\n", "goes on.\n", "\n", "More."]}]}
    assert notebook_title(nb) == ("03 · X", "First line goes on.")  # the first paragraph only
