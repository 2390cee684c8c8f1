"""``workbench demo`` (``make demo``): the whole workbench on synthetic data, resumable step by step.

See :mod:`workbench.demo.steps` for the steps and the output layout.
"""

from workbench.demo.settings import DemoSettings, TINY
from workbench.demo.steps import STEPS, run_demo

__all__ = ["DemoSettings", "TINY", "STEPS", "run_demo"]
