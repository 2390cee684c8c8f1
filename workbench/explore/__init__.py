"""What the notebooks call: load a run, explore it slice by slice, score map variants over a cohort.

- :mod:`.run`: ``resolve_run(RUN_DIR)`` -> checkpoint, manifest, data root (demo or training run).
- :mod:`.maps`: every method from one capture, per-head maps and weights, per-stage maps.
- :mod:`.session`: :class:`Explorer` (one model, one cohort; figures of 01_explore).
- :mod:`.widgets`: :class:`ExplorerApp`, the ipywidgets UI (imported lazily: needs ipywidgets).
- :mod:`.scoring`: per-slice Dice curves, fold-nested thresholds, per-subtype Dice, per-head lesion
  energy (03_learning_strategy, 04_heads_and_stages).
"""

from workbench.explore.run import RunPaths, resolve_run
from workbench.explore.session import Explorer, parse_methods

__all__ = ["Explorer", "RunPaths", "resolve_run", "parse_methods"]
