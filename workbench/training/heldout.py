"""Held-out detection report of a classifier: ROC-AUC on all slices and by lesion-size stratum.

The strata answer "how much of the error comes from bleeds too small to see": a positive slice is
binned by its lesion pixels at the SOURCE resolution (``lesion_px``) and at the model's INPUT
resolution (``input_px``); every negative slice is kept in every stratum, so each stratum's AUC is
"positives of this size vs all negatives".
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import Dataset

from workbench.training.config import TrainConfig
from workbench.training.loop import evaluate
from workbench.evaluation.ranking import binary_auc
from workbench.training.metrics import classification_metrics

__all__ = ["SIZE_BINS", "lesion_pixels", "heldout_report", "auc_by_size"]

SIZE_BINS: tuple[tuple[int, int], ...] = ((1, 25), (25, 100), (100, 400), (400, 10**9))
"""Lesion-pixel strata [lo, hi) of a positive slice."""


def lesion_pixels(dataset: Dataset, input_masks: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(N,) lesion pixels per item at the source resolution and (N,) at the input resolution.

    ``dataset`` is a :class:`~workbench.data.dataset.SliceDataset` (``load_hu`` gives the source mask);
    ``input_masks`` (N, S, S), when already decoded (e.g. by ``CachedImages``), spares decoding the items.
    """
    source = []
    for i in range(len(dataset)):
        _, mask, _ = dataset.load_hu(i)
        source.append(0 if mask is None else int(np.count_nonzero(mask)))
    if input_masks is None:
        input_masks = torch.stack([dataset[i]["mask"] for i in range(len(dataset))])
    return np.asarray(source), input_masks.flatten(1).sum(1).long().numpy()


def auc_by_size(any_label: np.ndarray, score: np.ndarray, pixels: np.ndarray) -> dict[str, dict]:
    """``{"lo-hi": {"auc": .., "positives": n}}``: each stratum's positives against every negative,
    plus ``">=100"`` (the issue's large-bleed figure)."""
    neg = any_label < 0.5
    out = {}
    bins = list(SIZE_BINS) + [(100, 10**9)]
    for lo, hi in bins:
        pos = (any_label >= 0.5) & (pixels >= lo) & (pixels < hi)
        name = f">={lo}" if (lo, hi) == (100, 10**9) else (f"{lo}-{hi - 1}" if hi < 10**9 else f">={lo}")
        keep = neg | pos
        out[name] = {"auc": binary_auc(any_label[keep], score[keep]) if pos.any() else math.nan, "positives": int(pos.sum())}
    return out


def heldout_report(model: torch.nn.Module, dataset: Dataset, task: str, class_names: tuple[str, ...],
                   pixels: tuple[np.ndarray, np.ndarray] | None = None, precision: str = "fp32",
                   device: torch.device | str = "cpu") -> dict:
    """Detection metrics of ``model`` on ``dataset``: AUC of ``any`` on all slices, per-label AUCs
    (multilabel), and AUC by lesion-size stratum at the source and the input resolution."""
    cfg = TrainConfig(task=task, precision=precision, eval_batch_size=64)
    loss, probs, labels = evaluate(model, dataset, cfg, torch.device(device), desc="held-out")
    metrics = classification_metrics(task, probs, labels, class_names)
    score = probs if task == "binary" else probs[:, 0]
    source_px, input_px = pixels if pixels is not None else lesion_pixels(dataset)
    return {"slices": int(len(labels)), "positives": int((labels[:, 0] >= 0.5).sum()), "loss": loss,
            "auc_any": binary_auc(labels[:, 0], score),
            **{k: v for k, v in metrics.items() if k.startswith("auc_") and k != "auc_any"},
            "by_source_px": auc_by_size(labels[:, 0], score, source_px),
            "by_input_px": auc_by_size(labels[:, 0], score, input_px)}
