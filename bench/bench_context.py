"""How much neighbouring slices add to slice detection (issue 13's ceiling): a context head over a scan's
slice logits, measured on the reference classifiers' held-out cohort.

The reference classifiers score each slice alone. A bleed spans several slices, so a slice whose
bleed is too small or too faint to see may sit next to one where it is plain (the RSNA 2019 winning
entries put a sequence model over per-slice CNN outputs for this reason). This benchmark measures
that lever without changing the classifiers: a small 1D convolution over the ICH logits of a scan's
slices (in order) predicts a correction to each slice's logit:

    z'_i = z_i + f(z_{i-k..i+k}),  f = Conv1d(1, h, k) -> GELU -> Conv1d(h, h, k) -> GELU -> Conv1d(h, 1, 1)

trained with BCE on the slice labels of realistic subjects of the training stream's seed (the
``bench/bench_engine.py`` U-Net yardstick's 200 subjects: seed 9000, never an evaluated cohort), for
a fixed number of epochs, three seeds; scored on the validation (9100) and held-out (9200) cohorts.
Reported: ROC-AUC on all slices and by lesion size / contrast stratum
(:mod:`workbench.training.heldout`), slice model alone vs with context.

Not shipped: the context head does not reach the 0.90 target either (see ``bench/results/context.md``).

Run: ``.venv/bin/python bench/bench_context.py`` (about 4 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from common import table, write_result
from workbench.data.dataset import SliceDataset
from workbench.evaluation.ranking import binary_auc
from workbench.models.checkpoint import load_model
from workbench.models.factory import model_config
from workbench.training.config import TrainConfig
from workbench.training.heldout import auc_by_contrast, auc_by_size, lesion_strata
from workbench.training.loop import evaluate
from workbench.training.recipes import RECIPES, STREAM_SEED, CohortSpec, ensure_cohort

ROOT = Path(__file__).resolve().parents[1]


def slice_logits(model: nn.Module, dataset: SliceDataset) -> torch.Tensor:
    """(N,) ICH logit of every slice: the logit of the trainer's P(ICH) (:func:`workbench.training.loop.evaluate`;
    binary: the logit difference ich - no ICH; multilabel: ``any``)."""
    task = model_config(model).task
    _, probs, _ = evaluate(model, dataset, TrainConfig(task=task, precision="fp32", eval_batch_size=48),
                           torch.device("cpu"), desc="slices")
    prob = torch.from_numpy(probs if task == "binary" else probs[:, 0])
    return torch.logit(prob, eps=1e-7).float()


def by_scan(frame, values: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
    """(S, K) values of S scans of K slices each, slices in order, and the (S*K,) row order used."""
    order = np.lexsort((frame["slice_index"].to_numpy(), frame["volume_id"].to_numpy()))
    scans = frame["volume_id"].nunique()
    return values[torch.from_numpy(order)].reshape(scans, -1), order


class ContextHead(nn.Module):
    """z (S, K) slice logits -> (S, K) logits corrected from their neighbours (module docstring)."""

    def __init__(self, kernel: int = 5, hidden: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(1, hidden, kernel, padding=kernel // 2), nn.GELU(),
                                 nn.Conv1d(hidden, hidden, kernel, padding=kernel // 2), nn.GELU(), nn.Conv1d(hidden, 1, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.net(z[:, None] / 4.0)[:, 0]


def fit_head(z: torch.Tensor, y: torch.Tensor, seed: int, epochs: int = 60) -> ContextHead:
    torch.manual_seed(seed)
    head = ContextHead()
    opt = torch.optim.AdamW(head.parameters(), lr=3e-3, weight_decay=1e-2)
    for _ in range(epochs):
        for idx in torch.randperm(len(z)).split(16):
            loss = nn.functional.binary_cross_entropy_with_logits(head(z[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head.eval()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoints", nargs="+", default=["reference-binary", "reference-multilabel"])
    p.add_argument("--data-dir", default=str(ROOT / "runs" / "reference_data"))
    p.add_argument("--train-subjects", type=int, default=200)
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args(argv)
    data_dir = Path(args.data_dir)
    recipe = RECIPES["reference-binary"]
    cohorts = {"train": CohortSpec(STREAM_SEED, args.train_subjects), "validation": recipe.val, "held-out": recipe.test}
    frames = {k: ensure_cohort(spec, data_dir) for k, spec in cohorts.items()}
    rows = []
    held_root, held_frame = frames["held-out"]  # source figures: the same for every classifier (input size moot)
    held_px, _, held_contrast = lesion_strata(SliceDataset(held_frame, held_root, size=64, brain_mask=False))
    for name in args.checkpoints:
        model = load_model(name).eval()
        cfg = model_config(model)
        data = {}
        for what, (root, frame) in frames.items():
            ds = SliceDataset(frame, root, size=cfg.arch.img_size, brain_mask=False, **cfg.input_kwargs())
            z, order = by_scan(frame, slice_logits(model, ds))
            y, _ = by_scan(frame, ds.labels[:, 0])
            data[what] = (z, y, order)
        ztr, ytr = data["train"][:2]
        scores = {"slice model": {w: data[w][0] for w in ("validation", "held-out")}}
        for seed in range(args.seeds):
            head = fit_head(ztr, ytr, seed)
            with torch.no_grad():
                scores[f"context head, seed {seed}"] = {w: head(data[w][0]) for w in ("validation", "held-out")}
        _, yte, order = data["held-out"]
        source_px, contrast = held_px[order], held_contrast[order]
        for label, s in scores.items():
            yv, yh = data["validation"][1].flatten().numpy(), yte.flatten().numpy()
            sh = s["held-out"].flatten().numpy()
            size, con = auc_by_size(yh, sh, source_px), auc_by_contrast(yh, sh, contrast, source_px)
            rows.append([name, label, f"{binary_auc(yv, s['validation'].flatten().numpy()):.3f}",
                         f"**{binary_auc(yh, sh):.3f}**", f"{size['1-24']['auc']:.3f}", f"{size['25-99']['auc']:.3f}",
                         f"{size['>=100']['auc']:.3f}", f"{con['<5 HU']['auc']:.3f}", f"{con['5-15 HU']['auc']:.3f}",
                         f"{con['>=15 HU']['auc']:.3f}"])
        print(name, "done", flush=True)
    body = ("Context head over each scan's slice logits (module docstring of `bench/bench_context.py`), trained on "
            f"{args.train_subjects} realistic subjects of the stream's seed {STREAM_SEED}, scored on the validation "
            "(seed 9100, 30 subjects) and held-out (seed 9200, 40 subjects) cohorts; held-out strata by lesion pixels "
            "and local contrast at the 256 px source, every negative kept in each.\n\n"
            + table(["classifier", "scores", "validation AUC", "held-out AUC", "1-24 px", "25-99 px", ">= 100 px",
                     "< 5 HU", "5-15 HU", ">= 15 HU"], rows))
    path = write_result("context", "Neighbouring slices: a context head over the slice logits", body)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
