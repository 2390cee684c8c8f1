"""Per-run status files and the tidy results table (one row per run: parameters then results)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from workbench.utils.io import write_csv_atomic

__all__ = ["STATUS_NAME", "RUNS_DIR", "read_status", "read_statuses", "results_table", "write_results_table",
           "error_summary"]

STATUS_NAME = "status.json"
RUNS_DIR = "runs"
_FIRST = ["run_id", "state", "seconds", "error"]


def read_status(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The status a run wrote in its folder, or None when it has none (or it is unreadable)."""
    path = Path(run_dir) / STATUS_NAME
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def read_statuses(study_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every run status under ``STUDY_DIR/runs/``, sorted by run id."""
    runs = Path(study_dir) / RUNS_DIR
    found = (read_status(d) for d in sorted(runs.iterdir()) if d.is_dir()) if runs.is_dir() else ()
    return [s for s in found if s is not None]


def error_summary(error: Mapping[str, Any] | None) -> str:
    """One line naming the failing cell and the exception, '' for no error."""
    if not error:
        return ""
    where = f"cell {error['cell_index']}: " if error.get("cell_index") is not None else ""
    return f"{where}{error.get('ename', 'Error')}: {error.get('evalue', '')}".strip()


def _cell(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def results_table(statuses: Iterable[Mapping[str, Any]], parameter_order: Iterable[str] = ()) -> pd.DataFrame:
    """Tidy table: run_id, state, seconds, error, every parameter, every recorded result.

    Parameter columns follow ``parameter_order`` (e.g. the notebook's parameters cell). A result whose name clashes with a parameter gets the suffix ``_result``; lists and dicts are
    stored as JSON strings.
    """
    rows, param_cols, result_cols = [], [], []
    for s in statuses:
        params, results = s.get("parameters", {}), s.get("results", {}) or {}
        row = {"run_id": s["run_id"], "state": s.get("state"), "seconds": s.get("seconds"),
               "error": error_summary(s.get("error"))}
        for k, v in params.items():
            row[k] = _cell(v)
            param_cols += [k] if k not in param_cols else []
        for k, v in results.items():
            name = f"{k}_result" if k in params or k in _FIRST else k
            row[name] = _cell(v)
            result_cols += [name] if name not in result_cols else []
        rows.append(row)
    order = {name: i for i, name in enumerate(parameter_order)}
    param_cols.sort(key=lambda c: order.get(c, len(order)))
    return pd.DataFrame(rows, columns=_FIRST + param_cols + [c for c in result_cols if c not in param_cols])


def write_results_table(study_dir: str | os.PathLike, run_ids: Iterable[str] | None = None,
                        parameter_order: Iterable[str] = (), name: str = "results.csv") -> tuple[Path, pd.DataFrame]:
    """Aggregate the run statuses of a study folder (all, or only ``run_ids``) into ``STUDY_DIR/results.csv``."""
    statuses = read_statuses(study_dir)
    if run_ids is not None:
        keep = set(run_ids)
        statuses = [s for s in statuses if s["run_id"] in keep]
    table = results_table(statuses, parameter_order)
    return write_csv_atomic(Path(study_dir) / name, table), table
