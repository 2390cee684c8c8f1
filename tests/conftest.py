"""Shared test helpers: tests/ is on sys.path, so ``import swin_reference`` works in every test."""

# Browser fixtures (``browser``, ``lab_server``) registered once for the whole session: importing
# them into several test modules would start one Playwright per module, and a second sync
# Playwright inside the first one's event loop fails.
pytest_plugins = ["live_lab", "cohort_fixtures"]
