"""The ``workbench`` command line: one sub-command per module in :mod:`workbench.commands`.

A sub-command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``;
it is discovered automatically, so adding a command touches no shared file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

import workbench
import workbench.commands as commands_pkg
from workbench.utils.errors import DataError

__all__ = ["main", "console", "build_parser"]


def _command_modules():
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        yield importlib.import_module(f"{commands_pkg.__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=workbench.__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"workbench {workbench.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse and run one command; errors propagate (for callers and tests)."""
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


DEBUG_ENV = "WORKBENCH_DEBUG"
"""Set to 1 to see the traceback of a failed command instead of its one-line error."""


def console(argv: list[str] | None = None) -> int:
    """The ``workbench`` executable: :func:`main`, with an expected failure (bad file, bad value, missing
    input) printed as one line ``workbench COMMAND: error: ...``, not a traceback. Exit status 1 for a
    problem found in the data while running (:class:`DataError`), 2 for a usage error."""
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), "")
    try:
        return main(argv)
    except KeyboardInterrupt:
        print(f"workbench {command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, KeyError, RuntimeError, FloatingPointError) as err:
        if os.environ.get(DEBUG_ENV):
            raise
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"workbench {command}: error: {text} ({DEBUG_ENV}=1 shows the traceback)", file=sys.stderr)
        return 1 if isinstance(err, DataError) else 2


if __name__ == "__main__":
    sys.exit(console())
