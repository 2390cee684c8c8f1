"""Recording named results from inside a notebook.

``record(dice=0.71, n_slices=24)`` displays the values as one output with the custom mimetype
:data:`RESULTS_MIMETYPE`; the executed notebook therefore carries its results, and
:func:`workbench.studies.notebook.read_results` reads them back (later records override earlier
ones with the same name). Front ends that do not know the mimetype show the ``text/plain``
summary instead. Values must be JSON-able: numbers, strings, booleans, None, lists and dicts of
those; numpy / torch scalars are converted with ``.item()``.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

RESULTS_MIMETYPE = "application/vnd.workbench.results+json"

__all__ = ["RESULTS_MIMETYPE", "record", "record_results", "to_jsonable"]


def to_jsonable(value: Any, name: str = "value") -> Any:
    """``value`` as plain JSON types; NaN / inf become None; raises TypeError naming ``name``."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()  # numpy / torch scalars
    elif hasattr(value, "tolist") and callable(value.tolist):
        value = value.tolist()  # small arrays / tensors
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, f"{name}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, f"{name}[{i}]") for i, v in enumerate(value)]
    raise TypeError(
        f"result {name!r} has type {type(value).__name__}, which is not JSON-able; "
        "valid types: int, float, str, bool, None, list, dict (and numpy / torch scalars)"
    )


def record_results(results: Mapping[str, Any]) -> None:
    """Record ``results`` (name -> JSON-able value) in the running notebook.

    Values are converted with :func:`to_jsonable` (TypeError naming a result that cannot be).
    Outside a kernel (a plain script) nothing is displayed. Returns None, so a final ``record(...)``
    line adds no ``Out[]`` to the notebook.
    """
    clean = {str(k): to_jsonable(v, str(k)) for k, v in results.items()}
    json.dumps(clean)  # fail here, not in the notebook writer
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with every kernel
        return
    if get_ipython() is not None:
        summary = ", ".join(f"{k}={brief(v)}" for k, v in clean.items())
        display({RESULTS_MIMETYPE: clean, "text/plain": f"recorded: {summary}"}, raw=True)


def brief(value: Any, items: int = 4) -> str:
    """A recorded value as a reader glances at it: floats to 4 significant digits, lists and dicts cut
    after ``items`` entries with the count left out (the full value is in the results mimetype)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        more = f", ... {len(value) - items} more" if len(value) > items else ""
        return "[" + ", ".join(brief(v, items) for v in value[:items]) + more + "]"
    if isinstance(value, dict):
        keys = list(value)
        more = f", ... {len(keys) - items} more" if len(keys) > items else ""
        return "{" + ", ".join(f"{k!r}: {brief(value[k], items)}" for k in keys[:items]) + more + "}"
    return repr(value)


def record(**results: Any) -> None:
    """Record named results: ``record(dice=0.71, auc=0.93)`` (see :func:`record_results`)."""
    return record_results(results)
