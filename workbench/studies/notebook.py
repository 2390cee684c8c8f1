"""The project-owned notebook seam: run a notebook with parameters, read what it recorded.

Everything else in the workbench (grids, reports, tests) goes through these functions, so the
engine (papermill + nbclient today) can change without touching notebooks or their callers.

Batch runs set two environment variables for the kernel:

- ``WORKBENCH_BATCH=1``: :func:`workbench.utils.progress.progress` draws text bars, not widgets;
- ``PLOTLY_RENDERER``: ``plotly_mimetype`` by default, so each figure is stored once as JSON (small
  notebooks); ``workbench report`` turns those outputs into offline HTML. Pass
  ``plotly_renderer="notebook"`` to embed plotly.js in the notebook itself (~5 MB per notebook).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from workbench.studies.parameters import check_parameters, notebook_parameters
from workbench.studies.record import RESULTS_MIMETYPE
from workbench.utils.io import atomic_path

__all__ = ["CellError", "NotebookExecutionError", "run_notebook", "read_results", "read_parameters"]

_ENV_LOCK = threading.Lock()


@dataclass(frozen=True)
class CellError:
    """Where and how a notebook failed: the cell index, its source and the exception."""

    cell_index: int | None
    exec_count: int | None
    source: str
    ename: str
    evalue: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> "CellError":
        """An error outside any cell (kernel death, timeout, a worker that died)."""
        return cls(None, None, "", type(exc).__name__, str(exc))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class NotebookExecutionError(RuntimeError):
    """A cell raised while running a notebook; the executed notebook (with the traceback) is kept."""

    def __init__(self, output_path: str, error: CellError):
        self.output_path = str(output_path)
        self.error = error
        super().__init__(f"{self.output_path}: cell {error.cell_index} (In [{error.exec_count}]) raised "
                         f"{error.ename}: {error.evalue}")

    def __reduce__(self):  # picklable across process pools
        return type(self), (self.output_path, self.error)


@contextlib.contextmanager
def _kernel_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables inherited by the kernel, restoring them afterwards.

    Kernels inherit the launching process's environment; within one process every batch run sets
    the same values, so concurrent runs in threads see consistent settings.
    """
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
    try:
        yield
    finally:
        with _ENV_LOCK:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


# A batch kernel's own log (ipykernel's "running over TCP without encryption" warning on start, its
# "KeyboardInterrupt caught" on shutdown) goes to the parent's terminal; cell errors reach the
# executed notebook, not this log.
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=CRITICAL",)


def run_notebook(input_path: str | os.PathLike, output_path: str | os.PathLike, parameters: Mapping[str, Any],
                 cwd: str | os.PathLike | None = None, kernel_name: str | None = None,
                 timeout: float | None = None, plotly_renderer: str = "plotly_mimetype") -> Path:
    """Execute ``input_path`` with ``parameters`` into ``output_path``; returns ``output_path``.

    ``parameters`` must be names of the notebook's cell tagged ``parameters`` (ValueError listing
    the valid ones otherwise). ``cwd`` (default: the output folder) is the kernel's working
    directory; ``timeout`` limits each cell, in seconds. The output appears atomically, also when
    a cell fails: then the executed notebook, with its traceback, is written and
    :class:`NotebookExecutionError` names the cell and the exception.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    input_path, output_path = Path(input_path), Path(output_path)
    check_parameters(input_path, parameters)
    cwd = Path(cwd) if cwd is not None else output_path.parent
    cwd.mkdir(parents=True, exist_ok=True)
    failure: CellError | None = None
    env = {"WORKBENCH_BATCH": "1", "PLOTLY_RENDERER": plotly_renderer}
    with atomic_path(output_path) as tmp, _kernel_env(env):
        try:
            papermill.execute_notebook(str(input_path), str(tmp), parameters=dict(parameters), cwd=str(cwd),
                                       kernel_name=kernel_name, execution_timeout=timeout, progress_bar=False,
                                       extra_arguments=list(KERNEL_ARGUMENTS))
        except PapermillExecutionError as exc:
            failure = CellError(int(exc.cell_index), exc.exec_count, str(exc.source), str(exc.ename), str(exc.evalue))
    if failure is not None:
        raise NotebookExecutionError(str(output_path), failure)
    return output_path


def _read(notebook: str | os.PathLike | Mapping[str, Any]) -> Mapping[str, Any]:
    """A notebook as plain JSON (an nbformat node is passed through)."""
    return notebook if isinstance(notebook, Mapping) else json.loads(Path(notebook).read_text())


def read_results(executed_notebook_path: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """The results a notebook recorded with :func:`workbench.studies.record` (later names win)."""
    results: dict[str, Any] = {}
    for cell in _read(executed_notebook_path).get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if output.get("output_type") in ("display_data", "execute_result") and RESULTS_MIMETYPE in data:
                results.update(data[RESULTS_MIMETYPE])
    return results


def read_parameters(executed_notebook_path: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a notebook ran with: its defaults updated with the values papermill injected."""
    nb = _read(executed_notebook_path)
    injected = nb.get("metadata", {}).get("papermill", {}).get("parameters", {}) or {}
    try:
        defaults = notebook_parameters(nb)
    except ValueError:
        defaults = {}
    return {**defaults, **injected}
