"""Procedural head-CT phantom: scalp, skull, brain, CSF spaces, ventricles and mimics.

The head is built in a head frame (u lateral towards the patient's left, v posterior, mm) on
axial 5 mm slices from the skull base (level 0) to the vertex (level 1). Tissue HU follow
literature values for non-contrast head CT. Returns the clean image (before noise) and the
:class:`Anatomy` the lesions are placed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from workbench.data.synth.anatomy import Anatomy
from workbench.data.synth.fields import image_grid, smooth_field

__all__ = ["HeadParams", "sample_head_params", "build_phantom"]

SLICE_MM = 5.0


@dataclass(frozen=True)
class HeadParams:
    """Per-subject anatomy variation (plain values; recorded in cohort.json)."""

    fov_mm: float
    head_scale: float  # overall size
    aspect: float  # left-right / antero-posterior
    rotation_deg: float  # in-plane head rotation
    shift_mm: tuple[float, float]  # head centre offset (x, y)
    skull_scale: float  # skull thickness factor
    atrophy: float  # 0 young .. 1 atrophic: sulcal / extra-axial CSF width
    ventricle_scale: float
    level_start: float  # level of the first slice
    head_height_mm: float
    gm_hu: float
    wm_hu: float
    falx_calcified: bool
    pineal_calcified: bool
    choroid_calcified: bool
    table: bool


def sample_head_params(rng: np.random.Generator, n_slices: int) -> HeadParams:
    """Draw one subject's head parameters."""
    atrophy = float(rng.beta(1.6, 3.0))
    height = float(rng.uniform(118.0, 135.0))
    span = (n_slices - 1) * SLICE_MM / height
    if span >= 0.95:
        start = (1.0 - span) / 2.0 + float(rng.uniform(-0.03, 0.03))
    else:  # short stacks are centred on the ventricles
        start = 0.5 - span / 2.0 + float(rng.uniform(-0.05, 0.05))
    return HeadParams(
        fov_mm=float(rng.uniform(230.0, 250.0)),
        head_scale=float(rng.uniform(0.9, 1.07)),
        aspect=float(rng.uniform(0.76, 0.86)),
        rotation_deg=float(rng.uniform(-8.0, 8.0)),
        shift_mm=(float(rng.uniform(-6, 6)), float(rng.uniform(-8, 4))),
        skull_scale=float(rng.uniform(0.8, 1.3)),
        atrophy=atrophy,
        ventricle_scale=float(np.clip(0.8 + 0.9 * atrophy + rng.normal(0, 0.1), 0.7, 1.7)),
        level_start=start,
        head_height_mm=height,
        gm_hu=float(rng.uniform(35.0, 40.0)),
        wm_hu=float(rng.uniform(26.0, 30.0)),
        falx_calcified=bool(rng.random() < 0.4),
        pineal_calcified=bool(rng.random() < 0.6),
        choroid_calcified=bool(rng.random() < 0.6),
        table=bool(rng.random() < 0.7),
    )


def _bump(t: np.ndarray, lo: float, hi: float, ramp: float = 0.04) -> np.ndarray:
    """1 inside [lo, hi] with linear ramps of width ``ramp`` outside (levels)."""
    return np.clip(np.minimum(t - lo + ramp, hi - t + ramp) / ramp, 0.0, 1.0)


def _ellipse(u: np.ndarray, v: np.ndarray, cu: float, cv: float, au: float, av: float) -> np.ndarray:
    """Normalised elliptical radius ((u-cu)/au)^2 + ((v-cv)/av)^2 (< 1 inside)."""
    return ((u - cu) / au) ** 2 + ((v - cv) / av) ** 2


def _polyline_mask(u, v, pts, widths) -> np.ndarray:
    """Inside a tube of varying half-width around a polyline; ``widths`` (K, Z, 1, 1) per point."""
    inside = np.zeros(np.broadcast_shapes(u.shape, v.shape, np.shape(widths[0])), dtype=bool)
    for (ua, va), (ub, vb), ha, hb in zip(pts[:-1], pts[1:], widths[:-1], widths[1:]):
        du, dv = ub - ua, vb - va
        w = np.clip(((u - ua) * du + (v - va) * dv) / (du * du + dv * dv), 0.0, 1.0)
        dist = np.hypot(u - ua - w * du, v - va - w * dv)
        inside |= dist < (1 - w) * ha + w * hb
    return inside


