"""Run a study's grid: one papermill run per parameter set, on any ``concurrent.futures`` executor.

Layout of a study folder::

    OUTPUT/study.json                  the resolved config and its runs
    OUTPUT/runs/<run_id>/<notebook>    the executed notebook (kept also when a cell failed)
    OUTPUT/runs/<run_id>/status.json   state (running / done / failed), parameters, results, error
    OUTPUT/results.csv                 one row per run: parameters and recorded results

Resumable: a run whose status says ``done`` is skipped; failed or interrupted runs run again.
A failing run is recorded with its cell and exception and the others go on. The default executor is
a local process pool; pass ``distributed.Client(address).get_executor()`` to run on a Dask
cluster (workers need this package and a file system shared with the study folder).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from workbench.studies.config import RunSpec, StudyConfig, expand_runs
from workbench.studies.notebook import CellError, NotebookExecutionError, read_results, run_notebook
from workbench.studies.parameters import notebook_parameters
from workbench.studies.table import RUNS_DIR, STATUS_NAME, read_status, write_results_table
from workbench.utils.io import write_json_atomic
from workbench.utils.processes import die_with_parent, folder_lock
from workbench.utils.progress import progress

__all__ = ["RunTask", "StudyOutcome", "execute_run", "plan_study", "run_study"]


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to execute one run (plain values: picklable for any executor)."""

    run_id: str
    notebook: str
    run_dir: str
    parameters: Mapping[str, Any]
    cwd: str | None = None
    kernel: str | None = None
    timeout: float | None = None

    @property
    def output_path(self) -> Path:
        return Path(self.run_dir) / Path(self.notebook).name


@dataclass(frozen=True)
class StudyOutcome:
    """What :func:`run_study` did: the results table and the ids run, skipped and failed."""

    table: pd.DataFrame
    ran: tuple[str, ...]
    skipped: tuple[str, ...]
    failed: tuple[str, ...]
    table_path: Path


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _status(task: RunTask, state: str, **extra: Any) -> dict[str, Any]:
    """A status record; ``parameters`` are the effective ones (the notebook's defaults filled in)."""
    try:
        parameters = {**notebook_parameters(task.notebook), **task.parameters}
    except (OSError, ValueError):
        parameters = dict(task.parameters)
    return {"run_id": task.run_id, "state": state, "parameters": parameters,
            "notebook": task.output_path.name, "host": socket.gethostname(), "pid": os.getpid(), **extra}


def _write_status(task: RunTask, status: Mapping[str, Any]) -> dict[str, Any]:
    write_json_atomic(Path(task.run_dir) / STATUS_NAME, status)
    return dict(status)


def execute_run(task: RunTask) -> dict[str, Any]:
    """Run one task in a worker; writes and returns its status (never raises for a failed notebook)."""
    started, t0 = _now(), time.perf_counter()
    running = _write_status(task, _status(task, "running", started=started))
    params = dict(task.parameters)
    if "OUTPUT_DIR" in running["parameters"] and "OUTPUT_DIR" not in params:
        params["OUTPUT_DIR"] = task.run_dir  # the convention: a notebook's files go to its run folder
    try:
        out = run_notebook(task.notebook, task.output_path, params, cwd=task.cwd or task.run_dir,
                           kernel_name=task.kernel, timeout=task.timeout)
        extra: dict[str, Any] = {"state": "done", "results": read_results(out), "error": None}
    except NotebookExecutionError as exc:
        extra = {"state": "failed", "results": read_results(exc.output_path), "error": exc.error.to_dict()}
    except Exception as exc:  # kernel death, timeout, unreadable notebook: recorded, the grid goes on
        extra = {"state": "failed", "results": {}, "error": CellError.from_exception(exc).to_dict()}
    status = _status(task, extra.pop("state"), started=started, finished=_now(),
                     seconds=round(time.perf_counter() - t0, 3), **extra)
    return _write_status(task, status)


def plan_study(config: StudyConfig, force: bool = False) -> tuple[list[RunTask], list[RunTask]]:
    """(to run, to skip): every run of the grid as a task; finished runs are skipped unless ``force``."""
    todo, done = [], []
    for spec in expand_runs(config):
        task = _task(config, spec)
        status = read_status(task.run_dir)
        finished = status is not None and status.get("state") == "done" and task.output_path.is_file()
        (done if finished and not force else todo).append(task)
    return todo, done


def _task(config: StudyConfig, spec: RunSpec) -> RunTask:
    run_dir = config.output / RUNS_DIR / spec.run_id
    return RunTask(spec.run_id, str(config.notebook), str(run_dir), dict(spec.parameters),
                   cwd=config.cwd and str(config.cwd), kernel=config.kernel, timeout=config.timeout)


def run_study(config: StudyConfig, executor: cf.Executor | None = None, workers: int | None = None,
              force: bool = False) -> StudyOutcome:
    """Run every unfinished run of ``config`` on ``executor`` and aggregate ``OUTPUT/results.csv``.

    Without an executor a local process pool of ``workers`` (default ``config.workers``) runs them.
    """
    with folder_lock(config.output, what=f"study {config.name!r}"):
        return _run_locked(config, executor, workers, force)


def _run_locked(config: StudyConfig, executor: cf.Executor | None, workers: int | None, force: bool) -> StudyOutcome:
    todo, skipped = plan_study(config, force=force)
    write_json_atomic(config.output / "study.json",
                      {**config.to_dict(), "run_ids": [t.run_id for t in todo + skipped]})
    own = executor is None and bool(todo)
    if own:
        n = max(1, min(workers or config.workers, len(todo)))
        executor = cf.ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent)
    failed: list[str] = []
    try:
        futures = {executor.submit(execute_run, task): task for task in todo} if todo else {}
        for future in progress(cf.as_completed(futures), desc=f"study {config.name}", total=len(futures)):
            task = futures[future]
            try:
                status = future.result()
            except Exception as exc:  # the worker itself died: record it from here
                status = _write_status(task, _status(task, "failed", finished=_now(), results={},
                                                     error=CellError.from_exception(exc).to_dict()))
            if status["state"] != "done":
                failed.append(task.run_id)
    finally:
        if own:
            executor.shutdown()
    table_path, table = write_results_table(config.output, [t.run_id for t in todo + skipped],
                                            parameter_order=notebook_parameters(config.notebook))
    return StudyOutcome(table, tuple(t.run_id for t in todo), tuple(t.run_id for t in skipped),
                        tuple(sorted(failed)), table_path)
