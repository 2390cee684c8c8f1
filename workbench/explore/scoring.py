"""Score map variants over a cohort: per-slice Dice curves, fold-nested thresholds, per-head energy.

Used by 03_learning_strategy (one variant per model) and 04_heads_and_stages (ablations). A
*variant* is ``(method, options)``, e.g. ``("hgi_sam", {"stages": (1, 2), "heads": "topk"})``;
all variants of a batch come from one capture. Thresholds are chosen per test fold on the other
folds (:func:`workbench.evaluation.select_thresholds`), so the reported Dice is not tuned on the
slices it is measured on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from workbench.api import explain
from workbench.capture import capture
from workbench.data.dataset import SliceDataset
from workbench.data.labels import LABEL_COLUMNS
from workbench.evaluation import dice_curve, energy_pointing_game, select_thresholds, summarize, threshold_grid
from workbench.models.ich import ich_index, ich_probability, model_task
from workbench.operators import SwinSamOptions, head_maps, upsample
from workbench.operators.attention_maps import head_weights
from workbench.utils.progress import progress

__all__ = ["Scores", "HeadEnergy", "lesion_rows", "batches", "score_variants", "head_energy", "combine", "detection_frame", "SUBTYPES"]

SUBTYPES = tuple(c for c in LABEL_COLUMNS if c != "any")


def lesion_rows(dataset: SliceDataset, max_slices: int = 0, seed: int = 0) -> list[int]:
    """Rows with a non-empty lesion mask (``has_mask`` and ``any``); ``max_slices`` > 0 keeps an
    evenly spread subset of that many (deterministic for a ``seed``)."""
    frame = dataset.frame
    rows = frame.index[(frame["has_mask"] == 1) & (frame["any"] == 1)].tolist()
    if max_slices and len(rows) > max_slices:
        rng = np.random.default_rng(seed)
        rows = sorted(rng.choice(rows, size=max_slices, replace=False).tolist())
    if not rows:
        raise ValueError("the cohort has no slice with a lesion mask (has_mask == 1 and any == 1)")
    return rows


def batches(dataset: SliceDataset, rows: Sequence[int], batch_size: int, desc: str = "slices") -> Iterator[dict]:
    """Stacked dataset items of ``rows``: image (B, C, S, S), mask / brain_mask (B, S, S), index (B,)."""
    loader = DataLoader(Subset(dataset, list(rows)), batch_size=batch_size, shuffle=False, num_workers=0)
    yield from progress(loader, desc=desc, total=len(loader))


@dataclass(frozen=True)
class Scores:
    """Per-slice scores of several variants on the same slices.

    curves: {variant: (M, Q)} Dice per slice at each grid threshold; grid: (Q,); slices: one row
    per slice (row, subject_id, fold, prob, labels); dice: {variant: (M,)} Dice at the threshold
    chosen for the slice's fold on the other folds; thresholds: {variant: {fold: t}}.
    """

    curves: Mapping[str, torch.Tensor]
    grid: torch.Tensor
    slices: pd.DataFrame
    dice: Mapping[str, torch.Tensor]
    thresholds: Mapping[str, Mapping[int, float]]

    def long(self) -> pd.DataFrame:
        """One row per (variant, slice): the slice columns + variant, dice, threshold."""
        parts = []
        for v, d in self.dice.items():
            part = self.slices.copy()
            part.insert(0, "variant", v)
            part["dice"] = d.numpy()
            part["threshold"] = part["fold"].map(self.thresholds[v])
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """Per variant: nested Dice mean, std, SEM, n; the best single threshold and its mean Dice."""
        rows = []
        for v, c in self.curves.items():
            s = summarize(self.dice[v])
            mean_curve = torch.nanmean(c, dim=0)
            best = int(torch.argmax(torch.nan_to_num(mean_curve, nan=-1.0)))
            rows.append({"variant": v, "dice": s.mean, "std": s.std, "sem": s.sem, "n": s.n,
                         "best_threshold": float(self.grid[best]), "dice_at_best": float(mean_curve[best])})
        return pd.DataFrame(rows)

    def curve_frame(self) -> pd.DataFrame:
        """Mean Dice versus threshold: columns variant, threshold, dice, sem."""
        rows = []
        for v, c in self.curves.items():
            mean = torch.nanmean(c, dim=0)
            n = (~torch.isnan(c)).sum(0).clamp_min(1)
            sem = torch.sqrt(torch.nanmean((c - mean) ** 2, dim=0) / n)
            rows += [{"variant": v, "threshold": float(t), "dice": float(m), "sem": float(e)}
                     for t, m, e in zip(self.grid, mean, sem)]
        return pd.DataFrame(rows)

    def per_subtype(self) -> pd.DataFrame:
        """Nested Dice per subtype label (slices carrying that subtype): variant, subtype, dice, sem, n."""
        long = self.long()
        rows = []
        for (v, sub) in [(v, s) for v in self.dice for s in SUBTYPES]:
            vals = long[(long["variant"] == v) & (long[sub] == 1)]["dice"].to_numpy(float)
            vals = vals[np.isfinite(vals)]
            sem = float(vals.std(ddof=1) / np.sqrt(vals.size)) if vals.size > 1 else float("nan")
            rows.append({"variant": v, "subtype": sub, "dice": float(vals.mean()) if vals.size else float("nan"),
                         "sem": sem, "n": int(vals.size)})
        return pd.DataFrame(rows)


class HeadEnergy:
    """Accumulates, per (stage, block, head), the share of the head's map inside the lesion."""

    def __init__(self, gradient: str = "logits"):
        self.gradient = gradient
        self.sums: dict[tuple[int, int, int], list[float]] = {}
        self.uniform = [0.0, 0]  # what a constant map inside the brain scores: the lesion's share of the brain

    def add(self, result, mask: torch.Tensor, brain: torch.Tensor) -> None:
        """One batch: capture ``result``, lesion ``mask`` (B, S, S) bool, ``brain`` (B, S, S)."""
        size = tuple(mask.shape[-2:])
        chance = energy_pointing_game(brain.float(), mask)
        self.uniform[0] += float(chance[torch.isfinite(chance)].sum())
        self.uniform[1] += int(torch.isfinite(chance).sum())
        for rec in result.blocks:
            maps = head_maps(rec, SwinSamOptions(heads="none"))  # (B, h, T, T)
            alpha = head_weights(rec.gradient(self.gradient), "gradnorm")
            alpha = alpha.reshape(maps.shape[0], -1, maps.shape[1]).mean(1)  # (B, h)
            for h in range(maps.shape[1]):
                e = energy_pointing_game(upsample(maps[:, h], size).clamp_min(0) * brain, mask)  # (B,)
                ok = torch.isfinite(e)
                acc = self.sums.setdefault((rec.stage, rec.index, h), [0.0, 0.0, 0])
                acc[0] += float(e[ok].sum())
                acc[1] += float(alpha[:, h][ok].sum())
                acc[2] += int(ok.sum())

    def frame(self) -> pd.DataFrame:
        """Columns stage, block, head (1-based), energy, alpha, n, alpha_rank (1 = largest α in its
        block) and enrichment = energy / the energy of a uniform map over the brain (1 = chance)."""
        frame = pd.DataFrame([{"stage": s + 1, "block": b + 1, "head": h + 1, "energy": e / max(n, 1),
                               "alpha": a / max(n, 1), "n": n} for (s, b, h), (e, a, n) in self.sums.items()])
        frame["enrichment"] = frame["energy"] / (self.uniform[0] / max(self.uniform[1], 1))
        frame["alpha_rank"] = frame.groupby(["stage", "block"])["alpha"].rank(ascending=False, method="first").astype(int)
        return frame


