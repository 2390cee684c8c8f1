"""Studies: notebooks run in batch with parameters, grids of runs, and their recorded results.

The notebook engine (papermill today) stays behind one small seam, :mod:`workbench.studies.notebook`:
``run_notebook`` executes a notebook with parameters and ``read_results`` returns what it recorded.
Inside a notebook, :func:`record` stores named results; :mod:`workbench.studies.grid` runs a grid
of parameter sets on any ``concurrent.futures`` executor and aggregates the results in one table.

Importing this package is cheap (no papermill): notebooks import it only to call :func:`record`.
"""

from __future__ import annotations

from workbench.studies.record import RESULTS_MIMETYPE, record, record_results

__all__ = ["RESULTS_MIMETYPE", "record", "record_results", "run_notebook", "read_results", "read_parameters"]


def __getattr__(name: str):
    """Lazy access to the engine seam (papermill is imported only when a notebook is run)."""
    if name in ("run_notebook", "read_results", "read_parameters"):
        from workbench.studies import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'workbench.studies' has no attribute {name!r}")
