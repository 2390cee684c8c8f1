"""The layout writers are deterministic (seeded) and leave no temporary file behind."""

from __future__ import annotations

import hashlib

import pytest

from workbench.data.writers import LAYOUT_WRITERS


def _digest(root) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("layout", sorted(LAYOUT_WRITERS))
def test_same_seed_same_files(layout, subjects, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    LAYOUT_WRITERS[layout](subjects[:2], a, seed=3)
    LAYOUT_WRITERS[layout](subjects[:2], b, seed=3)
    files = _digest(a)
    assert files == _digest(b) and files
    assert not [name for name in files if ".tmp" in name]
