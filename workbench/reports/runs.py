"""Find the executed notebooks of a folder and what each ran with and recorded."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from workbench.studies.notebook import read_parameters, read_results
from workbench.studies.table import error_summary, read_status

__all__ = ["ReportRun", "find_runs", "notebook_title"]


@dataclass(frozen=True)
class ReportRun:
    """One executed notebook: its id, path, parameters, recorded results, state, error line, and the
    notebook's title (its first markdown heading: the index groups runs by it) and purpose (the
    paragraph after the heading)."""

    run_id: str
    notebook: Path
    parameters: Mapping[str, Any] = field(default_factory=dict)
    results: Mapping[str, Any] = field(default_factory=dict)
    state: str = "done"
    error: str = ""
    title: str = ""
    purpose: str = ""


def notebook_title(nb: Mapping[str, Any]) -> tuple[str, str]:
    """(title, purpose): the first markdown heading of a notebook and the paragraph after it ("" when absent)."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        text = "".join(cell.get("source", [])).strip()
        lines = text.splitlines()
        if lines and lines[0].startswith("#"):
            body = "\n".join(lines[1:]).strip().split("\n\n")[0]  # the first paragraph
            return lines[0].lstrip("#").strip(), " ".join(line.strip() for line in body.splitlines())
    return "", ""


def _title(path: Path) -> tuple[str, str]:
    try:
        return notebook_title(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return "", ""


def _from_notebook(path: Path, run_id: str) -> ReportRun:
    try:
        nb = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:  # truncated by a kill: listed, not fatal
        return ReportRun(run_id, path, state="unreadable", error=f"{path.name}: not a readable notebook ({err})")
    failed = bool(nb.get("metadata", {}).get("papermill", {}).get("exception"))
    error = ""
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                error = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
                failed = True
    return ReportRun(run_id, path, read_parameters(nb), read_results(nb), "failed" if failed else "done", error,
                     *notebook_title(nb))


def find_runs(runs_dir: str | os.PathLike, exclude: str | os.PathLike | None = None) -> list[ReportRun]:
    """Every executed notebook under ``runs_dir`` (a study folder or any folder of notebooks).

    A notebook next to a study ``status.json`` takes its id, parameters, results and error from it;
    any other notebook is read directly and named by its path. Hidden files and folders and
    ``exclude`` (e.g. the report folder itself) are skipped.
    """
    root = Path(runs_dir).resolve()
    skip = Path(exclude).resolve() if exclude is not None else None
    found: list[ReportRun] = []
    for path in sorted(root.rglob("*.ipynb")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or (skip is not None and skip in path.parents):
            continue
        status = read_status(path.parent)
        if status is not None and status.get("notebook") == path.name:
            found.append(ReportRun(status["run_id"], path, status.get("parameters", {}), status.get("results") or {},
                                   status.get("state", "done"), error_summary(status.get("error")), *_title(path)))
        else:
            found.append(_from_notebook(path, rel.with_suffix("").as_posix().replace("/", "__")))
    return found
