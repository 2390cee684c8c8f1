"""Pseudonymous ids for DICOM data: a keyed hash (HMAC-SHA256) of header identifiers.

No PatientID, StudyInstanceUID or SeriesInstanceUID ever reaches a manifest; readers store
``pseudonym(key, "patient", PatientID, "rsna")`` -> ``"rsna-3f9c0a..."`` instead. The key is
secret and stays with the data holder: without it the ids cannot be linked back to a header (an
unkeyed hash could be reversed by hashing candidate ids). The same key always gives the same ids,
so manifests built at different times agree.

Key sources, first found wins:
1. the reader option ``id_key`` (a string of at least :data:`MIN_KEY_LEN` characters);
2. the reader option ``id_key_file`` (a file whose stripped content is the key);
3. the environment variable ``WORKBENCH_ID_KEY``;
4. the environment variable ``WORKBENCH_ID_KEY_FILE``;
5. the per-user key file ``$XDG_CONFIG_HOME/workbench/id_key`` (``~/.config/workbench/id_key``),
   created on first use with a random key (file mode 0600; its path is printed once, on stderr).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
from pathlib import Path

__all__ = ["ENV_KEY", "ENV_KEY_FILE", "MIN_KEY_LEN", "user_key_path", "resolve_id_key", "pseudonym", "key_fingerprint"]

ENV_KEY = "WORKBENCH_ID_KEY"
ENV_KEY_FILE = "WORKBENCH_ID_KEY_FILE"
MIN_KEY_LEN = 16
HASH_CHARS = 16  # 64 bits: collisions are negligible for 10^6 ids


def _check(key: str, source: str) -> bytes:
    key = key.strip()
    if len(key) < MIN_KEY_LEN:
        raise ValueError(f"the id key from {source} has {len(key)} characters; it needs at least {MIN_KEY_LEN}")
    return key.encode("utf-8")


def _read_key_file(path: str | os.PathLike, source: str) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"id key file {path} (from {source}) does not exist")
    return _check(path.read_text(), f"{source} ({path})")


def resolve_id_key(id_key: str | bytes | None = None, id_key_file: str | os.PathLike | None = None) -> bytes:
    """The HMAC key for pseudonymous ids, from the options or the environment (module docstring)."""
    if id_key is not None:
        return _check(id_key.decode() if isinstance(id_key, bytes) else str(id_key), "option id_key")
    if id_key_file is not None:
        return _read_key_file(id_key_file, "option id_key_file")
    if os.environ.get(ENV_KEY):
        return _check(os.environ[ENV_KEY], f"${ENV_KEY}")
    if os.environ.get(ENV_KEY_FILE):
        return _read_key_file(os.environ[ENV_KEY_FILE], f"${ENV_KEY_FILE}")
    path = user_key_path()
    if not path.is_file():
        _create_user_key(path)
    return _read_key_file(path, "the per-user key file")


def user_key_path() -> Path:
    """``$XDG_CONFIG_HOME/workbench/id_key`` (``~/.config/workbench/id_key`` without XDG_CONFIG_HOME)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "workbench" / "id_key"


def _create_user_key(path: Path) -> None:
    """Write a random key readable by its owner only (0600), never replacing one that appeared meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    print(f"workbench: created a secret key for pseudonymous DICOM ids at {path} (mode 0600); keep it: the same "
          f"key gives the same ids ({ENV_KEY} / {ENV_KEY_FILE} override it)", file=sys.stderr)


def pseudonym(key: bytes, kind: str, value: str, prefix: str) -> str:
    """``"<prefix>-<16 hex>"``: HMAC-SHA256 of ``"<kind>:<value>"`` under ``key``.

    ``kind`` ("patient", "study", "series") separates roles, so a value reused in two roles gives
    two unrelated ids.
    """
    digest = hmac.new(key, f"{kind}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{prefix}-{digest[:HASH_CHARS]}"


def key_fingerprint(key: bytes) -> str:
    """A short non-secret tag of ``key`` (cached results made under another key are not reused)."""
    return hmac.new(key, b"workbench-key-fingerprint", hashlib.sha256).hexdigest()[:12]