def _lateral_ventricles(u, v, t, vs: float) -> np.ndarray:
    """Lateral ventricles: frontal horn -> body -> atrium -> occipital horn, varying with level."""
    gates = [(0.38, 0.60), (0.40, 0.62), (0.48, 0.64), (0.36, 0.58), (0.36, 0.50)]
    half = np.array([3.5, 5.5, 3.5, 6.5, 2.0]) * vs
    widths = [h * _bump(t, lo, hi) for h, (lo, hi) in zip(half, gates)]
    mask = np.zeros(np.broadcast_shapes(u.shape, t.shape), dtype=bool)
    for side in (-1.0, 1.0):
        pts = [(side * 7 * vs, -30.0), (side * 10 * vs, -14.0), (side * 12 * vs, 6.0), (side * 19 * vs, 22.0), (side * 13 * vs, 38.0)]
        mask |= _polyline_mask(u, v, pts, widths)
    return mask


def build_phantom(rng: np.random.Generator, p: HeadParams, size: int, n_slices: int) -> tuple[np.ndarray, Anatomy]:
    """Clean phantom image (Z, H, W) float32 HU and its :class:`Anatomy`."""
    px = p.fov_mm / size
    spacing = (px, px, SLICE_MM)
    shape = (n_slices, size, size)
    t = (p.level_start + np.arange(n_slices) * SLICE_MM / p.head_height_mm).astype(np.float32)[:, None, None]
    xs, ys = image_grid(size, px)
    a = np.deg2rad(p.rotation_deg)
    x, y = xs[None, None, :] - p.shift_mm[0], ys[None, :, None] - p.shift_mm[1]
    u = (np.cos(a) * x + np.sin(a) * y).astype(np.float32)
    v = (-np.sin(a) * x + np.cos(a) * y).astype(np.float32)
    r, th = np.hypot(u, v), np.arctan2(v, u)

    # head outline: egg-shaped ellipse shrinking towards the vertex and the skull base
    prof = np.sqrt(np.clip(1.0 - ((t - 0.42) / 0.62) ** 2, 0.0, None))
    ap, lr = 96.0 * p.head_scale, 96.0 * p.head_scale * p.aspect
    lob = sum(rng.normal(0, 0.012) * np.cos(k * th + rng.uniform(0, 2 * np.pi)) for k in (2, 3, 4, 5))
    lr_eff = lr * (1.0 + 0.05 * np.sin(th))
    r_skin = prof / np.sqrt((np.cos(th) / lr_eff) ** 2 + (np.sin(th) / ap) ** 2) * (1.0 + lob)
    temporal = np.exp(-((np.abs(np.cos(th)) - 1.0) / 0.15) ** 2) * _bump(t, 0.2, 0.6, 0.1)
    scalp = 5.0 + 5.0 * temporal  # temporalis muscle thickens the lateral scalp
    f_bone = smooth_field(rng, shape, spacing, 25.0)
    skull_t = p.skull_scale * (6.0 + 1.8 * np.sin(th) ** 2 + 0.6 * f_bone) * (1.0 - 0.3 * temporal)
    r_outer_table = r_skin - scalp
    r_inner = np.maximum(r_outer_table - skull_t, 0.0)
    depth = (r_inner - r).astype(np.float32)

    img = np.full(shape, -1000.0, dtype=np.float32)
    head = r < r_skin
    img[head] = 38.0  # skin and muscle
    fat = head & (r > r_skin - 3.5) & (r < r_skin - 1.2)
    img[fat] = -85.0
    bone = head & (r >= r_inner) & (r < r_outer_table)
    cortical = bone & ((r - r_inner < 1.4) | (r_outer_table - r < 1.6))
    diploe = 480.0 + 160.0 * smooth_field(rng, shape, spacing, 4.0)
    img = np.where(bone, np.where(cortical, 1550.0, diploe), img)

    # cranial cavity: posterior fossa only at the base, middle then anterior fossae above it
    v_cut = 12.0 - 620.0 * np.clip(t - 0.12, 0.0, None) + 0.012 * u**2
    middle = (_ellipse(np.abs(u), v, 36.0 * p.head_scale, -8.0, 20.0, 30.0) < 1.0) & (t > 0.12)
    cavity = (depth > 0) & ((v > v_cut) | middle) & (t > -0.02)
    base_bone = (depth > 0) & ~cavity & head
    air_cells = smooth_field(rng, shape, spacing, 6.0) > 0.4
    sinus_zone = (np.abs(u) < 18.0) & (v < -5.0) | (_ellipse(np.abs(u), v, 45.0, 20.0, 15.0, 15.0) < 1.0)
    face = base_bone & (v < v_cut - 14.0) & ~((v > -40) & (np.abs(u) > 30))
    base_hu = np.where(air_cells & sinus_zone, -900.0, 900.0 + 300.0 * f_bone)
    img = np.where(base_bone, np.where(face, np.where(air_cells & sinus_zone, -900.0, 42.0), base_hu), img)
    orbit = (_ellipse(np.abs(u), v, 30.0, -64.0 * p.head_scale, 15.0, 17.0) < 1.0) & (_bump(t, 0.14, 0.3) > 0) & head
    img = np.where(orbit, np.where(_ellipse(np.abs(u), v, 30.0, -68.0 * p.head_scale, 11.0, 11.0) < 1.0, 12.0, -80.0), img)

    # brain surface, sulci and cortex
    f_sas = smooth_field(rng, shape, spacing, 30.0)
    sas = (0.6 + 2.8 * p.atrophy) * (1.0 + 0.4 * f_sas) * (1.0 + 0.6 * np.clip(-v / 80.0, 0, 1))
    dd = depth - sas  # depth below the brain surface
    # sulci: zero lines of a phase running along the surface, wiggled by a random field, so they
    # run inwards from the surface like real sulci; distance to the line in mm from the phase
    gyrus_mm = 13.0
    phase = th * (70.0 * p.head_scale) / gyrus_mm + 0.9 * smooth_field(rng, shape, spacing, 14.0, 10.0)
    dist_sulcus = np.abs(phase - np.round(phase)) * gyrus_mm
    sulc_depth = np.clip(13.0 * (1.0 + 0.6 * smooth_field(rng, shape, spacing, 15.0, 10.0)), 0.0, None)
    sw = (0.3 + 1.0 * p.atrophy) * (1.0 + 1.5 * np.clip(1.0 - dd / np.maximum(sulc_depth, 0.5), 0, 1))
    sulcus = (dist_sulcus < sw) & (dd < sulc_depth)
    gm = (dd < 2.5) | ((dist_sulcus < sw + 2.2) & (dd < sulc_depth + 2.0))
    fissure_w = 0.4 + 1.6 * p.atrophy
    interhemi = (np.abs(u) < fissure_w) & (t > 0.3) & ((t > 0.63) | (np.abs(v) > 30.0 * p.ventricle_scale ** 0.5 + 4))
    sylvian_pts = [(70.0, -6.0), (36.0, -10.0), (30.0, -22.0)]
    sylv_w = [np.full_like(t, (1.0 + 1.5 * p.atrophy)) * _bump(t, 0.3, 0.48)] * 3
    sylvian = _polyline_mask(np.abs(u), v, sylvian_pts, sylv_w)
    gm |= _polyline_mask(np.abs(u), v, sylvian_pts, [w * 0 + 3.5 * _bump(t, 0.3, 0.48) for w in sylv_w])
    midbrain = (_ellipse(u, v, 0.0, 8.0, 12.0, 11.0) < 1.0) & (_bump(t, 0.0, 0.32) > 0)
    cistern = (_ellipse(u, v, 0.0, 8.0, 14.2, 13.2) < 1.0) & ~midbrain & (_bump(t, 0.2, 0.32) > 0)
    cistern |= (_ellipse(u, v, 0.0, -14.0, 6.0, 4.0) < 1.0) & (_bump(t, 0.22, 0.3) > 0)
    fourth = (_ellipse(u, v, 0.0, 24.0, 5.0, 3.5) < 1.0) & (_bump(t, 0.06, 0.2) > 0)
    vent = _lateral_ventricles(u, v, t, p.ventricle_scale)
    third = (np.abs(u) < 1.2 + 1.2 * p.atrophy) & (v > -8) & (v < 10) & (_bump(t, 0.32, 0.46) > 0)
    deep = np.zeros(shape, dtype=bool)
    for cu, cv, au, av, lo, hi in ((9, 6, 8, 11, 0.34, 0.5), (21, -4, 6, 13, 0.35, 0.48), (12 * p.ventricle_scale + 2, -18, 5, 7, 0.4, 0.56)):
        deep |= (_ellipse(np.abs(u), v, cu, cv, au, av) < 1.0) & (_bump(t, lo, hi, 0.01) > 0)

    tex = smooth_field(rng, shape, spacing, 12.0) * 1.2 + smooth_field(rng, shape, spacing, 3.0) * 0.5
    brain_hu = np.where(gm | deep, p.gm_hu, p.wm_hu) + tex
    brain_hu = np.where(midbrain, p.wm_hu + 4.0 + tex, brain_hu)
    csf_space = cavity & ((dd < 0) | sulcus | interhemi | sylvian | cistern) & ~midbrain
    ventricles = cavity & vent & ~csf_space
    csf = csf_space | ventricles | (cavity & (third | fourth))
    img = np.where(cavity, np.where(csf, 7.0 + 1.5 * tex, brain_hu), img)
    # Hounsfield bar: beam hardening between the petrous bones
    img -= (cavity * 14.0 * np.exp(-((v - 14.0) / 6.0) ** 2) * _bump(t, 0.06, 0.2)).astype(np.float32)

    _mimics(rng, img, p, u, v, t, depth, cavity, px)
    if p.table:
        y_img = ys[None, :, None] - p.shift_mm[1]
        curve = y_img - (105.0 * p.head_scale + 0.004 * (xs[None, None, :] - p.shift_mm[0]) ** 2)
        img = np.where((np.abs(curve) < 1.2) & ~head & (np.abs(xs)[None, None, :] < 110), 250.0, img)
    img = ndimage.gaussian_filter(img, sigma=(0, 0.55, 0.55), truncate=2.5)  # scanner PSF

    parenchyma = cavity & ~csf
    anatomy = Anatomy(
        spacing=spacing, intracranial=cavity, parenchyma=parenchyma, ventricles=ventricles,
        csf_space=csf_space, depth_mm=np.where(cavity, depth, np.minimum(depth, 0)).astype(np.float32),
        u_mm=np.broadcast_to(u, shape), v_mm=np.broadcast_to(v, shape),
        z_mm=(t * p.head_height_mm).astype(np.float32), y_mm=ys[None, :, None], level=t[:, 0, 0],
    )
    return img, anatomy


