"""Figure: one synthetic slice of every subtype (GT contour) + a no-ICH slice with mimics, next to
a real Cranium slice, all in the brain window 40/80. Writes docs/synthetic_vs_cranium.png."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from workbench.data.cranium import cranium_available, load_cranium
from workbench.data.labels import SUBTYPE_CODES, SUBTYPES
from workbench.data.synth import generate_subject
from workbench.utils.io import atomic_path

OUT = Path(__file__).resolve().parents[1] / "docs" / "synthetic_vs_cranium.png"
SEED, SIZE = 2024, 256


def find_slices() -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    """First subject slice (largest lesion area) of each subtype; a no-ICH slice with mimics."""
    panels: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
    for i in range(60):
        s = generate_subject(i, SEED, size=SIZE, p_ich=1.0)
        for name in SUBTYPES:
            area = (s.labels == SUBTYPE_CODES[name]).sum(axis=(1, 2))
            if name not in panels and area.max() > 0:
                k = int(area.argmax())
                vol = sum(l.volume_ml for l in s.lesions if l.subtype == name)
                panels[name] = (s.hu[k], s.labels[k] == SUBTYPE_CODES[name], f"{name} ({vol:.1f} mL)\nsynthetic {s.subject_id}, z={k}")
        if len(panels) == len(SUBTYPES):
            break
    for i in range(60):
        s = generate_subject(i, SEED + 1, size=SIZE, p_ich=0.0)
        if s.params["pineal_calcified"] and s.params["choroid_calcified"]:
            k = int(np.argmin(np.abs(np.asarray(s.params["level_start"] + np.arange(24) * 5 / s.params["head_height_mm"]) - 0.45)))
            panels["none"] = (s.hu[k], np.zeros_like(s.labels[k], bool), f"no ICH: calcified pineal / choroid,\nfalx (synthetic {s.subject_id}, z={k})")
            break
    return panels


def main() -> None:
    panels = find_slices()
    if cranium_available():
        hu, _ = load_cranium()
        panels["real"] = (hu[58:61].mean(axis=0), np.zeros(hu.shape[1:], bool), "REAL Cranium CT (invesalius-examples)\n3 x 1.5 mm averaged")
        s = generate_subject(3, SEED, size=SIZE, background="cranium", p_ich=1.0)
        k = int((s.labels > 0).sum(axis=(1, 2)).argmax())
        names = ", ".join(sorted({l.subtype for l in s.lesions}))
        panels["cranium"] = (s.hu[k], s.labels[k] > 0, f"Cranium + inserted {names}")
    fig, axes = plt.subplots(2, 4, figsize=(16, 8.4), facecolor="black")
    for ax, (key, (img, mask, title)) in zip(axes.flat, panels.items()):
        ax.imshow(img, cmap="gray", vmin=0, vmax=80, interpolation="bilinear")
        if mask.any():
            ax.contour(mask, levels=[0.5], colors="red", linewidths=0.6)
        ax.set_title(title, color="white", fontsize=9)
        ax.axis("off")
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    fig.suptitle("Synthetic ICH (red = ground truth) vs real head CT, brain window 40/80", color="white")
    fig.tight_layout()
    with atomic_path(OUT) as tmp:
        fig.savefig(tmp, dpi=72, facecolor="black")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
