"""Validation metrics from probabilities (never hard labels) and the per-epoch metrics CSV.

ROC-AUC is the workbench's one implementation (:func:`workbench.evaluation.ranking.binary_auc`,
Mann-Whitney U with ties, equal to scikit-learn's) on probabilities; it is NaN when the held-out
set holds one class only (for that label).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.evaluation.ranking import binary_auc
from workbench.utils.io import write_csv_atomic

__all__ = ["classification_metrics", "MetricsLog"]


def classification_metrics(task: str, probs: np.ndarray, labels: np.ndarray,
                           class_names: tuple[str, ...]) -> dict[str, float]:
    """Metrics of one validation pass.

    probs: (N,) P(ICH) for ``binary``, (N, 6) sigmoids for ``multilabel``; labels: (N, 6).
    Returns ``auc`` (binary: ICH detection; multilabel: mean over labels with both classes),
    ``accuracy`` (binary: argmax; multilabel: per-label at 0.5, averaged), ``auc_any`` and, for
    multilabel, ``auc_<label>`` per label.
    """
    labels = np.asarray(labels)
    if task == "binary":
        auc = binary_auc(labels[:, 0], probs)
        return {"auc": auc, "accuracy": float(((probs >= 0.5) == (labels[:, 0] >= 0.5)).mean()), "auc_any": auc}
    per = {f"auc_{name}": binary_auc(labels[:, k], probs[:, k]) for k, name in enumerate(class_names)}
    finite = [v for v in per.values() if not math.isnan(v)]
    return {"auc": float(np.mean(finite)) if finite else math.nan,
            "accuracy": float(((probs >= 0.5) == (labels >= 0.5)).mean()), **per}


class MetricsLog:
    """Per-epoch rows, rewritten atomically to ``path`` after each :meth:`append`."""

    def __init__(self, path: str | Path, rows: list[dict] | None = None):
        self.path = Path(path)
        self.rows: list[dict] = list(rows or [])

    def append(self, row: dict) -> None:
        """Add ``row`` and rewrite the CSV, columns in the order of the newest row (rows restored from a
        resume state come back with sorted keys; a resumed run writes the same file as an uninterrupted one)."""
        self.rows.append(dict(row))
        columns = list(row) + [c for r in self.rows for c in r if c not in row]
        write_csv_atomic(self.path, pd.DataFrame(self.rows, columns=list(dict.fromkeys(columns))))
