"""Scanner appearance randomisation for TRAINING subjects (domain randomisation, never evaluated cohorts).

A classifier trained on the procedural phantom alone learns what a normal phantom looks like so
exactly that a normal head which merely looks different reads as hemorrhage: a real scan (the
Cranium background), the phantom with its intracranial contrast scaled by 1.5, or the phantom under
coarser-grained noise (``bench/bench_finetune.py``'s probe: the shipped binary classifier calls 7 % of
ICH-free phantom slices hemorrhage as generated, 53 % at contrast x1.5, 70 % under 6 HU of 2 px-grain
noise). Between scanners, tube voltages,
reconstruction kernels, doses and calibrations the same head varies in just these ways; randomising
them in training asks the classifier for the bleed, not for the phantom.

Per subject (one scan, one scanner), after the lesions are painted and before the scanner noise
(:func:`~workbench.data.synth.subject.generate_subject`), inside the intracranial cavity only (skull,
scalp and air keep their HU), each value drawn uniformly from its range:

- tissue contrast ``HU' = ref + c (HU - ref)`` around the cavity's median soft-tissue HU ``ref``
  (lesions included, so their contrast scales with the tissue's, as it does with beam energy);
- a calibration offset, a smooth bias field (cupping, beam hardening; ~60 mm correlation) and a
  parenchymal mottle (~4 mm correlation: the blotchy grey-white texture of real brain);

then, over the whole image: an extra in-plane blur (reconstruction kernel) and extra noise of a
drawn amplitude and grain (the in-plane correlation of the noise, in pixels).

Draws come from a generator of their own (:func:`appearance_rng`), so a subject's head, lesions and
labels are those of the realistic subject of the same (seed, index); labels are never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from workbench.data.synth.anatomy import Anatomy
from workbench.data.synth.fields import correlated_noise, smooth_field
from workbench.utils.errors import check_choice

__all__ = ["Appearance", "APPEARANCES", "appearance_rng", "get_appearance"]

_SOFT_TISSUE_HU = (0.0, 60.0)  # the HU range whose median is the contrast reference
_BIAS_CORR_MM, _MOTTLE_CORR_MM = 60.0, 4.0
_LIMITS = {"contrast": (0.3, 3.0), "offset_hu": (-30.0, 30.0), "bias_hu": (0.0, 30.0), "mottle_hu": (0.0, 20.0),
           "blur_px": (0.0, 3.0), "noise_hu": (0.0, 20.0), "grain_px": (0.3, 4.0)}


@dataclass(frozen=True)
class Appearance:
    """Ranges ``(low, high)`` of the per-subject appearance draws (module docstring); the default is the identity."""

    contrast: tuple[float, float] = (1.0, 1.0)
    offset_hu: tuple[float, float] = (0.0, 0.0)
    bias_hu: tuple[float, float] = (0.0, 0.0)
    mottle_hu: tuple[float, float] = (0.0, 0.0)
    blur_px: tuple[float, float] = (0.0, 0.0)
    noise_hu: tuple[float, float] = (0.0, 0.0)
    grain_px: tuple[float, float] = (0.6, 0.6)

    def __post_init__(self):
        for name, (bottom, top) in _LIMITS.items():
            lo, hi = getattr(self, name)
            if not bottom <= lo <= hi <= top:
                raise ValueError(f"appearance {name} {(lo, hi)!r} out of range; valid: {bottom:g} <= low <= high <= {top:g}")

    @property
    def identity(self) -> bool:
        return self == Appearance()

    def draw(self, rng: np.random.Generator) -> dict[str, float]:
        """One subject's values (plain floats), in field order."""
        return {name: float(rng.uniform(*getattr(self, name))) for name in _LIMITS}

    def apply(self, rng: np.random.Generator, img: np.ndarray, anatomy: Anatomy) -> dict:
        """Transform ``img`` (Z, H, W) float32 HU in place; returns the drawn values (rounded) and ``reference_hu``."""
        p = self.draw(rng)
        cavity = anatomy.intracranial
        inside = img[cavity]
        soft = inside[(inside >= _SOFT_TISSUE_HU[0]) & (inside <= _SOFT_TISSUE_HU[1])]
        ref = float(np.median(soft)) if soft.size else 30.0
        inside = ref + p["contrast"] * (inside - ref) + p["offset_hu"]
        for amp, corr in ((p["bias_hu"], _BIAS_CORR_MM), (p["mottle_hu"], _MOTTLE_CORR_MM)):
            if amp > 0.0:
                inside += amp * smooth_field(rng, img.shape, anatomy.spacing, corr, corr_z_mm=max(corr, anatomy.spacing[2]))[cavity]
        img[cavity] = inside
        if p["blur_px"] > 0.05:
            img[:] = ndimage.gaussian_filter(img, sigma=(0.0, p["blur_px"], p["blur_px"]), truncate=2.5)
        if p["noise_hu"] > 0.0:
            img += correlated_noise(rng, img.shape, p["noise_hu"], corr_px=p["grain_px"])
        return {k: round(v, 4) for k, v in {**p, "reference_hu": ref}.items()}


APPEARANCES: dict[str, Appearance] = {
    "none": Appearance(),
    "randomised": Appearance(contrast=(0.6, 1.5), offset_hu=(-8.0, 8.0), bias_hu=(0.0, 5.0), mottle_hu=(0.0, 4.0),
                             blur_px=(0.0, 1.0), noise_hu=(0.0, 6.0), grain_px=(0.6, 2.5)),
}
"""Named appearance settings of the training stream (``StreamConfig.appearance``)."""


def get_appearance(name: str) -> Appearance:
    check_choice("appearance", name, tuple(APPEARANCES))
    return APPEARANCES[name]


def appearance_rng(seed: int, index: int) -> np.random.Generator:
    """The appearance draws of subject ``index`` of cohort ``seed``: independent of its head and lesions."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), 0xA99E]))
