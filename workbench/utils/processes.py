"""Child processes that die with their parent, and a lock that keeps two runs out of one folder.

- :func:`die_with_parent` (a process-pool ``initializer``): on Linux the worker asks the kernel to send
  it SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``), so a killed ``workbench study`` or
  ``workbench demo`` leaves no pool worker running grid entries; elsewhere it does nothing.
- :func:`folder_lock`: an exclusive ``flock`` on ``FOLDER/.workbench.lock`` for the duration of a run;
  a second run on the same folder fails at once naming the holder's PID. The kernel drops the lock
  when its holder dies, so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from pathlib import Path
from typing import Iterator

__all__ = ["die_with_parent", "folder_lock", "LOCK_NAME"]

LOCK_NAME = ".workbench.lock"
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask for SIGTERM when the parent process dies (Linux); call it first thing in a child process."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: best effort only
        return
    if os.getppid() == 1:  # the parent already died before the request
        os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "run") -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (created if needed); RuntimeError if another process holds it."""
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise RuntimeError(f"{folder}: another {what} is using this folder (PID {holder}); wait for it or "
                               "choose another output folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield folder
    finally:
        os.close(fd)  # closing releases the lock
