"""Content fingerprints for cache keys: a cached result is reused only for the same inputs.

A file's fingerprint is its size, its modification time (ns) and the SHA-256 of its first 64 KiB
(the whole header of a NIfTI / DICOM file and the start of its data). Regenerating a cohort at the
same paths changes all three; a touched but unchanged file changes only the time, which costs a
recomputation, never a stale result. A safetensors file is fingerprinted by the SHA-256 of its tensor
data recorded in its header (``content_sha256``) when present, so copying weights keeps the key.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

__all__ = ["file_fingerprint", "files_fingerprint", "weights_fingerprint"]

_HEAD = 64 * 1024


def file_fingerprint(path: str | Path) -> str:
    """``size:mtime_ns:sha256(first 64 KiB)`` of ``path``; ``missing`` when it does not exist."""
    path = Path(path)
    try:
        st = path.stat()
        with open(path, "rb") as f:
            head = hashlib.sha256(f.read(_HEAD)).hexdigest()[:16]
    except FileNotFoundError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}:{head}"


def files_fingerprint(paths: Iterable[str | Path]) -> str:
    """One SHA-256 over the sorted unique paths and their :func:`file_fingerprint`."""
    h = hashlib.sha256()
    for p in sorted({str(p) for p in paths}):
        h.update(f"{p}={file_fingerprint(p)}\n".encode())
    return h.hexdigest()


def weights_fingerprint(path: str | Path) -> str:
    """The ``content_sha256`` of a safetensors file's header, else :func:`file_fingerprint`."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            digest = (f.metadata() or {}).get("content_sha256")
    except Exception:  # unreadable: the file fingerprint still changes with it
        digest = None
    return f"sha256:{digest}" if digest else file_fingerprint(path)
