"""Error types and the message helpers that name the bad value and the valid choices."""

from __future__ import annotations

from typing import Iterable

__all__ = ["DataError", "choice_error", "check_choice", "check_at_least"]


class DataError(ValueError):
    """A problem with an input file or table; the message names the file and the problem."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def choice_error(what: str, value, choices: Iterable, where: str = "") -> ValueError:
    """A ValueError saying ``value`` is not a valid ``what`` (``where``: e.g. " of stage 2") and listing
    the valid choices: ``unknown block 3 of stage 2; valid choices: 1, 2``."""
    choices = list(choices)
    return ValueError(f"unknown {what} {value!r}{where}; valid choices: {', '.join(map(str, choices))}")


def check_choice(what: str, value, choices: Iterable, where: str = ""):
    """Return ``value`` if it is one of ``choices``, else raise :func:`choice_error`."""
    choices = list(choices)
    if value not in choices:
        raise choice_error(what, value, choices, where)
    return value


def check_at_least(obj, names: Iterable[str], minimum: int = 1) -> None:
    """Raise ValueError naming the first attribute of ``obj`` in ``names`` that is below ``minimum``."""
    for name in names:
        value = getattr(obj, name)
        if value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
