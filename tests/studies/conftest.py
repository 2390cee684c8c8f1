"""Fixtures for the study tests: the fixture notebooks and small study configs written on the fly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks"
TINY = FIXTURES / "tiny_study.ipynb"


@pytest.fixture
def tiny_notebook() -> Path:
    return TINY


@pytest.fixture
def write_study(tmp_path: Path):
    """Write a study YAML in tmp_path (notebook: the tiny fixture) and return its path."""

    def write(name: str = "tiny", **overrides) -> Path:
        config = {"notebook": str(TINY), "output": str(tmp_path / name), "parameters": {"N_POINTS": 3},
                  "workers": 2, "timeout": 120, **overrides}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    return write
