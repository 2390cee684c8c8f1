"""Run one ``workbench`` sub-command in-process without importing the others (some import torch)."""

from __future__ import annotations

import argparse
from types import ModuleType


def run_command(module: ModuleType, argv: list[str]) -> int:
    """``workbench <module.NAME> ARGV`` through the module's own add_arguments / run."""
    parser = argparse.ArgumentParser(prog=f"workbench {module.NAME}")
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(argv)) or 0)
