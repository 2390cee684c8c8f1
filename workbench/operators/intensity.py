"""The acute-blood density prior, and the workbench's own weak method: attention refined by it.

Acute intracranial blood is hyperdense on non-contrast CT: a fresh haematoma reads roughly 40-90 HU,
brain parenchyma 20-45 HU, CSF 0-15 HU, calcification and bone far above 100 HU (Parizel et al.,
"Intracranial hemorrhage: principles of CT and MRI interpretation", Eur Radiol 2001). Classical ICH
segmentation thresholds that range and grows regions from it. Two operators use the prior:

- ``blood_hu``: the prior alone, no attention and no classifier,

      b(x) = sigmoid((HU(x) - lo) / s) * sigmoid((hi - HU(x)) / s),   lo = 40, hi = 100, s = 4 HU

  (fixed a priori from the range above, never tuned on pixel labels). It is a yardstick, not an
  explanation: it answers "what does the classifier add to a density threshold?".
- ``blood_refine`` (the workbench's own weak method with ``base="rollout"``): a base attention map,
  upsampled to the input and min-max normalised, times the prior,

      refined(x) = minmax(upsample(base(x))) * b(x),

  so a pixel scores high only where the classifier's attention and the density of blood agree. The
  base was chosen among rollout, gradient-norm-weighted rollout, Swin-SAM, HGI-SAM and Grad-CAM on
  the reference classifiers' own validation cohort, never on a study's evaluation cohort.

HU(x) is read back from the model input the capture recorded: of the channels whose CT window covers
[lo - 4 s, hi + 4 s], the narrowest (the subdural window, 80 / 200, of the default input), as
HU = c - w / 2 + v w for a channel value v in [0, 1] of window (c, w). Both operators return
(B, H, W) at the input size; ``blood_refine`` in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workbench.capture.result import CaptureResult, NotCapturedError
from workbench.operators.postprocess import minmax, upsample
from workbench.operators.registry import REGISTRY, Requirements, register
from workbench.utils.errors import check_choice

__all__ = ["BloodOptions", "RefineOptions", "input_hu", "blood_likelihood", "blood_hu", "blood_refine"]

PRIOR_OPERATORS = ("blood_hu", "blood_refine")


@dataclass(frozen=True)
class BloodOptions:
    """lo / hi: the acute-blood HU range; softness: HU width of each sigmoid edge."""

    lo: float = 40.0
    hi: float = 100.0
    softness: float = 4.0

    def __post_init__(self) -> None:
        if not (self.lo < self.hi and self.softness > 0):
            raise ValueError(f"blood HU range needs lo < hi and softness > 0, got lo={self.lo}, hi={self.hi}, "
                             f"softness={self.softness}")


@dataclass(frozen=True)
class RefineOptions(BloodOptions):
    """base: the attention operator refined (its default options)."""

    base: str = "rollout"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("base method", self.base, tuple(n for n in REGISTRY if n not in PRIOR_OPERATORS))


def input_hu(result: CaptureResult, lo: float, hi: float) -> torch.Tensor:
    """(B, H, W) HU read back from the narrowest input channel whose window covers [lo, hi]."""
    if result.inputs is None or result.windows is None:
        raise NotCapturedError("the capture has no model input or no CT windows (a model without a workbench config); "
                               "the blood prior needs both")
    fits = [(w, i) for i, (c, w) in enumerate(result.windows) if c - w / 2 <= lo and c + w / 2 >= hi]
    if not fits:
        raise ValueError(f"no input window covers {lo:g}..{hi:g} HU; the model's windows (center, width): "
                         f"{', '.join(f'({c:g}, {w:g})' for c, w in result.windows)}")
    width, channel = min(fits)
    center = result.windows[channel][0]
    return center - width / 2 + result.inputs[:, channel].float() * width


def blood_likelihood(hu: torch.Tensor, opts: BloodOptions) -> torch.Tensor:
    """Soft acute-blood window of ``hu`` (...): sigmoid((hu - lo) / s) * sigmoid((hi - hu) / s)."""
    return torch.sigmoid((hu - opts.lo) / opts.softness) * torch.sigmoid((opts.hi - hu) / opts.softness)


def _prior(result: CaptureResult, opts: BloodOptions) -> torch.Tensor:
    margin = 4 * opts.softness
    return blood_likelihood(input_hu(result, opts.lo - margin, opts.hi + margin), opts)


def _base_requires(opts: RefineOptions) -> Requirements:
    base = REGISTRY[opts.base]
    return base.requires(base.options())


@register("blood_hu", BloodOptions, lambda opts: Requirements(),
          "yardstick: the acute-blood density window alone (Parizel et al., Eur Radiol 2001); no attention")
def blood_hu(result: CaptureResult, opts: BloodOptions) -> torch.Tensor:
    """The blood prior b(x) of the input. -> (B, H, W) in [0, 1]."""
    return _prior(result, opts)


@register("blood_refine", RefineOptions, _base_requires,
          "this workbench: an attention map (rollout, Abnar & Zuidema, ACL 2020, by default) x the acute-blood prior")
def blood_refine(result: CaptureResult, opts: RefineOptions) -> torch.Tensor:
    """minmax(upsample(base)) * b(x). -> (B, H, W) in [0, 1]."""
    base = REGISTRY[opts.base]
    heat = minmax(upsample(base(result, base.options()), result.image_size))
    return heat * _prior(result, opts)
