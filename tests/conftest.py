"""Shared test helpers: tests/ is on sys.path, so ``import swin_reference`` works in every test."""

# Browser fixtures (``browser``, ``lab_server``) registered once for the whole session: importing
# them into several test modules would start one Playwright per module, and a second sync
# Playwright inside the first one's event loop fails.
pytest_plugins = ["live_lab", "cohort_fixtures"]

import os  # noqa: E402

# Nothing in the tests downloads weights: a timm / Hugging Face name is refused (the one test of the
# name path removes this variable and replaces timm's download).
os.environ.setdefault("WORKBENCH_OFFLINE", "1")