def _mimics(rng, img, p: HeadParams, u, v, t, depth, cavity, px) -> None:
    """Hyperdense structures that are not hemorrhage, painted in place: falx, sinuses, calcifications."""
    upper = cavity & (t > 0.3)
    falx = upper & (np.abs(u) < 0.45 * px + 0.2) & ((t > 0.63) | (np.abs(v) > 30.0))
    img[falx] = 52.0
    if p.falx_calcified:
        cv, ct = rng.uniform(-50, -20), rng.uniform(0.6, 0.85)
        plaque = falx & (np.abs(v - cv) < rng.uniform(4, 10)) & (np.abs(t - ct) < 0.06)
        img[plaque] = rng.uniform(150, 350)
    sinus = cavity & (depth < 7.0) & (np.abs(u) < 0.9 * (7.0 - depth)) & ((v > 40) | (v < -50)) & (t > 0.3)
    sinus |= cavity & (depth < 4.0) & (v > 25) & (np.abs(u) > 20) & (_bump(t, 0.1, 0.24) > 0)  # transverse
    img[sinus] = rng.uniform(44, 55)
    if p.pineal_calcified:
        img[(_ellipse(u, v, 0.0, 14.0, 2.2, 2.2) < 1.0) & (np.abs(t - 0.42) < 0.04)] = rng.uniform(120, 350)
    if p.choroid_calcified:
        for side in (-1, 1):
            c = (_ellipse(u, v, side * 19 * p.ventricle_scale, 23.0, 2.8, 3.5) < 1.0) & (np.abs(t - 0.47) < 0.05)
            img[c] = rng.uniform(90, 250)
