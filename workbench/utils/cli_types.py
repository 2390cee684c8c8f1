"""argparse types that check a numeric option's range when the command line is parsed.

``p.add_argument("--batch-size", type=at_least(1))`` turns ``--batch-size 0`` into
``workbench train: error: argument --batch-size: 0 is out of range; valid: an integer >= 1``
before anything runs (and rejects NaN and infinities for real-valued options).
"""

from __future__ import annotations

import argparse
import math
from typing import Callable

__all__ = ["bounded", "at_least", "fraction", "positive"]


def bounded(kind: type = int, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False) -> Callable[[str], float]:
    """A type converting to ``kind`` and checking ``lo <= value <= hi`` (``lo < value`` with ``lo_open``)."""
    word = "an integer" if kind is int else "a number"
    parts = ([f"> {lo:g}" if lo_open else f">= {lo:g}"] if lo is not None else []) + \
            ([f"<= {hi:g}"] if hi is not None else [])
    valid = f"{word} {' and '.join(parts)}".strip()

    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {word}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is out of range; valid: {valid}")
        if lo is not None and (value <= lo if lo_open else value < lo) or hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"{text} is out of range; valid: {valid}")
        return value

    convert.__name__ = kind.__name__
    return convert


def at_least(lo: int) -> Callable[[str], int]:
    """An integer >= ``lo``."""
    return bounded(int, lo)


def fraction(text: str) -> float:
    """A number in [0, 1] (thresholds of min-max normalised maps, probabilities)."""
    return bounded(float, 0.0, 1.0)(text)


def positive(text: str) -> float:
    """A finite number > 0 (learning rates)."""
    return bounded(float, 0.0, lo_open=True)(text)
