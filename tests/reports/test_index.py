"""The report index and ``workbench report`` on a study folder and on a plain folder of notebooks."""

from __future__ import annotations

import shutil

import pytest

from command_helpers import run_command
from workbench.commands import report as report_command
from workbench.reports.index import index_html
from workbench.reports.runs import ReportRun, find_runs
from workbench.utils.io import write_json_atomic


def test_index_shows_varying_parameters_results_and_failures(tmp_path):
    runs = [ReportRun("a", tmp_path, {"SCALE": 1.0, "N": 3}, {"dice": 0.71234, "curve": [1, 2]}),
            ReportRun("b", tmp_path, {"SCALE": 2.0, "N": 3}, {}, "failed", "cell 4: ValueError: boom")]
    page = index_html(runs, {"a": "a.html"}, "T <1>")
    assert '<a href="a.html">a</a>' in page and "<td>b</td>" in page  # b has no report page
    assert "<th>SCALE</th>" in page and "<th>N</th>" not in page  # N is the same everywhere
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
    assert sorted(p.name for p in out.iterdir()) == ["explorer.html", "index.html", "plotly.min.js", "scale-2.0-abc.html"]
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
    assert "<th>STAGE</th>" in first and "<th>auc</th>" not in first  # no column of another notebook
    assert "<th>auc</th>" in second and "<th>dice</th>" not in second and "<th>MODEL</th>" in second


def test_a_run_takes_its_notebook_title(executed):
    from workbench.reports.runs import notebook_title
    import json

    title, _ = notebook_title(json.loads(executed["tiny"].read_text()))
    assert title and not title.startswith("#")
