"""Atomic file writes: nothing is ever left half-written.

Every writer in the workbench goes through :func:`atomic_path`: the content is written to a
temporary file in the destination folder, then renamed over the destination (``os.replace`` is
atomic on POSIX), so an interrupted job leaves either the old file or the new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

__all__ = ["FAULT_ENV", "atomic_path", "fault_point", "write_text_atomic", "write_json_atomic", "write_csv_atomic"]

FAULT_ENV = "WORKBENCH_FAULT_AT"
"""Fault injection for tests: ``WORKBENCH_FAULT_AT=N`` ends the process abruptly (``os._exit(86)``, as a
``kill -9`` would) at its N-th commit point: every :func:`atomic_path` rename and every checkpoint
folder rename is one. Unset (the normal case) it costs one environment lookup."""
_fault_count = 0


def fault_point(what: str | os.PathLike = "") -> None:
    """A commit point: with :data:`FAULT_ENV` set to N, the N-th call of this process exits at once."""
    global _fault_count
    at = os.environ.get(FAULT_ENV)
    if not at:
        return
    _fault_count += 1
    if _fault_count == int(at):
        os.write(2, f"fault injected at commit point {_fault_count}: {what}\n".encode())
        os._exit(86)


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it to ``dest`` when the block succeeds.

    ``suffix`` defaults to ``dest``'s own suffixes (``.nii``, ``.csv``...) so libraries that
    choose a format from the file name still work. On error the temporary file is removed and
    ``dest`` is untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if suffix is None:
        suffix = "".join(dest.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=f".tmp{suffix}", dir=dest.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file ordinary permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        fault_point(dest)
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_text_atomic(dest: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``dest`` atomically; returns ``dest`` as a Path."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text)
    return Path(dest)


def write_json_atomic(dest: str | os.PathLike, obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as JSON to ``dest`` atomically."""
    return write_text_atomic(dest, json.dumps(obj, indent=indent, sort_keys=True, default=str) + "\n")


def write_csv_atomic(dest: str | os.PathLike, frame) -> Path:
    """Write a pandas DataFrame to ``dest`` as CSV (no index) atomically."""
    with atomic_path(dest) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(dest)
