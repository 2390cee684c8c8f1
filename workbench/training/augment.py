"""Batched data augmentation in torch: flip, rotation, scale, translation, Gaussian noise.

The paper intended horizontal flip, rotation up to 45 degrees, scale +-10 % and Gaussian noise
(HGI-SAM, MELBA 2023, section 4); translation is a *fraction of the image size* (the released code passed
pixels to MONAI, one of its slips). One affine ``grid_sample`` per batch, parameters drawn per
sample from an explicit ``torch.Generator`` (CPU), so a run is reproducible and resumable.
Shapes: images (B, C, S, S) in [0, 1]; out-of-image pixels become 0 (air in every CT window).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from workbench.utils.config import JsonConfig

__all__ = ["AugmentConfig", "augment_batch", "affine_matrices"]


@dataclass(frozen=True)
class AugmentConfig(JsonConfig):
    """Augmentation ranges. Set a field to 0 to disable that transform.

    flip_p: probability of a left-right flip. rotation_deg: angle ~ U(-r, r). scale: zoom factor
    ~ U(1 - s, 1 + s). translate: shift ~ U(-t, t) * size along each axis. noise_std: Gaussian
    noise sigma (image units) added with probability ``noise_p``; output clamped to [0, 1].
    """

    flip_p: float = 0.5
    rotation_deg: float = 45.0
    scale: float = 0.1
    translate: float = 0.1
    noise_std: float = 0.02
    noise_p: float = 0.5

    def __post_init__(self):
        for name in ("flip_p", "noise_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.scale < 1.0:
            raise ValueError(f"scale must be in [0, 1), got {self.scale}")
        if not 0.0 <= self.translate <= 0.5:
            raise ValueError(f"translate is a fraction of the size in [0, 0.5], got {self.translate}")

    @property
    def enabled(self) -> bool:
        return any((self.flip_p, self.rotation_deg, self.scale, self.translate, self.noise_std * self.noise_p))


def _uniform(n: int, half_width: float, g: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * half_width


def affine_matrices(n: int, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """(n, 2, 3) sampling matrices for ``F.affine_grid`` (output coords -> input coords).

    Content is rotated by theta, zoomed by s and shifted by (tx, ty) * size: the grid maps an
    output point p to ``R(-theta) (p - 2t) / s`` with x mirrored first when flipped.
    """
    flip = torch.rand(n, generator=g, dtype=torch.float64) < cfg.flip_p
    theta = _uniform(n, math.radians(cfg.rotation_deg), g)
    zoom = 1.0 + _uniform(n, cfg.scale, g)
    shift = torch.stack([_uniform(n, cfg.translate, g), _uniform(n, cfg.translate, g)], dim=1) * 2  # normalised
    cos, sin = torch.cos(theta) / zoom, torch.sin(theta) / zoom
    m = torch.zeros(n, 2, 3, dtype=torch.float64)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = cos, sin, -sin, cos
    m[:, :, 2] = -(m[:, :, :2] @ shift.unsqueeze(-1)).squeeze(-1)
    m[:, :, 0] = torch.where(flip.unsqueeze(-1), -m[:, :, 0], m[:, :, 0])  # mirror x of the output
    return m.float()


def augment_batch(images: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Augment images (B, C, S, S) -> (B, C, S, S), per-sample parameters from ``g`` (a CPU generator)."""
    if not cfg.enabled:
        return images
    b = images.shape[0]
    mats = affine_matrices(b, cfg, g).to(images.device)
    grid = F.affine_grid(mats, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    noisy = (torch.rand(b, generator=g) < cfg.noise_p).float().view(b, 1, 1, 1)
    noise = torch.randn(images.shape, generator=g) * cfg.noise_std
    out = out + noise.to(images.device) * noisy.to(images.device)
    return out.clamp_(0.0, 1.0)