def score_variants(model: nn.Module, dataset: SliceDataset, rows: Sequence[int],
                   variants: Mapping[str, tuple[str, Mapping[str, Any]]], batch_size: int = 16,
                   grid: torch.Tensor | None = None, desc: str = "scoring", heads: HeadEnergy | None = None) -> Scores:
    """Dice curves of every variant on ``rows`` (slices with lesions), fold-nested thresholds.

    ``heads``: also accumulate per-head lesion energy from the same captures (see :func:`head_energy`).
    """
    grid = threshold_grid() if grid is None else grid
    target, task = ich_index(model), model_task(model)
    curves: dict[str, list[torch.Tensor]] = {v: [] for v in variants}
    probs: list[torch.Tensor] = []
    for batch in batches(dataset, rows, batch_size, desc=desc):
        out = explain(model, batch["image"], (), target, batch["brain_mask"], normalize=True, variants=variants,
                      gradients=("logits", "probs"), return_capture=True)
        probs.append(ich_probability(task, out.result.logits).detach())
        mask = batch["mask"] > 0.5
        for v in variants:
            curves[v].append(dice_curve(out.maps[v].detach(), mask, grid))
        if heads is not None:
            heads.add(out.result, mask, batch["brain_mask"])
    stacked = {v: torch.cat(c) for v, c in curves.items()}
    frame = dataset.frame.loc[list(rows), ["subject_id", "slice_index", "fold", *LABEL_COLUMNS]].reset_index()
    frame = frame.rename(columns={"index": "row"})
    frame["prob"] = torch.cat(probs).numpy()
    folds = torch.tensor(frame["fold"].to_numpy(copy=True))
    nested, chosen = {}, {}
    for v, c in stacked.items():
        picked = select_thresholds(c, folds, grid) if folds.unique().numel() > 1 else None
        if picked is None:  # one fold only: no held-out choice possible, use the cohort's best threshold
            best = float(grid[int(torch.argmax(torch.nan_to_num(torch.nanmean(c, 0), nan=-1.0)))])
            chosen[v] = {int(folds[0]): best}
        else:
            chosen[v] = {k: ft.threshold for k, ft in picked.items()}
        index = torch.as_tensor([int(torch.argmin((grid - chosen[v][int(f)]).abs())) for f in folds])
        nested[v] = c.gather(1, index[:, None])[:, 0]
    return Scores(stacked, grid, frame, nested, chosen)


