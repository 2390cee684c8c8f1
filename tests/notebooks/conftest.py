"""Fixtures of the notebook tests (defined in :mod:`notebook_helpers`)."""

from notebook_helpers import tiny_demo  # noqa: F401
