"""The parameters convention (one cell tagged ``parameters``, UPPER_CASE scalars) and ``record``."""

from __future__ import annotations

import copy

import nbformat
import numpy as np
import pytest

from workbench.studies import record
from workbench.studies.parameters import check_parameters, notebook_parameters, parse_parameters_source
from workbench.studies.record import brief, to_jsonable
from workbench.utils.errors import DataError


def test_fixture_notebook_parameters(tiny_notebook):
    assert notebook_parameters(tiny_notebook) == {"SCALE": 1.0, "N_POINTS": 5, "LABEL": "demo", "FAIL": False,
                                                  "OUTPUT_DIR": "."}


def test_parse_accepts_scalars_comments_and_annotations():
    src = "# knobs\nA = 1  # one\nB: float = -0.5\nC = 'x'\nD = None\nE = True\n"
    assert parse_parameters_source(src) == {"A": 1, "B": -0.5, "C": "x", "D": None, "E": True}


@pytest.mark.parametrize("source, message", [
    ("lower = 1", "UPPER_CASE"),
    ("A = [1, 2]", "must be a scalar"),
    ("A = 1 + x", "must be a literal"),
    ("import os", "only `NAME = literal`"),
    ("A = B = 1", "only `NAME = literal`"),
    ("A = (", "not valid Python"),
])
def test_parse_rejects(source, message):
    with pytest.raises(DataError, match=message):
        parse_parameters_source(source)


def test_parameters_cell_must_exist_once(tiny_notebook):
    nb = nbformat.read(tiny_notebook, as_version=4)
    none = copy.deepcopy(nb)
    for cell in none.cells:
        cell.metadata.pop("tags", None)
    with pytest.raises(DataError, match="exactly one cell tagged 'parameters', found 0"):
        notebook_parameters(none)
    two = copy.deepcopy(nb)
    two.cells.append(copy.deepcopy(next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))))
    with pytest.raises(DataError, match="found 2"):
        notebook_parameters(two)


def test_unknown_parameter_names_the_valid_ones(tiny_notebook):
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) SCLAE.*valid choices: SCALE, N_POINTS, LABEL"):
        check_parameters(tiny_notebook, {"SCLAE": 2.0})
    with pytest.raises(ValueError, match="SCALE must be a scalar"):
        check_parameters(tiny_notebook, {"SCALE": [1, 2]})
    assert check_parameters(tiny_notebook, {"SCALE": 2.0})["SCALE"] == 2.0


def test_record_values_become_json():
    assert to_jsonable({"a": np.float32(0.5), "b": np.arange(3), "c": float("nan")}) == {"a": 0.5, "b": [0, 1, 2],
                                                                                      "c": None}
    with pytest.raises(TypeError, match="result 'bad' has type object"):
        record(bad=object())
    assert record(fine=1) is None  # outside a kernel: nothing shown, no error


def test_the_recorded_line_a_reader_sees_is_brief():
    assert brief(0.123456789) == "0.1235" and brief(3) == "3" and brief("x") == "'x'" and brief(None) == "None"
    assert brief([0.5, 1 / 3, 2, 3, 4, 5]) == "[0.5, 0.3333, 2, 3, ... 2 more]"
    assert brief({"dice": 0.71234, "n": 3}) == "{'dice': 0.7123, 'n': 3}"
    assert brief({str(i): i for i in range(6)}, items=2) == "{'0': 0, '1': 1, ... 4 more}"