def head_energy(model: nn.Module, dataset: SliceDataset, rows: Sequence[int], gradient: str = "logits",
                batch_size: int = 16) -> pd.DataFrame:
    """Which heads carry the bleed: for every (stage, block, head), the mean share of the head's
    map (upsampled, ReLU, brain-masked) that falls inside the lesion (energy pointing game) and
    the mean HGI-SAM weight alpha = ||G||_F (:meth:`HeadEnergy.frame`). To score variants in the
    same pass, give a :class:`HeadEnergy` to :func:`score_variants` instead."""
    acc = HeadEnergy(gradient)
    target = ich_index(model)
    for batch in batches(dataset, rows, batch_size, desc="heads"):
        acc.add(capture(model, batch["image"], target, gradients=("logits", "probs")), batch["mask"] > 0.5,
                batch["brain_mask"])
    return acc.frame()


def combine(named: Mapping[str, Scores]) -> Scores:
    """Scores of several models on the same slices as one :class:`Scores`, variants renamed
    ``<name>`` (one variant each) or ``<name>/<variant>`` (several)."""
    first = next(iter(named.values()))
    curves, dice, thresholds = {}, {}, {}
    for name, s in named.items():
        if list(s.slices["row"]) != list(first.slices["row"]):
            raise ValueError(f"scores {name!r} are on other slices than {next(iter(named))!r}")
        for v in s.curves:
            key = name if len(s.curves) == 1 else f"{name}/{v}"
            curves[key], dice[key], thresholds[key] = s.curves[v], s.dice[v], s.thresholds[v]
    return Scores(curves, first.grid, first.slices.drop(columns=["prob"]), dice, thresholds)


@torch.no_grad()
def detection_frame(model: nn.Module, dataset: SliceDataset, batch_size: int = 32) -> pd.DataFrame:
    """P(ICH) of every slice of ``dataset`` next to its ``any`` label: columns row, subject_id, fold, any, prob."""
    task = model_task(model)
    probs = [ich_probability(task, model(b["image"])) for b in batches(dataset, range(len(dataset)), batch_size,
                                                                       desc="detection")]
    frame = dataset.frame[["subject_id", "fold", "any"]].reset_index().rename(columns={"index": "row"})
    frame["prob"] = torch.cat(probs).numpy()
    return frame
