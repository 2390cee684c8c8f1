"""The parameters convention: one cell tagged ``parameters`` holding UPPER_CASE scalar assignments.

papermill injects the values of a run after that cell. Keeping it to plain ``NAME = literal``
lines lets the workbench read a notebook's parameters (their names and defaults) without running
it, and reject a misspelt parameter before a whole grid is launched::

    # parameters
    SUBJECT = 0            # comments are fine
    THRESHOLD = 0.5
    METHOD = "hgi_sam"
    INTERACTIVE = True
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

from workbench.utils.errors import DataError

__all__ = ["SCALAR_TYPES", "notebook_parameters", "parse_parameters_source", "check_parameters"]

SCALAR_TYPES = (bool, int, float, str, type(None))
_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def parse_parameters_source(source: str, where: str = "parameters cell") -> dict[str, Any]:
    """Names and default values of a parameters cell's source; DataError on anything else."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise DataError(where, f"not valid Python: {exc.msg} (line {exc.lineno})") from None
    params: dict[str, Any] = {}
    for node in tree.body:
        line = f"line {node.lineno}"
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            raise DataError(where, f"{line}: only `NAME = literal` assignments are allowed, got {ast.unparse(node)!r}")
        if not isinstance(target, ast.Name) or not _NAME.match(target.id):
            raise DataError(where, f"{line}: parameter names must be UPPER_CASE, got {ast.unparse(target)!r}")
        try:
            default = ast.literal_eval(value)
        except ValueError:
            raise DataError(where, f"{line}: {target.id} must be a literal, got {ast.unparse(value)!r}") from None
        if not isinstance(default, SCALAR_TYPES):
            raise DataError(where, f"{line}: {target.id} must be a scalar (int, float, str, bool, None), "
                                   f"got {type(default).__name__}")
        params[target.id] = default
    return params


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def notebook_parameters(notebook: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """The parameters (name -> default) of a notebook's cell tagged ``parameters``.

    Raises DataError naming the notebook when there is no such cell, more than one, or the cell
    holds anything but UPPER_CASE scalar assignments.
    """
    where = _label(notebook)
    if not isinstance(notebook, Mapping):  # plain JSON: no nbformat import or schema validation
        notebook = json.loads(Path(notebook).read_text())
    cells = [c for c in notebook.get("cells", []) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise DataError(where, f"needs exactly one cell tagged 'parameters', found {len(cells)}")
    if cells[0].get("cell_type") != "code":
        raise DataError(where, "the cell tagged 'parameters' must be a code cell")
    return parse_parameters_source(_source(cells[0]), where=f"{where} (parameters cell)")


def check_parameters(notebook: str | os.PathLike | Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``parameters`` against the notebook's parameters cell; returns defaults updated with them.

    Unknown names raise a ValueError naming them and listing the notebook's parameters; values
    must be scalars.
    """
    defaults = notebook_parameters(notebook)
    unknown = sorted(set(parameters) - set(defaults))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)} for {_label(notebook)}; "
                         f"valid choices: {', '.join(defaults) or '(none)'}")
    for name, value in parameters.items():
        if not isinstance(value, SCALAR_TYPES):
            raise ValueError(f"parameter {name} must be a scalar (int, float, str, bool, None), "
                             f"got {type(value).__name__} {value!r}")
    return {**defaults, **parameters}


def _label(notebook) -> str:
    return "the notebook" if isinstance(notebook, Mapping) else str(notebook)
