"""From per-slice metric values to per-subject / per-volume values, summaries and bootstrap CIs.

NaN marks an undefined value (e.g. Dice on a slice without hemorrhage) and every reduction here
skips it explicitly and reports how many values it used; nothing is averaged silently over NaN.
Groups are subject or volume identifiers, one per slice: a 1-D integer tensor or a sequence of
hashable ids (e.g. subject strings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Sequence

import torch

from workbench.evaluation._common import safe_div
from workbench.evaluation.overlap import dice_from_counts, iou_from_counts
from workbench.utils.errors import check_choice

__all__ = ["group_index", "group_sum", "group_mean", "volume_overlap", "lesion_volume_ml", "volume_errors",
           "Summary", "summarize", "BootstrapCI", "BOOTSTRAP_STATISTICS", "bootstrap_ci", "check_bootstrap",
           "resample_groups", "percentile_interval"]

Groups = torch.Tensor | Sequence[Hashable]
BOOTSTRAP_STATISTICS = ("slice_mean", "subject_mean")


def group_index(groups: Groups, n: int) -> tuple[list, torch.Tensor]:
    """Distinct group ids in sorted order, and each slice's index into them: (G ids, (M,) int64)."""
    if isinstance(groups, torch.Tensor):
        if groups.shape != (n,):
            raise ValueError(f"groups of shape {tuple(groups.shape)} do not match {n} values; give one id per value, (M,)")
        keys, inverse = torch.unique(groups, sorted=True, return_inverse=True)
        return keys.tolist(), inverse
    groups = list(groups)
    if len(groups) != n:
        raise ValueError(f"{len(groups)} group ids for {n} values; give one id per value")
    keys = sorted(set(groups), key=lambda g: (str(type(g)), g))
    where = {k: i for i, k in enumerate(keys)}
    return keys, torch.tensor([where[g] for g in groups], dtype=torch.int64)


def group_sum(values: torch.Tensor, groups: Groups) -> tuple[list, torch.Tensor, torch.Tensor]:
    """NaN-skipping sum per group. values: (M,) -> (ids, sums (G,) float64, counts of non-NaN (G,) int64)."""
    if values.ndim != 1:
        raise ValueError(f"values of shape {tuple(values.shape)}: give one value per slice, (M,)")
    keys, inv = group_index(groups, values.shape[0])
    ok = ~torch.isnan(values.to(torch.float64))
    sums = torch.zeros(len(keys), dtype=torch.float64).index_add_(0, inv, torch.where(ok, values.to(torch.float64), 0.0))
    counts = torch.zeros(len(keys), dtype=torch.int64).index_add_(0, inv, ok.to(torch.int64))
    return keys, sums, counts


def group_mean(values: torch.Tensor, groups: Groups) -> tuple[list, torch.Tensor, torch.Tensor]:
    """NaN-skipping mean per group (e.g. mean slice Dice per subject).

    values: (M,) -> (ids, means (G,) float64 NaN for a group without any defined value, counts (G,)).
    """
    keys, sums, counts = group_sum(values, groups)
    return keys, safe_div(sums, counts), counts


def volume_overlap(inter: torch.Tensor, pred_n: torch.Tensor, target_n: torch.Tensor,
                   groups: Groups) -> tuple[list, dict[str, torch.Tensor]]:
    """Volume-level Dice and IoU from the slice counts of :func:`overlap_counts`, summed per volume.

    inter, pred_n, target_n: (M,) -> (ids, {"dice": (G,), "iou": (G,)}), NaN for a volume without
    any ground-truth voxel.
    """
    keys, i, _ = group_sum(inter, groups)
    _, p, _ = group_sum(pred_n, groups)
    _, t, _ = group_sum(target_n, groups)
    return keys, {"dice": dice_from_counts(i, p, t), "iou": iou_from_counts(i, p, t)}


def lesion_volume_ml(voxel_counts: torch.Tensor, spacing_mm: torch.Tensor | Sequence[float]) -> torch.Tensor:
    """Volume in mL = voxel count x row_mm x col_mm x slice_mm / 1000.

    voxel_counts: (M,) (slices or volumes); spacing_mm: (3,) shared or (M, 3) per row, in the order
    (row, column, slice thickness) -> (M,) float64. Sum the slice volumes of a scan with
    :func:`group_sum` for the scan's hemorrhage volume.
    """
    spacing = torch.as_tensor(spacing_mm, dtype=torch.float64)
    counts = torch.as_tensor(voxel_counts).to(torch.float64)
    if counts.ndim != 1 or spacing.shape not in ((3,), (counts.shape[0], 3)):
        raise ValueError(f"voxel_counts of shape {tuple(counts.shape)} and spacing of shape {tuple(spacing.shape)}: "
                         f"give counts (M,) and spacing (3,) or (M, 3) as (row_mm, col_mm, slice_mm)")
    if bool((spacing <= 0).any()):
        raise ValueError(f"voxel spacing must be positive; got {spacing.unique().tolist()}")
    return counts * spacing.prod(-1) / 1000.0


