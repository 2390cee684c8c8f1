"""Inputs of the baselines: fold splits of the masked slices, an in-memory slice cache, and the
paired (image, mask) augmentation.

Splits (per test fold K): only rows with ``has_mask = 1``; the test fold is never used; validation
is one other fold (whole subjects: by default the fold after K, cyclically); training is the rest.
Errors are :class:`~workbench.utils.errors.DataError` naming the manifest and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from workbench.training.augment import AugmentConfig, affine_matrices
from workbench.training.inputs import check_paths, read_training_manifest, split_by_fold
from workbench.utils.errors import DataError
from workbench.utils.progress import progress

__all__ = ["FoldSplit", "baseline_splits", "CachedSlices", "augment_pair"]


@dataclass(frozen=True)
class FoldSplit:
    """Masked manifest rows for one test fold: ``train`` and ``val`` (never ``test_fold``)."""

    train: pd.DataFrame
    val: pd.DataFrame
    test_fold: int
    val_fold: int
    source: str

    def subjects(self) -> dict[str, list[str]]:
        return {"train": sorted(self.train["subject_id"].unique()), "val": sorted(self.val["subject_id"].unique())}


def baseline_splits(manifest: str | Path | pd.DataFrame, root: str | Path, test_fold: int,
                    val_fold: int | None = None) -> FoldSplit:
    """Read and check ``manifest``; split its masked rows for ``test_fold`` (see module docstring)."""
    frame, source = read_training_manifest(manifest)
    all_folds = sorted(int(f) for f in frame["fold"].unique())
    if int(test_fold) not in all_folds:
        raise DataError(source, f"test fold {test_fold} is not in the manifest; folds present: {all_folds}")
    masked = frame[frame["has_mask"] == 1].reset_index(drop=True)
    if len(masked) == 0:
        raise DataError(source, f"no rows with has_mask = 1 among {len(frame)}: the fully supervised baselines "
                                "train on lesion masks (e.g. a PhysioNet CT-ICH or synthetic manifest)")
    folds = sorted(int(f) for f in masked["fold"].unique())
    others = [f for f in folds if f != int(test_fold)]
    if len(others) < 2:
        raise DataError(source, f"masked rows span folds {folds}; test fold {test_fold} needs two other folds "
                                "(one for validation, one or more for training)")
    if val_fold is None:
        val_fold = next((f for f in others if f > int(test_fold)), others[0])
    if int(val_fold) == int(test_fold) or int(val_fold) not in others:
        raise DataError(source, f"validation fold {val_fold} must be a masked fold other than the test fold "
                                f"{test_fold}; valid: {others}")
    splits = split_by_fold(masked, source, int(val_fold), exclude_folds=[int(test_fold)])
    test_subjects = set(frame.loc[frame["fold"] == int(test_fold), "subject_id"])
    leaked = test_subjects & (set(splits.train["subject_id"]) | set(splits.val["subject_id"]))
    if leaked:
        raise DataError(source, f"test-fold subjects also appear in other folds: {sorted(leaked)[:5]}")
    used = pd.concat([splits.train, splits.val])
    check_paths(used, root, source)
    check_paths(used, root, source, column="mask_path")
    return FoldSplit(train=splits.train, val=splits.val, test_fold=int(test_fold), val_fold=int(val_fold),
                     source=source)


class CachedSlices(Dataset):
    """Images (uint8, 1/255 steps) and lesion masks (bool) of ``dataset`` (a SliceDataset), read once.

    ``ds[i]`` -> ``{"image": (C, S, S) float32, "mask": (S, S) float32, "index": i}``. Decoding runs
    with one torch thread (see :mod:`workbench.training.cache`).
    """

    def __init__(self, dataset: Dataset, desc: str = "caching"):
        self.frame = getattr(dataset, "frame", None)
        n = len(dataset)
        first = dataset[0]
        self.images = torch.empty((n, *first["image"].shape), dtype=torch.uint8)
        self.masks = torch.empty((n, *first["mask"].shape), dtype=torch.bool)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for i in progress(range(n), desc=desc, total=n):
                item = first if i == 0 else dataset[i]
                self.images[i] = (torch.as_tensor(item["image"]).clamp(0, 1) * 255).round().to(torch.uint8)
                self.masks[i] = torch.as_tensor(item["mask"]) > 0.5
        finally:
            torch.set_num_threads(threads)

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``index`` (B,) -> images (B, C, S, S) float32 in [0, 1], masks (B, S, S) float32 0/1."""
        return self.images[index].float().div_(255.0), self.masks[index].float()

    def __getitem__(self, i: int) -> dict:
        image, mask = self.batch(torch.tensor([i]))
        return {"image": image[0], "mask": mask[0], "index": i}


def augment_pair(images: torch.Tensor, masks: torch.Tensor, cfg: AugmentConfig,
                 g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment images (B, C, S, S) and masks (B, S, S) with the same geometric transform per sample.

    The affine (flip, rotation, scale, translation as a fraction of the size) comes from
    :func:`workbench.training.augment.affine_matrices`; images are resampled bilinearly, masks with
    nearest neighbour (they stay 0/1); Gaussian noise touches the images only. The random draws are
    those of :func:`~workbench.training.augment.augment_batch`, so the images come out identical to it.
    """
    if masks.shape != images.shape[:1] + images.shape[2:]:
        raise ValueError(f"masks {tuple(masks.shape)} do not match images {tuple(images.shape)}; want (B, S, S)")
    if not cfg.enabled:
        return images, masks
    b = images.shape[0]
    mats = affine_matrices(b, cfg, g).to(images.device)
    grid = F.affine_grid(mats, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out_masks = F.grid_sample(masks[:, None].float(), grid, mode="nearest", padding_mode="zeros",
                              align_corners=False)[:, 0]
    noisy = (torch.rand(b, generator=g) < cfg.noise_p).float().view(b, 1, 1, 1)
    noise = torch.randn(images.shape, generator=g) * cfg.noise_std
    out = out + noise.to(images.device) * noisy.to(images.device)
    return out.clamp_(0.0, 1.0), out_masks
