"""Layouts written once per session from tiny phantoms, and the pseudonym key every test uses."""

from __future__ import annotations

import pytest

from workbench.data.writers import LAYOUT_WRITERS, toy_subjects

TEST_KEY = "test-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def id_key(monkeypatch) -> str:
    """Every reader test runs with a known pseudonym key in the environment."""
    monkeypatch.setenv("WORKBENCH_ID_KEY", TEST_KEY)
    return TEST_KEY


@pytest.fixture(scope="session")
def subjects():
    """Three phantoms (6, 32, 32): codes 1 (+ 5 on slice 3), 2, none."""
    return toy_subjects(3, shape=(6, 32, 32), spacing=(0.5, 0.5, 5.0), seed=0)


def _written(tmp_path_factory, subjects, layout: str, **kwargs):
    root = tmp_path_factory.mktemp(layout)
    LAYOUT_WRITERS[layout](subjects, root, seed=0, **kwargs)
    return root


@pytest.fixture(scope="session")
def rsna_root(tmp_path_factory, subjects):
    return _written(tmp_path_factory, subjects, "rsna")


@pytest.fixture(scope="session")
def cq500_root(tmp_path_factory, subjects):
    return _written(tmp_path_factory, subjects, "cq500")