def volume_errors(pred_ml: torch.Tensor, true_ml: torch.Tensor) -> dict[str, torch.Tensor]:
    """Estimated vs true hemorrhage volume. (G,) each -> error_ml (pred - true), abs_error_ml,
    relative_error ((pred - true) / true, NaN where true = 0)."""
    if pred_ml.shape != true_ml.shape:
        raise ValueError(f"pred_ml of shape {tuple(pred_ml.shape)} and true_ml of shape {tuple(true_ml.shape)} differ")
    err = pred_ml.to(torch.float64) - true_ml.to(torch.float64)
    return {"error_ml": err, "abs_error_ml": err.abs(), "relative_error": safe_div(err, true_ml)}


@dataclass(frozen=True)
class Summary:
    """Mean, standard deviation (ddof as given), standard error of the mean, number of values used."""

    mean: float
    std: float
    sem: float
    n: int

    def format(self, digits: int = 3) -> str:
        """The paper's format: 'mean +- std (SEM)'."""
        return f"{self.mean:.{digits}f} +- {self.std:.{digits}f} ({self.sem:.{digits}f})"


def summarize(values: torch.Tensor, ddof: int = 1) -> Summary:
    """NaN-skipping mean +- std (SEM) of (M,) values; NaN fields when too few values are defined."""
    v = values.reshape(-1).to(torch.float64)
    v = v[~torch.isnan(v)]
    n = int(v.numel())
    mean = float(v.mean()) if n else math.nan
    std = float(torch.sqrt(((v - v.mean()) ** 2).sum() / (n - ddof))) if n > ddof else math.nan
    return Summary(mean, std, std / math.sqrt(n) if n > ddof else math.nan, n)


@dataclass(frozen=True)
class BootstrapCI:
    """Percentile bootstrap interval over resampled groups (subjects)."""

    estimate: float
    low: float
    high: float
    level: float
    n_resamples: int
    n_groups: int
    statistic: str

    def format(self, digits: int = 3, signed: bool = False) -> str:
        """'estimate [low, high]', e.g. '0.831 [0.790, 0.868]' (``signed``: '+0.006 [-0.004, +0.015]'); NaN as 'nan'."""
        f = f"{'+' if signed else ''}.{digits}f"
        text = [("nan" if math.isnan(v) else f"{v:{f}}") for v in (self.estimate, self.low, self.high)]
        return f"{text[0]} [{text[1]}, {text[2]}]"


def check_bootstrap(level: float, n_resamples: int) -> None:
    """Raise unless 0 < level < 1 and n_resamples >= 1 (the message shows both)."""
    if not 0 < level < 1 or n_resamples < 1:
        raise ValueError(f"need 0 < level < 1 and n_resamples >= 1; got level={level}, n_resamples={n_resamples}")


def resample_groups(g: int, n_resamples: int, generator: torch.Generator) -> torch.Tensor:
    """(R, G) int64: R resamples of G groups drawn with replacement (each row: the groups drawn)."""
    return torch.randint(g, (n_resamples, g), generator=generator)


def percentile_interval(stats: torch.Tensor, level: float) -> tuple[float, float]:
    """The ((1 - level) / 2, (1 + level) / 2) percentiles of (R,) resampled statistics (linear interpolation)."""
    q = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)
    low, high = torch.quantile(stats.to(torch.float64), q).tolist()
    return low, high


def bootstrap_ci(values: torch.Tensor, groups: Groups, *, generator: torch.Generator, n_resamples: int = 2000,
                 level: float = 0.95, statistic: str = "slice_mean") -> BootstrapCI:
    """Subject-level bootstrap CI: resample whole subjects with replacement, R times.

    ``statistic``: ``"slice_mean"`` (mean over the slices of the resampled subjects, the paper's
    pooled slice mean, with subjects as clusters) or ``"subject_mean"`` (mean of subject means).
    Subjects without any defined (non-NaN) value take no part. The interval is the
    ((1 - level) / 2, (1 + level) / 2) percentiles of the R statistics.

    values: (M,) per slice; groups: (M,) subject ids; generator: explicit torch.Generator (seeded).
    """
    check_choice("bootstrap statistic", statistic, BOOTSTRAP_STATISTICS)
    check_bootstrap(level, n_resamples)
    _, sums, counts = group_sum(values, groups)
    keep = counts > 0
    sums, counts = sums[keep], counts[keep].to(torch.float64)
    g = int(sums.numel())
    if g == 0:
        return BootstrapCI(math.nan, math.nan, math.nan, level, n_resamples, 0, statistic)
    idx = resample_groups(g, n_resamples, generator)
    if statistic == "slice_mean":
        estimate = sums.sum() / counts.sum()
        stats = sums[idx].sum(1) / counts[idx].sum(1)
    else:
        means = sums / counts
        estimate = means.mean()
        stats = means[idx].mean(1)
    low, high = percentile_interval(stats, level)
    return BootstrapCI(float(estimate), low, high, level, n_resamples, g, statistic)
