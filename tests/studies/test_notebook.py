"""The notebook seam: run_notebook + read_results round trip, failures, parameter checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.studies import read_parameters, read_results, run_notebook
from workbench.studies.notebook import NotebookExecutionError


def test_round_trip_with_parameters(tiny_notebook, tmp_path: Path, capfd):
    out = run_notebook(tiny_notebook, tmp_path / "run" / "tiny.ipynb",
                       {"SCALE": 2.0, "N_POINTS": 3, "LABEL": "rt", "OUTPUT_DIR": str(tmp_path)})
    assert out == tmp_path / "run" / "tiny.ipynb"
    assert read_results(out) == {"total": 10.0, "n_points": 3, "label": "rt", "batch": "1",
                                 "renderer": "plotly_mimetype"}  # 2 * (0 + 1 + 4); batch env + renderer set
    assert read_parameters(out) == {"SCALE": 2.0, "N_POINTS": 3, "LABEL": "rt", "FAIL": False,
                                    "OUTPUT_DIR": str(tmp_path)}
    assert json.loads((tmp_path / "values.json").read_text()) == [0.0, 2.0, 8.0]
    assert [p.name for p in out.parent.iterdir()] == ["tiny.ipynb"]  # no temporary file left
    printed = capfd.readouterr()  # the kernel inherits this process's stdout / stderr
    assert "IPKernelApp" not in printed.err + printed.out and "without encryption" not in printed.err  # no kernel noise


def test_failing_cell_is_named_and_notebook_kept(tiny_notebook, tmp_path: Path):
    with pytest.raises(NotebookExecutionError, match=r"raised ValueError: asked to fail \(LABEL=x\)") as info:
        run_notebook(tiny_notebook, tmp_path / "fail.ipynb", {"FAIL": True, "LABEL": "x", "N_POINTS": 2})
    err = info.value.error
    assert err.ename == "ValueError" and "if FAIL" in err.source and err.cell_index >= 0
    assert (tmp_path / "fail.ipynb").is_file() and read_results(tmp_path / "fail.ipynb") == {}


def test_unknown_parameter_rejected_before_running(tiny_notebook, tmp_path: Path):
    with pytest.raises(ValueError, match="unknown parameter.*NPOINTS.*valid choices: SCALE"):
        run_notebook(tiny_notebook, tmp_path / "x.ipynb", {"NPOINTS": 3})
    assert not (tmp_path / "x.ipynb").exists()
