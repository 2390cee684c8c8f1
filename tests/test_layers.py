"""Data flows one way: a module of ``workbench`` imports only from its own package or from a layer
below it (README, Layout). Every import counts, function-level ones included, so a lazy import
cannot hide a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"

LAYERS = [
    {"utils"},
    {"data"},
    {"models", "reference_models"},
    {"capture"},
    {"operators"},
    {"api"},
    {"evaluation"},
    {"training"},
    {"baselines"},
    {"protocol"},
    {"viz"},
    {"explore", "studies"},
    {"reports"},
    {"demo"},
    {"commands"},
    {"cli"},
    {"__main__", "__init__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _part(path: Path) -> str:
    """The top-level part of ``workbench`` a file belongs to: a sub-package or a top-level module."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_parts(path: Path) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "workbench"]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            bits = name.split(".")
            if bits[0] == "workbench" and len(bits) > 1:
                found.add((bits[1], node.lineno))
    return found


def test_every_part_of_the_package_has_a_layer():
    parts = {_part(p) for p in PACKAGE.rglob("*.py")}
    assert parts <= set(RANK), sorted(parts - set(RANK))


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_from_a_layer_above(path):
    own = _part(path)
    upward = [f"line {line}: workbench.{part} (layer {RANK[part]}) from {own} (layer {RANK[own]})"
              for part, line in sorted(_imported_parts(path), key=lambda t: t[1])
              if part != own and part in RANK and RANK[part] >= RANK[own]]
    assert not upward, "\n".join(upward)
