"""One synthetic subject: background head + lesions + scanner noise, from (seed, index) only."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from workbench.data.synth.appearance import Appearance, appearance_rng
from workbench.data.synth.fields import correlated_noise
from workbench.data.synth.lesions import REALISTIC, Difficulty, LesionInfo, insert_lesions, summarise_lesions
from workbench.utils.errors import check_choice

__all__ = ["BACKGROUNDS", "SyntheticSubject", "generate_subject", "subject_rng"]

BACKGROUNDS: tuple[str, ...] = ("procedural", "cranium")


@dataclass(frozen=True)
class SyntheticSubject:
    """A generated head CT with exact ground truth.

    ``hu`` (Z, H, W) int16 HU, ``labels`` (Z, H, W) uint8 subtype codes (0 background),
    ``brain`` (Z, H, W) bool intracranial mask, all in display orientation;
    ``spacing`` (row_mm, col_mm, slice_mm).
    """

    subject_id: str
    hu: np.ndarray
    labels: np.ndarray
    brain: np.ndarray
    spacing: tuple[float, float, float]
    lesions: tuple[LesionInfo, ...]
    background: str
    params: dict = field(default_factory=dict)

    @property
    def has_ich(self) -> bool:
        return bool(self.lesions)

    def metadata(self) -> dict:
        """Plain-value description for cohort.json."""
        return {
            "subject_id": self.subject_id,
            "shape": list(self.hu.shape),
            "spacing": [round(s, 6) for s in self.spacing],
            "background": self.background,
            "params": self.params,
            "lesions": [asdict(lesion) for lesion in self.lesions],
        }


def subject_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of subject ``index``: its content depends on (seed, index) only."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def generate_subject(
    index: int,
    seed: int,
    size: int = 256,
    n_slices: int = 24,
    background: str = "procedural",
    p_ich: float = 0.5,
    difficulty: Difficulty = REALISTIC,
    appearance: Appearance | None = None,
) -> SyntheticSubject:
    """Generate subject ``index`` of the cohort ``seed`` (display orientation, 5 mm slices).

    ``difficulty`` makes the lesions larger / brighter for a training curriculum
    (:class:`~workbench.data.synth.lesions.Difficulty`); ``appearance`` randomises the scanner's
    rendering of a training subject (:class:`~workbench.data.synth.appearance.Appearance`, drawn from
    a generator of its own, labels unchanged). The defaults are the realistic cohort.
    """
    check_choice("background", background, BACKGROUNDS)
    if not 16 <= size <= 2048:
        raise ValueError(f"size {size} px out of range; valid: 16..2048")
    if not 1 <= n_slices <= 200:
        raise ValueError(f"n_slices {n_slices} out of range; valid: 1..200")
    if not 0.0 <= p_ich <= 1.0:
        raise ValueError(f"p_ich {p_ich} out of range; valid: 0..1")
    rng = subject_rng(seed, index)
    if background == "procedural":
        from workbench.data.synth.phantom import build_phantom, sample_head_params

        head = sample_head_params(rng, n_slices)
        img, anatomy = build_phantom(rng, head, size, n_slices)
        params, sigma = asdict(head), float(rng.uniform(3.0, 6.0))
    else:
        from workbench.data.synth.background import cranium_background

        img, anatomy, params = cranium_background(rng, size, n_slices)
        sigma = float(rng.uniform(1.0, 2.5))  # the real scan has its own noise
    labels, placed = insert_lesions(rng, img, anatomy, p_ich, difficulty)
    drawn = None
    if appearance is not None and not appearance.identity:
        drawn = appearance.apply(appearance_rng(seed, index), img, anatomy)
    img += correlated_noise(rng, img.shape, sigma)
    hu = np.clip(np.rint(img), -1024, 3071).astype(np.int16)
    params = {**params, "noise_sigma_hu": round(sigma, 4), "p_ich": p_ich}
    if not difficulty.realistic:
        params["difficulty"] = asdict(difficulty)
    if drawn is not None:
        params["appearance"] = drawn
    return SyntheticSubject(
        subject_id=f"{index + 1:03d}",
        hu=hu,
        labels=labels,
        brain=anatomy.intracranial.copy(),
        spacing=tuple(float(s) for s in anatomy.spacing),
        lesions=summarise_lesions(hu, labels, placed, anatomy.voxel_ml),
        background=background,
        params=params,
    )
