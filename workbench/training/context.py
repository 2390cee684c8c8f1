"""Training and scoring a classifier's scan-context head (:class:`workbench.models.context.ContextHead`).

The head learns from the slice labels of realistic subjects of the synthetic stream's own seed
(:data:`CONTEXT_COHORT`: seed 9000, subjects 0-199, which no evaluated cohort uses), read through the
frozen classifier: each scan's ICH logits in slice order -> corrected logits, binary cross-entropy on
the slices' ``any`` label, AdamW, a fixed number of epochs (no early stopping: the validation and
held-out cohorts only score it). ``bench/bench_context.py`` measures it over seeds;
:func:`workbench.training.reference.export_context` ships one beside a reference classifier.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from workbench.data.dataset import SliceDataset
from workbench.evaluation.ranking import binary_auc
from workbench.models.context import ContextHead, frame_context_probabilities, scan_groups, to_logits
from workbench.models.factory import model_config
from workbench.training.config import TrainConfig
from workbench.training.loop import evaluate
from workbench.training.recipes import STREAM_SEED, CohortSpec, ensure_cohort

__all__ = ["CONTEXT_COHORT", "CONTEXT_EPOCHS", "ich_probabilities", "fit_context_head", "cohort_probabilities",
           "train_context"]

CONTEXT_COHORT = CohortSpec(STREAM_SEED, 200)
"""Realistic subjects the head trains on: the stream's seed, never an evaluated cohort's."""
CONTEXT_EPOCHS = 60


def ich_probabilities(model: nn.Module, dataset, all_labels: bool = False) -> np.ndarray:
    """(N,) P(ICH) of every item of ``dataset`` (fp32, CPU): the trainer's own
    :func:`~workbench.training.loop.evaluate` (binary: softmax of ich; multilabel: sigmoid of ``any``).
    ``all_labels``: a multilabel model's (N, L) probabilities of every label of its ``class_names`` instead."""
    task = model_config(model).task
    _, probs, _ = evaluate(model, dataset, TrainConfig(task=task, precision="fp32", eval_batch_size=48),
                           torch.device("cpu"), desc="slices")
    return probs if task == "binary" or all_labels else probs[:, 0]


def cohort_probabilities(model: nn.Module, spec: CohortSpec, data_dir: str | Path, background: str = "procedural",
                         all_labels: bool = False) -> tuple[pd.DataFrame, np.ndarray, SliceDataset]:
    """Write (once) the realistic cohort ``spec`` (on ``background``) and score it: ``(frame, P(ICH) (N,), dataset)``
    (``all_labels``: (N, L) of a multilabel model, :func:`ich_probabilities`)."""
    root, frame = ensure_cohort(spec, Path(data_dir), background)
    cfg = model_config(model)
    dataset = SliceDataset(frame, root, size=cfg.arch.img_size, brain_mask=False, **cfg.input_kwargs())
    return frame, ich_probabilities(model, dataset, all_labels), dataset


def fit_context_head(probs, labels, volume_ids, slice_index, seed: int = 0, epochs: int = CONTEXT_EPOCHS,
                     batch_scans: int = 16, lr: float = 3e-3) -> ContextHead:
    """Train a :class:`ContextHead` on N slices: their P(ICH) (N,), 0/1 ``any`` labels (N,) and the scan /
    slice position of each (any row order; scans of one length share a batch, :func:`scan_groups`)."""
    z, y = to_logits(probs).float(), torch.from_numpy(np.array(labels, dtype=np.float32))
    groups = [torch.from_numpy(rows) for rows in scan_groups(volume_ids, slice_index)]
    torch.manual_seed(seed)
    head = ContextHead()
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-2)
    for _ in range(epochs):
        batches = [g[idx] for g in groups for idx in torch.randperm(len(g)).split(batch_scans)]
        for i in torch.randperm(len(batches)).tolist():
            rows = batches[i]
            loss = nn.functional.binary_cross_entropy_with_logits(head(z[rows]), y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head.eval()


def train_context(model: nn.Module, data_dir: str | Path, cohorts: dict[str, CohortSpec], seed: int = 0,
                  train: CohortSpec = CONTEXT_COHORT, epochs: int = CONTEXT_EPOCHS) -> tuple[ContextHead, dict, dict]:
    """Fit a head for ``model`` on ``train`` and score it on ``cohorts`` (name -> spec, e.g. validation and
    held-out): ``(head, record, scored)``; the record holds, per cohort, the slice AUC without and with
    context; ``scored`` per cohort ``(frame, P(ICH), P(ICH) with context, dataset)`` for further strata."""
    frame, probs, _ = cohort_probabilities(model, train, data_dir)
    head = fit_context_head(probs, frame["any"].to_numpy(), frame["volume_id"], frame["slice_index"], seed, epochs)
    record = {"training_cohort": train.to_dict(), "epochs": epochs, "seed": seed,
              "kernel": head.net[0].kernel_size[0], "hidden": head.net[0].out_channels, "scores": {}}
    scored = {}
    for name, spec in cohorts.items():
        f, p, dataset = cohort_probabilities(model, spec, data_dir)
        ctx = frame_context_probabilities(head, p, f)
        y = f["any"].to_numpy()
        record["scores"][name] = {"cohort": spec.to_dict(), "auc_slice": binary_auc(y, p), "auc_context": binary_auc(y, ctx)}
        scored[name] = (f, p, ctx, dataset)
    return head, record, scored
