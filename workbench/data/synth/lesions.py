"""The five ICH subtypes: volumes, places, shapes and HU from literature values for ICH subtypes.

Each shape is grown to its sampled volume by taking the ``n`` voxels of lowest *score* among the
allowed voxels (a lens profile for EDH, a crescent for SDH, a perturbed ellipsoid for IPH, height
above the dependent wall for IVH, distance along CSF for SAH), so the realised volume is exact and
the place rules hold by construction. Painting blends a lesion HU into the image through a slightly
smoothed mask (partial volume); the ground truth is the unsmoothed mask.

Overlaps: lesions are painted in :data:`PAINT_ORDER` and a later subtype overwrites an earlier one
in both image and labels, so extra-axial blood wins: epidural > subdural > intraparenchymal >
intraventricular > subarachnoid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from workbench.data.labels import SUBTYPE_CODES, SUBTYPES
from workbench.data.synth.anatomy import Anatomy
from workbench.data.synth.fields import smooth_field, wrap_angle
from workbench.utils.errors import check_choice

__all__ = ["LESION_STATS", "PAINT_ORDER", "REALISTIC", "SUBTYPE_WEIGHTS", "Difficulty", "LesionInfo", "sample_volume_ml",
           "insert_lesions", "summarise_lesions"]

# subtype: (median mL, p5 mL, p95 mL, measured mean HU, HU sd)  -- literature values for ICH subtypes
LESION_STATS: dict[str, tuple[float, float, float, float, float]] = {
    "epidural": (13.6, 2.0, 40.0, 56.0, 10.0),
    "subdural": (6.3, 0.6, 56.0, 50.0, 13.0),
    "intraparenchymal": (8.9, 0.4, 59.0, 48.0, 9.0),
    "intraventricular": (2.6, 0.2, 19.0, 40.0, 9.0),
    "subarachnoid": (1.0, 0.3, 4.7, 44.0, 8.0),
}
PAINT_ORDER: tuple[str, ...] = ("subarachnoid", "intraventricular", "intraparenchymal", "subdural", "epidural")
SUBTYPE_WEIGHTS: dict[str, float] = {
    "epidural": 0.12, "intraparenchymal": 0.28, "intraventricular": 0.15, "subarachnoid": 0.22, "subdural": 0.23,
}
_Z95 = 1.6449


@dataclass(frozen=True)
class Difficulty:
    """How much easier than realistic the lesions of a TRAINING subject are (a curriculum knob).

    ``hu_boost``: HU added to each lesion's sampled mean HU (after the realistic draw and its
    +-2 sd clip); ``volume_scale``: factor on each lesion's sampled volume. :data:`REALISTIC`
    (0, 1) draws exactly the realistic cohort. Otherwise the head and the lesions' subtypes, places
    and HU draws are those of the realistic subject; draws after painting (lesion texture, scanner
    noise) follow another path. Evaluated cohorts are always realistic (``write_cohort`` has no such
    argument).
    """

    hu_boost: float = 0.0
    volume_scale: float = 1.0

    def __post_init__(self):
        if not (0.0 <= self.hu_boost <= 60.0 and 0.1 <= self.volume_scale <= 10.0):
            raise ValueError(f"difficulty out of range: hu_boost {self.hu_boost!r} (valid 0..60 HU), "
                             f"volume_scale {self.volume_scale!r} (valid 0.1..10)")

    @property
    def realistic(self) -> bool:
        return self.hu_boost == 0.0 and self.volume_scale == 1.0


REALISTIC = Difficulty()


@dataclass(frozen=True)
class LesionInfo:
    """One inserted lesion: realised volume (mL), mean HU of its labelled voxels, centre voxel."""

    subtype: str
    volume_ml: float
    target_volume_ml: float
    mean_hu: float
    center_zyx: tuple[int, int, int]


def sample_volume_ml(rng: np.random.Generator, subtype: str) -> float:
    """Split log-normal volume matching the median and the p5 / p95 of the subtype."""
    median, p5, p95, _, _ = LESION_STATS[check_choice("subtype", subtype, SUBTYPES)]
    z = rng.standard_normal()
    sigma = np.log(p95 / median) / _Z95 if z > 0 else np.log(median / p5) / _Z95
    return float(np.clip(median * np.exp(z * sigma), p5 / 2.0, p95 * 1.5))


def _lowest(score: np.ndarray, allowed: np.ndarray, n: int) -> np.ndarray | None:
    """Mask of the ``n`` allowed voxels of lowest score (None when nothing is allowed)."""
    idx = np.flatnonzero(allowed)
    if idx.size == 0:
        return None
    n = int(np.clip(n, 1, idx.size))
    values = np.broadcast_to(score, allowed.shape).ravel()[idx]
    chosen = idx[np.argpartition(values, n - 1)[:n]] if n < idx.size else idx
    mask = np.zeros(allowed.shape, dtype=bool)
    mask.ravel()[chosen] = True
    return mask


def _pick(rng: np.random.Generator, allowed: np.ndarray) -> tuple[int, int, int] | None:
    idx = np.flatnonzero(allowed)
    return None if idx.size == 0 else tuple(int(i) for i in np.unravel_index(idx[rng.integers(idx.size)], allowed.shape))


def _convexity(rng, an: Anatomy, n: int, theta0: float, arc_mm: float, height_mm: float, thick_mm: float, power: float, side: float | None):
    """Extra-axial collection along the inner table: lens (power 1) or crescent (power 2)."""
    area = an.intracranial.sum(axis=(1, 2))
    levels = np.flatnonzero((area > 0.5 * area.max()) & (an.level > 0.28) & (an.level < 0.85))
    levels = levels if levels.size else np.flatnonzero(area > 0)
    k0 = int(levels[rng.integers(levels.size)])
    s = wrap_angle(an.theta - theta0) * np.hypot(an.u_mm, an.v_mm)
    rho2 = (s / arc_mm) ** 2 + ((an.z_mm - an.z_mm[k0]) / height_mm) ** 2
    score = an.depth_mm / thick_mm + rho2**power
    allowed = an.intracranial & (rho2 < 1.6) & (an.depth_mm < 3.0 * thick_mm)
    if side is not None:  # subdural blood does not cross the midline
        allowed &= an.u_mm * side > 1.0
    return _lowest(score, allowed, n)


def _epidural(rng, an: Anatomy, n: int):
    side = rng.choice([-1.0, 1.0])
    where = rng.choice(3, p=[0.7, 0.2, 0.1])  # temporo-parietal, frontal, occipital
    theta0 = [np.arctan2(rng.uniform(-0.5, 0.6), side), -np.pi / 2 + side * rng.uniform(0.2, 0.6), np.pi / 2 + side * rng.uniform(0.2, 0.5)][where]
    return _convexity(rng, an, n, float(theta0), 26.0, 24.0, 12.0, 1.0, None)


def _subdural(rng, an: Anatomy, n: int):
    side = float(rng.choice([-1.0, 1.0]))
    theta0 = float(np.arctan2(rng.uniform(-1.2, 0.3), side))
    return _convexity(rng, an, n, theta0, 80.0, 45.0, 9.0, 2.0, side)


def _intraparenchymal(rng, an: Anatomy, n: int):
    radius = (3.0 * n * an.voxel_ml * 1000.0 / (4 * np.pi)) ** (1 / 3)
    deep = an.parenchyma & (an.depth_mm > 16.0)
    poles = an.parenchyma & (an.depth_mm > 3.0) & (an.depth_mm < 14.0) & ((an.v_mm < -35.0) | (an.level[:, None, None] < 0.4))
    vent = np.argwhere(an.ventricles).astype(np.float32) * np.float32([an.spacing[2], an.spacing[0], an.spacing[1]])
    for _ in range(20):
        c = _pick(rng, deep if rng.random() < 0.65 else poles) or _pick(rng, an.parenchyma)
        if c is None:
            return None
        cz = np.float32([c[0] * an.spacing[2], c[1] * an.spacing[0], c[2] * an.spacing[1]])
        if vent.size == 0 or np.sqrt(((vent - cz) ** 2).sum(axis=1)).min() > radius + 5.0:
            break
    axes = radius * np.array([1.0, rng.uniform(0.6, 1.0), rng.uniform(0.7, 1.1)])
    a = rng.uniform(0, np.pi)
    du, dv = an.u_mm - an.u_mm[c], an.v_mm - an.v_mm[c]
    p, q = np.cos(a) * du + np.sin(a) * dv, -np.sin(a) * du + np.cos(a) * dv
    shape = an.intracranial.shape
    wobble = 1.0 + 0.25 * smooth_field(rng, shape, an.spacing, max(radius, 4.0))
    score = ((p / axes[0]) ** 2 + (q / axes[1]) ** 2 + ((an.z_mm - an.z_mm[c[0]]) / axes[2]) ** 2) * wobble
    tissue = an.intracranial & ~an.ventricles & (an.depth_mm > 2.0)  # a clot effaces the sulci it fills
    mask = _lowest(score, tissue & (score < 9.0), n)
    return mask, score


def _intraventricular(rng, an: Anatomy, n: int):
    allowed = an.ventricles.copy()
    if rng.random() < 0.4:
        allowed &= an.u_mm * rng.choice([-1.0, 1.0]) > 0
    n = min(n, int(0.7 * allowed.sum()))
    score = -an.y_mm + 1e-3 * an.z_mm  # dependent (posterior) first: a horizontal fluid level
    return _lowest(score, allowed, n)


def _subarachnoid(rng, an: Anatomy, n: int):
    c = _pick(rng, an.csf_space & an.intracranial & (an.depth_mm > 0.5))
    if c is None:
        return None
    dist = np.sqrt((an.u_mm - an.u_mm[c]) ** 2 + (an.v_mm - an.v_mm[c]) ** 2 + (0.8 * (an.z_mm - an.z_mm[c[0]])) ** 2)
    return _lowest(dist, an.csf_space, n)


def _paint(rng, img: np.ndarray, mask: np.ndarray, target_hu: float, spacing) -> None:
    """Blend ``target_hu`` (the mean HU of the mask voxels) into ``img`` in place."""
    zz, yy, xx = np.nonzero(mask)
    sl = (slice(zz.min(), zz.max() + 1), slice(max(yy.min() - 4, 0), yy.max() + 5), slice(max(xx.min() - 4, 0), xx.max() + 5))
    m, bg = mask[sl], img[sl]
    alpha = ndimage.gaussian_filter(m.astype(np.float32), sigma=(0, 0.7, 0.7), truncate=3.0)
    alpha = np.where(m, np.maximum(alpha, 0.8), alpha)
    a_in = alpha[m]
    core = (target_hu - ((1.0 - a_in) * bg[m]).mean()) / a_in.mean()
    core = float(np.clip(core, 15.0, 100.0))
    tex = 2.5 * smooth_field(rng, m.shape, spacing, 4.0)
    img[sl] = (1.0 - alpha) * bg + alpha * (core + tex)


def insert_lesions(rng: np.random.Generator, img: np.ndarray, an: Anatomy, p_ich: float,
                   difficulty: Difficulty = REALISTIC) -> tuple[np.ndarray, list]:
    """Insert 0 (probability 1 - p_ich) or 1-4 lesions into ``img`` (Z, H, W) float32 in place.

    ``difficulty`` (training streams only) scales the sampled volumes and raises the sampled HU.

    Returns the label volume (Z, H, W) uint8 of :data:`SUBTYPE_CODES` and the placed lesions
    ``(subtype, mask, target_ml, target_hu)`` for :func:`summarise_lesions`.
    """
    labels = np.zeros(img.shape, dtype=np.uint8)
    if rng.random() >= p_ich:
        return labels, []
    count = int(min(1 + rng.poisson(0.8), 4))
    names, weights = list(SUBTYPE_WEIGHTS), np.array(list(SUBTYPE_WEIGHTS.values()))
    picked = sorted(rng.choice(names, size=count, p=weights / weights.sum()), key=PAINT_ORDER.index)
    placed: list[tuple[str, np.ndarray, float, float]] = []
    for subtype in picked:
        target = sample_volume_ml(rng, subtype) * difficulty.volume_scale
        n = max(1, int(round(target / an.voxel_ml)))
        out = _SHAPES[subtype](rng, an, n)
        if isinstance(out, tuple):  # IPH: paint the perihematomal edema first
            out, score = out
            if out is not None:
                thr = score[out].max()
                edema = an.intracranial & ~an.ventricles & (an.depth_mm > 2.0) & ~out & (score < thr * rng.uniform(1.4, 2.0))
                if edema.any():
                    _paint(rng, img, edema, float(rng.uniform(14.0, 22.0)), an.spacing)
        if out is None or not out.any():
            continue
        _, _, _, mu, sd = LESION_STATS[subtype]
        hu = float(np.clip(rng.normal(mu, sd), mu - 2 * sd, mu + 2 * sd)) + difficulty.hu_boost
        _paint(rng, img, out, hu, an.spacing)
        labels[out] = SUBTYPE_CODES[subtype]
        placed.append((str(subtype), out, target, hu))
    return labels, placed


def summarise_lesions(hu: np.ndarray, labels: np.ndarray, placed, voxel_ml: float) -> tuple[LesionInfo, ...]:
    """LesionInfo of each placed lesion, measured on its voxels that kept its label (after noise)."""
    infos = []
    for subtype, mask, target, _ in placed:
        visible = mask & (labels == SUBTYPE_CODES[subtype])
        if not visible.any():
            continue
        centre = tuple(int(round(c)) for c in np.argwhere(visible).mean(axis=0))
        infos.append(LesionInfo(subtype, round(float(visible.sum() * voxel_ml), 4), round(target, 4), round(float(hu[visible].mean()), 2), centre))
    return tuple(infos)


_SHAPES = {
    "epidural": _epidural,
    "subdural": _subdural,
    "intraparenchymal": _intraparenchymal,
    "intraventricular": _intraventricular,
    "subarachnoid": _subarachnoid,
}
