"""The demo's comparison study of the methods: an adapter to ``workbench.evaluation.study``.

Until that API lands, the step reports that it was skipped (02_compare_methods needs its output).
"""

from __future__ import annotations

from pathlib import Path

from workbench.demo.settings import DemoSettings

__all__ = ["evaluation_available", "evaluate_demo"]


def evaluation_available() -> bool:
    try:
        import workbench.evaluation.study  # noqa: F401
    except ImportError:
        return False
    return True


def evaluate_demo(out: Path, settings: DemoSettings) -> Path | None:
    """Run the comparison study on the demo's evaluation cohort into ``OUT/evaluation``."""
    if not evaluation_available():
        print("  skipped: workbench.evaluation.study is not available yet")
        return None
    raise NotImplementedError("wire workbench.evaluation.study.run_study here")
