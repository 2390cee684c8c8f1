"""Atomic file writes: nothing is ever left half-written.

Every writer in the workbench goes through :func:`atomic_path`: the content is written to a
temporary file in the destination folder, then renamed over the destination (``os.replace`` is
atomic on POSIX), so an interrupted job leaves either the old file or the new one.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

__all__ = ["FAULT_ENV", "FAULT_KIND_ENV", "atomic_path", "fault_point", "reset_faults", "read_yaml", "write_text_atomic", "write_json_atomic",
           "write_csv_atomic"]

FAULT_ENV = "WORKBENCH_FAULT_AT"
"""Fault injection for tests: ``WORKBENCH_FAULT_AT=N`` ends the process abruptly (``os._exit(86)``, as a
``kill -9`` would) at its N-th commit point: every :func:`atomic_path` rename and every checkpoint
folder rename is one. With ``WORKBENCH_FAULT_KIND=enospc`` the N-th commit point raises the error of a
full disk instead. Unset (the normal case) it costs one environment lookup."""
FAULT_KIND_ENV = "WORKBENCH_FAULT_KIND"
_fault_count = 0


def fault_point(what: str | os.PathLike = "") -> None:
    """A commit point: with :data:`FAULT_ENV` set to N, the N-th call of this process fails (see there)."""
    global _fault_count
    at = os.environ.get(FAULT_ENV)
    if not at:
        return
    _fault_count += 1
    if _fault_count != int(at):
        return
    if os.environ.get(FAULT_KIND_ENV) == "enospc":
        raise OSError(errno.ENOSPC, f"{what}: no space left on the device (injected at commit point {_fault_count})")
    os.write(2, f"fault injected at commit point {_fault_count}: {what}\n".encode())
    os._exit(86)


def reset_faults() -> None:
    """Restart the count of commit points (tests that inject several faults in one process)."""
    global _fault_count
    _fault_count = 0


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
    _clean_stale(dest.parent, f".{dest.stem}.", f".tmp{suffix}")
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
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OSError(err.errno, f"{dest}: no space left on the device while writing it "
                                     f"(nothing was replaced)") from None
        raise


STALE_S = 600.0
"""A temporary file of :func:`atomic_path` older than this is a killed writer's and is removed."""


def _clean_stale(folder: Path, prefix: str, suffix: str) -> None:
    """Remove this writer's temporary files for the same destination left by a killed process."""
    if not folder.is_dir():
        return
    now = time.time()
    for stale in folder.glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
        with contextlib.suppress(OSError):
            if now - stale.stat().st_mtime > STALE_S:
                stale.unlink()


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


def read_yaml(path: str | os.PathLike) -> Any:
    """Parse a YAML file; a syntax error becomes a DataError naming the file, line and column."""
    import yaml

    from workbench.utils.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    with open(path, encoding="utf-8") as f:
        try:
            return yaml.safe_load(f)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise DataError(path, f"YAML syntax error at {where}{problem}") from None
