"""The HGI-SAM paper's claims as paired comparisons on a study's per-slice table.

Rasoulian, Salari & Xiao (MELBA 2023) state three qualitative results: binary training gives better
attention maps than full subtyping, HGI-SAM beats Grad-CAM, and weak HGI-SAM comes close to the
fully supervised U-Net and Swin-UNETR. Each claim compares two methods on the lesion slices both
scored: the mean Dice difference a - b with a subject-level bootstrap 95 % CI
(:func:`~workbench.evaluation.aggregate.bootstrap_ci`, whole subjects resampled, so correlated
slices of one scan never narrow the interval). A "better" claim holds when the CI excludes 0; a
"close" claim holds when the whole CI lies within +- :data:`CLOSE`. The last four are not the paper's:
the workbench's own method (``rollout_blood``: rollout x the acute-blood density prior,
:mod:`workbench.operators.intensity`) against HGI-SAM on each classifier, with the margin the workbench set
itself; against the prior alone (``blood_hu``: does the classifier add anything to a density window?); and
the first candidate, HGI-SAM x Grad-CAM (``hgi_gradcam``), kept as measured.

Input: ``slices`` with columns method, subject_id, volume_id, slice_index, has_lesion, dice (one
row per method and slice, as ``workbench.protocol.run.load_protocol(...).slices``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from workbench.evaluation.aggregate import bootstrap_ci

__all__ = ["CLAIMS", "CLOSE", "Claim", "PairedDifference", "paired_difference", "verdict"]

CLOSE = 0.05
"""Margin of a "close" claim: the whole 95 % CI of the Dice difference within +- CLOSE."""


@dataclass(frozen=True)
class Claim:
    """``title``: the statement; ``a`` / ``b``: the two study methods; ``kind``: ``better`` (the CI
    excludes 0), ``close`` (the CI within +- :data:`CLOSE`) or ``better_by`` (the CI excludes 0 and the
    mean difference is at least ``margin``: the target as issue 16 sets it; the verdict says whether
    the CI's low end clears the margin too, which a margin shown with confidence would need)."""

    title: str
    a: str
    b: str
    kind: str = "better"
    margin: float = 0.0


CLAIMS = (
    Claim("binary training beats full subtyping (Swin-SAM binary vs multilabel)", "swin_sam_binary", "swin_sam_multilabel"),
    Claim("binary training beats full subtyping (HGI-SAM binary vs multilabel)", "hgi_sam", "hgi_sam_multilabel"),
    Claim("HGI-SAM beats Grad-CAM", "hgi_sam", "swin_gradcam"),
    Claim("weak HGI-SAM close to the fully supervised U-Net", "hgi_sam", "unet", "close"),
    Claim("weak HGI-SAM close to the fully supervised SwinUNETR", "hgi_sam", "swin_unetr", "close"),
    Claim("ours (rollout x blood prior) beats HGI-SAM by >= 0.05", "rollout_blood", "hgi_sam", "better_by", 0.05),
    Claim("ours beats HGI-SAM by >= 0.05 on the subtyping classifier too", "rollout_blood_multilabel",
          "hgi_sam_multilabel", "better_by", 0.05),
    Claim("ours: the classifier's attention adds to the blood prior alone", "rollout_blood", "blood_hu"),
    Claim("HGI-SAM x Grad-CAM (our first candidate) beats HGI-SAM by >= 0.05", "hgi_gradcam", "hgi_sam", "better_by", 0.05),
)


@dataclass(frozen=True)
class PairedDifference:
    """Mean Dice(a) - Dice(b) over ``n`` paired lesion slices of ``subjects`` subjects, 95 % CI [low, high]."""

    estimate: float
    low: float
    high: float
    n: int
    subjects: int


def paired_difference(slices: pd.DataFrame, a: str, b: str, seed: int = 0, n_resamples: int = 2000) -> PairedDifference:
    """Dice(a) - Dice(b) on the lesion slices both methods scored (matched by volume and slice), with
    a subject-level bootstrap CI (``seed`` seeds the resampling)."""
    missing = sorted({a, b} - set(slices["method"]))
    if missing:
        raise ValueError(f"method {missing[0]!r} is not in the study; methods present: "
                         f"{', '.join(sorted(set(slices['method'])))}")
    lesion = slices[slices["has_lesion"].astype(bool) & slices["dice"].notna()]
    pa = lesion[lesion["method"] == a].set_index(["volume_id", "slice_index"])
    pb = lesion[lesion["method"] == b].set_index(["volume_id", "slice_index"])
    both = pa.index.intersection(pb.index)
    diff = torch.tensor((pa.loc[both, "dice"] - pb.loc[both, "dice"]).to_numpy(), dtype=torch.float64)
    subjects = list(pa.loc[both, "subject_id"].astype(str))
    ci = bootstrap_ci(diff, subjects, generator=torch.Generator().manual_seed(seed), n_resamples=n_resamples)
    return PairedDifference(ci.estimate, ci.low, ci.high, len(both), len(set(subjects)))


def verdict(claim: Claim, diff: PairedDifference) -> str:
    """Whether ``claim`` holds on ``diff``, in words."""
    if claim.kind == "close":
        if -CLOSE <= diff.low and diff.high <= CLOSE:
            return f"holds (the CI of the difference lies within +- {CLOSE:g})"
        if diff.high < -CLOSE:
            return f"does not hold: {claim.a} is clearly below {claim.b}"
        return f"not shown (the CI of the difference reaches beyond +- {CLOSE:g})"
    if claim.kind == "better_by" and diff.low > 0 and diff.estimate < claim.margin:
        return f"not shown: {claim.a} better (CI excludes 0) but by {diff.estimate:.3f} < {claim.margin:g}"
    if claim.kind == "better_by" and diff.low > 0:  # the target as set: mean >= margin, CI above 0
        return (f"holds as set (mean difference >= {claim.margin:g}, CI excludes 0; the CI's low end "
                f"{diff.low:+.3f} {'also clears' if diff.low >= claim.margin else 'does not clear'} {claim.margin:g})")
    if diff.low > 0:
        return f"holds ({claim.a} better; CI excludes 0)"
    if diff.high < 0:
        return f"does not hold: {claim.b} is better (CI excludes 0)"
    return "not shown (CI of the difference includes 0)"
