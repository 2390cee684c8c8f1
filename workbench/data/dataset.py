"""torch Dataset over a manifest: windowed channels, lesion mask, brain mask and labels.

Preprocessing follows the paper: each HU window -> [0, 1], then resize so the shorter side is
``resize_factor * size`` (bilinear for the image, nearest for masks) and centre-crop ``size``.

``adjacent_slices=a`` (2.5D input) stacks the windows of the slices ``a`` steps of ``adjacent_mm`` below
and above each slice with its own: channels are slice-major, (2a+1) x len(windows), the slice itself in
the middle. At another slice spacing the nearest slice at that distance is read; at the ends of a volume
the last slice repeats. Masks, labels and the brain mask are the middle slice's.

``input_mask="brain"`` skull-strips the image channels before resizing: every pixel farther than
``input_margin_mm`` from the HU brain mask (:mod:`workbench.data.brainmask`, intracranial space,
so epidural and subdural blood stay in) is set to 0. The margin keeps the inner table's rim. A slice
whose brain mask is empty (vertex, skull base) is left unmasked rather than blanked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch.utils.data import Dataset

from workbench.data.brainmask import brain_mask_fast
from workbench.data.labels import LABEL_COLUMNS
from workbench.data.manifest import read_manifest, validate_manifest
from workbench.data.slices import load_row, load_row_hu
from workbench.data.windowing import DEFAULT_WINDOWS, stack_windows
from workbench.utils.errors import DataError, check_choice
from workbench.utils.threads import single_thread

__all__ = ["INPUT_MASKS", "DEFAULT_INPUT_MARGIN_MM", "ADJACENT_MM", "PLAIN_INPUT", "adjacent_indices", "adjacent_rows", "volume_stack", "prepare_volume", "RESIZE_FACTOR", "CropGeometry", "crop_geometry", "SliceDataset", "prepare_slice", "resize_crop",
           "strip_to_brain"]

INPUT_MASKS: tuple[str, ...] = ("none", "brain")
"""``none``: the windows as they are; ``brain``: skull-stripped to the dilated HU brain mask."""
DEFAULT_INPUT_MARGIN_MM = 3.0
"""Skull-stripping margin: the brain mask is eroded 1 mm from the inner table, so 3 mm keeps 2 mm of it."""
ADJACENT_MM = 5.0
"""Distance between the stacked slices of a 2.5D input (the synthetic cohorts' slice spacing)."""
PLAIN_INPUT: dict = {"windows": tuple(DEFAULT_WINDOWS), "input_mask": "none", "input_margin_mm": DEFAULT_INPUT_MARGIN_MM}
"""SliceDataset's default input recipe (the paper's three windows, no stripping), as input keyword arguments."""


RESIZE_MODES = ("bilinear", "nearest-exact", "nearest")
RESIZE_FACTOR = 1.1
"""Input geometry of the HGI-SAM paper (Rasoulian et al., MELBA 2023, section 4): the shorter side is
resized to 1.1 x the input side, then centre-cropped to the input side."""


def strip_to_brain(image: torch.Tensor, brain: np.ndarray, margin_px: float) -> torch.Tensor:
    """image (C, H, W), brain (H, W) bool -> image with pixels beyond ``margin_px`` of ``brain`` set to 0.

    The margin is a Euclidean dilation (pixel centres within ``margin_px``). An empty ``brain``
    leaves ``image`` unchanged.
    """
    if image.shape[-2:] != brain.shape:
        raise ValueError(f"image {tuple(image.shape)} and brain mask {brain.shape} differ in size")
    if not brain.any():
        return image
    keep = ndimage.distance_transform_edt(~brain) <= margin_px
    return image * torch.from_numpy(keep).to(image.dtype)


@dataclass(frozen=True)
class CropGeometry:
    """Source (h, w) -> resized (nh, nw) -> crop of side ``size`` at (top, left)."""

    h: int
    w: int
    nh: int
    nw: int
    top: int
    left: int
    size: int


def crop_geometry(h: int, w: int, size: int, resize_factor: float = RESIZE_FACTOR) -> CropGeometry:
    """Resize-then-centre-crop of an (h, w) slice to (size, size): the shorter side goes to
    ``round(resize_factor * size)`` (at least ``size``), then the centre (size, size) is kept."""
    target = max(int(round(resize_factor * size)), size)
    scale = target / min(h, w)
    nh, nw = max(int(round(h * scale)), size), max(int(round(w * scale)), size)
    return CropGeometry(int(h), int(w), nh, nw, (nh - size) // 2, (nw - size) // 2, int(size))


def resize_crop(x: torch.Tensor, size: int, resize_factor: float = RESIZE_FACTOR, mode: str = "bilinear") -> torch.Tensor:
    """(C, H, W) -> (C, size, size): resize the shorter side to ``resize_factor * size``, centre-crop.

    ``mode`` is ``"bilinear"`` for images and ``"nearest-exact"`` for masks (pixel-centre sampling:
    plain ``"nearest"`` floors indices and shifts a downsampled mask by up to half a pixel
    against the bilinear image).
    """
    check_choice("resize mode", mode, RESIZE_MODES)
    if x.ndim != 3:
        raise ValueError(f"expected (C, H, W), got shape {tuple(x.shape)}")
    geo = crop_geometry(*x.shape[-2:], size, resize_factor)
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    y = F.interpolate(x[None].float(), size=(geo.nh, geo.nw), mode=mode, **kwargs)[0]
    return y[:, geo.top : geo.top + size, geo.left : geo.left + size]


def adjacent_indices(z: int, n: int, adjacent: int, step: int = 1) -> np.ndarray:
    """Slice indices of a 2.5D stack around slice ``z`` of ``n``: (2 * adjacent + 1,) int, ``z`` in the
    middle, ``step`` slices apart, clamped to the volume (the end slice repeats)."""
    if adjacent < 0 or step < 1 or not 0 <= z < n:
        raise ValueError(f"need adjacent >= 0, step >= 1 and 0 <= z < n; got adjacent={adjacent}, step={step}, z={z}, n={n}")
    return np.clip(z + step * np.arange(-adjacent, adjacent + 1), 0, n - 1)


def volume_stack(hu: np.ndarray, z: int, slice_mm: float, adjacent_slices: int = 0,
                 adjacent_mm: float = ADJACENT_MM) -> np.ndarray:
    """Slice ``z`` of a volume hu (Z, H, W) at ``slice_mm`` spacing as :func:`prepare_slice` takes it:
    (H, W) for ``adjacent_slices=0``, else the 2.5D stack (2a+1, H, W) of slices ``adjacent_mm`` apart."""
    if not adjacent_slices:
        return hu[z]
    step = max(1, int(round(adjacent_mm / slice_mm)))
    return hu[adjacent_indices(z, hu.shape[0], adjacent_slices, step)]


def adjacent_rows(frame: pd.DataFrame, adjacent: int, adjacent_mm: float = ADJACENT_MM) -> np.ndarray:
    """Rows of ``frame`` (a manifest, positional) that make each row's 2.5D stack: (n, 2 * adjacent + 1) int.

    Within a ``volume_id``, the slice ``k`` steps away is the row whose ``slice_index`` is nearest to
    ``slice_index + k * max(1, round(adjacent_mm / spacing_slice))`` (a tie goes to the one nearer the
    slice itself), clamped to the rows present (so a volume's end, or a slice missing from the manifest,
    repeats the nearest one there is).
    """
    if adjacent < 0 or not adjacent_mm > 0:
        raise ValueError(f"need adjacent_slices >= 0 and adjacent_mm > 0; got {adjacent}, {adjacent_mm}")
    out = np.repeat(np.arange(len(frame))[:, None], 2 * adjacent + 1, axis=1)
    if adjacent == 0:
        return out
    offsets = np.arange(-adjacent, adjacent + 1)
    for _, group in frame.reset_index(drop=True).groupby("volume_id", sort=False):
        order = np.argsort(group["slice_index"].to_numpy(), kind="stable")
        rows, index = group.index.to_numpy()[order], group["slice_index"].to_numpy()[order]
        step = np.maximum(1, np.round(adjacent_mm / group["spacing_slice"].to_numpy()[order])).astype(np.int64)
        target = np.clip(index[:, None] + step[:, None] * offsets, index[0], index[-1])
        right = np.clip(np.searchsorted(index, target), 1, len(index) - 1) if len(index) > 1 else np.zeros_like(target)
        left = np.maximum(right - 1, 0)
        d_left, d_right = np.abs(index[left] - target), np.abs(index[right] - target)
        inner_left = np.abs(index[left] - index[:, None]) <= np.abs(index[right] - index[:, None])
        nearest = np.where((d_left < d_right) | ((d_left == d_right) & inner_left), left, right)
        out[rows] = rows[nearest]
    return out


class SliceDataset(Dataset):
    """Slices of a manifest.

    Args:
        manifest: manifest CSV path or DataFrame (``data_manifests/README.md``).
        root: data root the manifest's paths are relative to.
        size: output side S in pixels.
        windows: HU windows stacked as channels (preset names or (center, width)).
        folds / exclude_folds: keep only these folds / drop these folds.
        brain_mask: compute the HU brain mask (else all ones).
        resize_factor: resize-then-centre-crop factor (:data:`RESIZE_FACTOR`, the paper's 1.1).
        input_mask: ``none`` or ``brain`` (skull-strip the image; module docstring).
        input_margin_mm: how far beyond the brain mask the stripped image keeps pixels.
        adjacent_slices / adjacent_mm: a 2.5D input of the slices ``adjacent_slices`` steps of
            ``adjacent_mm`` on each side (module docstring; 0: the slice alone).

    ``ds[i]`` is a dict: ``image`` float32 (C, S, S) in [0, 1], C = len(windows) * (2 * adjacent_slices + 1); ``mask`` float32 (S, S) 0/1 (all
    zero when the row has no mask; see ``has_mask``); ``brain_mask`` float32 (S, S);
    ``labels`` float32 (6,) in ``LABEL_COLUMNS`` order; ``has_mask`` bool; ``index`` int (row
    of :attr:`frame`).
    """

    def __init__(
        self,
        manifest: str | Path | pd.DataFrame,
        root: str | Path,
        size: int = 256,
        windows: Sequence = DEFAULT_WINDOWS,
        folds: Sequence[int] | None = None,
        exclude_folds: Sequence[int] | None = None,
        brain_mask: bool = True,
        resize_factor: float = RESIZE_FACTOR,
        input_mask: str = "none",
        input_margin_mm: float = DEFAULT_INPUT_MARGIN_MM,
        adjacent_slices: int = 0,
        adjacent_mm: float = ADJACENT_MM,
    ):
        frame = validate_manifest(manifest) if isinstance(manifest, pd.DataFrame) else read_manifest(manifest)
        if folds is not None:
            frame = frame[frame["fold"].isin(list(folds))]
        if exclude_folds is not None:
            frame = frame[~frame["fold"].isin(list(exclude_folds))]
        if len(frame) == 0:
            raise ValueError(f"no slices left after fold selection folds={folds} exclude_folds={exclude_folds}")
        if size < 8:
            raise ValueError(f"size must be >= 8 pixels, got {size}")
        self.frame = frame.reset_index(drop=True)
        self.root = Path(root)
        self.size = int(size)
        self.windows = tuple(windows)
        self.brain_mask = bool(brain_mask)
        self.resize_factor = float(resize_factor)
        self.input_mask = check_choice("input mask", input_mask, INPUT_MASKS)
        if not input_margin_mm >= 0:
            raise ValueError(f"input_margin_mm must be >= 0, got {input_margin_mm!r}")
        self.input_margin_mm = float(input_margin_mm)
        self.adjacent_slices, self.adjacent_mm = int(adjacent_slices), float(adjacent_mm)
        self._stack = adjacent_rows(self.frame, self.adjacent_slices, self.adjacent_mm)  # (n, 2a+1) rows
        self._labels = torch.tensor(self.frame[list(LABEL_COLUMNS)].to_numpy(), dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.frame)

    def with_inputs(self, size: int | None = None, **recipe) -> "SliceDataset":
        """The same slices (rows, root, brain mask, resize factor) through another input recipe:
        ``size`` and any of ``windows`` / ``input_mask`` / ``input_margin_mm`` / ``adjacent_slices`` /
        ``adjacent_mm`` (e.g. a model's ``size=config.arch.img_size, **config.input_kwargs()``); ``self``
        when nothing changes. Fields not given keep their values."""
        for key in sorted(recipe):
            check_choice("input recipe field", key, ("adjacent_mm", "adjacent_slices", "input_margin_mm", "input_mask", "windows"))
        now = {"size": self.size, "windows": self.windows, "input_mask": self.input_mask,
               "input_margin_mm": self.input_margin_mm, "adjacent_slices": self.adjacent_slices,
               "adjacent_mm": self.adjacent_mm}
        new = {**now, **({} if size is None else {"size": int(size)}),
               **{k: tuple(v) if k == "windows" else v for k, v in recipe.items()}}
        if new == now:
            return self
        return SliceDataset(self.frame, self.root, brain_mask=self.brain_mask, resize_factor=self.resize_factor, **new)

    @property
    def labels(self) -> torch.Tensor:
        """(n, 6) float32 labels in ``LABEL_COLUMNS`` order."""
        return self._labels

    def load_hu(self, i: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Raw (hu, mask, subtype labels) of row ``i`` at the stored resolution (display orientation)."""
        return load_row(self.frame.iloc[i], self.root)

    def __getitem__(self, i: int) -> dict:
        with single_thread():
            return self._item(i)

    def _item(self, i: int) -> dict:
        row = self.frame.iloc[i]
        hu, mask, _ = load_row(row, self.root)
        if self.adjacent_slices:
            hu = np.stack([hu if r == i else self._adjacent_hu(r, hu.shape) for r in self._stack[i]])
        pixel_mm = float(min(row["spacing_row"], row["spacing_col"]))
        item = prepare_slice(hu, mask, pixel_mm, self.size, self.windows, self.resize_factor, self.input_mask,
                             self.input_margin_mm, self.brain_mask)
        return {**item, "labels": self._labels[i], "has_mask": bool(row["has_mask"]), "index": i}

    def _adjacent_hu(self, r: int, shape: tuple[int, int]) -> np.ndarray:
        row = self.frame.iloc[r]
        hu = load_row_hu(row, self.root)
        if hu.shape != shape:
            raise DataError(self.root / row["image_path"], f"slice {int(row['slice_index'])} has shape {hu.shape}, "
                            f"its neighbour in the 2.5D stack has {shape}")
        return hu


def prepare_slice(hu: np.ndarray, mask: np.ndarray | None, pixel_mm: float, size: int,
                  windows: Sequence = DEFAULT_WINDOWS, resize_factor: float = RESIZE_FACTOR, input_mask: str = "none",
                  input_margin_mm: float = DEFAULT_INPUT_MARGIN_MM, brain_mask: bool = True) -> dict:
    """One slice's model input: hu (H, W) HU, or a 2.5D stack (K, H, W), K odd, the slice in the middle,
    and mask (H, W) bool or None at ``pixel_mm`` -> ``image`` (C, size, size) in [0, 1] (C = windows x K,
    slice-major), ``mask`` and ``brain_mask`` (size, size) float32 0/1 of the middle slice.

    The single place the input recipe (windows, skull-stripping, resize-then-crop) is applied:
    :class:`SliceDataset` and :func:`prepare_volume` (the synthetic stream, in-memory cohorts) call it.
    """
    stack = hu if hu.ndim == 3 else hu[None]
    if stack.shape[0] % 2 == 0:
        raise ValueError(f"a 2.5D stack needs an odd number of slices (the slice in the middle); got hu of shape {hu.shape}")
    hu = stack[stack.shape[0] // 2]
    brain = brain_mask_fast(hu, pixel_mm=pixel_mm) if brain_mask or input_mask == "brain" else None
    if mask is None:
        mask = np.zeros(hu.shape, dtype=bool)
    image = stack_windows(torch.from_numpy(np.ascontiguousarray(stack)), windows).flatten(0, 1)  # (K*C, H, W)
    if input_mask == "brain":
        image = strip_to_brain(image, brain, input_margin_mm / pixel_mm)
    if not brain_mask:
        brain = np.ones(hu.shape, dtype=bool)
    masks = torch.from_numpy(np.stack([mask, brain]).astype(np.float32))  # (2, H, W)
    image = resize_crop(image, size, resize_factor, "bilinear").clamp_(0.0, 1.0)
    masks = resize_crop(masks, size, resize_factor, "nearest-exact")
    return {"image": image.contiguous(), "mask": masks[0].contiguous(), "brain_mask": masks[1].contiguous()}


def prepare_volume(hu: np.ndarray, spacing: Sequence[float], size: int, masks: np.ndarray | None = None,
                   adjacent_slices: int = 0, adjacent_mm: float = ADJACENT_MM, **recipe) -> list[dict]:
    """Every slice of a volume hu (Z, H, W) HU at ``spacing`` (row_mm, col_mm, slice_mm) through
    :func:`prepare_slice` (``recipe``: its keyword arguments), each read with its 2.5D neighbours
    (:func:`volume_stack`) when ``adjacent_slices`` > 0; ``masks`` (Z, H, W) bool or None. -> Z items in slice order."""
    pixel_mm = float(min(spacing[:2]))
    return [prepare_slice(volume_stack(hu, z, float(spacing[2]), adjacent_slices, adjacent_mm),
                          None if masks is None else masks[z], pixel_mm, size, **recipe) for z in range(hu.shape[0])]
