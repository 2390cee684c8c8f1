"""Shared test helpers: tests/ is on sys.path, so ``import swin_reference`` works in every test."""
