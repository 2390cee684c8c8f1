"""One progress-bar helper that picks the right kind for the context.

- a live notebook kernel: ``tqdm.auto`` (a widget);
- CI or a terminal: text tqdm;
- a batch notebook run (papermill sets ``WORKBENCH_BATCH=1``): disabled, so progress never lands
  in an executed notebook or the report made from it (the study grid shows progress in the terminal);
- a distributed rank other than 0, or ``WORKBENCH_PROGRESS=0``: disabled.

``TQDM_DISABLE`` does not silence ``tqdm.auto`` in a kernel, so this helper reads its own switch.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, TypeVar

T = TypeVar("T")

__all__ = ["progress", "progress_enabled"]


def _in_kernel() -> bool:
    return "ipykernel" in sys.modules and os.environ.get("WORKBENCH_BATCH", "0") != "1"


def progress_enabled() -> bool:
    """False for ranks other than 0, in batch notebook runs and when ``WORKBENCH_PROGRESS=0``."""
    if os.environ.get("WORKBENCH_PROGRESS", "1") == "0" or os.environ.get("WORKBENCH_BATCH", "0") == "1":
        return False
    return os.environ.get("RANK", "0") == "0"


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None, **kwargs) -> Iterable[T]:
    """Wrap ``iterable`` in a progress bar suited to the context (see module docstring)."""
    if _in_kernel():
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    kwargs.setdefault("dynamic_ncols", True)
    if os.environ.get("CI") or not sys.stderr.isatty():
        kwargs.setdefault("mininterval", 2.0)
    return tqdm(iterable, desc=desc, total=total, disable=not progress_enabled(), **kwargs)
