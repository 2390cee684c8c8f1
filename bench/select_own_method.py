"""How the workbench's own weak method was chosen: each attention map, alone and times the acute-blood
density prior, on the reference classifiers' OWN validation cohort (seed 9100, never a study cohort).

Every lesion slice of the cohort (256 px source, the classifier's input recipe, brain mask, per-slice
min-max, as the study scores); per map the mean Dice at its best global threshold on a fine grid
(0-0.05 by 0.0025, then by 0.01): an optimistic figure for every row alike, used only to rank the
candidates. Writes ``bench/results/own_method.md``.

    .venv/bin/python bench/select_own_method.py
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from workbench.api import explain
from workbench.data.dataset import SliceDataset
from workbench.evaluation.overlap import dice_from_counts, overlap_curve
from workbench.models import ich_index
from workbench.models.checkpoint import load_model
from workbench.models.factory import model_config
from workbench.models.reference import provenance
from workbench.training.recipes import CohortSpec, ensure_cohort
from workbench.utils.io import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
BASES = ("rollout", "swin_sam", "hgi_sam", "gradcam")
GRID = torch.cat([torch.arange(0.0, 0.05, 0.0025), torch.arange(0.05, 1.0, 0.01)])


def _best_dice(maps: torch.Tensor, masks: torch.Tensor) -> tuple[float, float]:
    inter, pred_n, target_n = overlap_curve(maps, masks > 0.5, GRID)
    curve = dice_from_counts(inter, pred_n, target_n).nanmean(0)  # (Q,) over lesion slices
    q = int(torch.argmax(curve))
    return float(curve[q]), float(GRID[q])


def main() -> int:
    torch.set_num_threads(2)
    rows, t0 = [], time.perf_counter()
    for name in ("reference-binary", "reference-multilabel"):
        val = provenance(name)["validation_cohort"]
        root, frame = ensure_cohort(CohortSpec(val["seed"], val["subjects"], val["size"], val["slices"]),
                                    ROOT / "runs" / "reference_data")
        frame = frame[frame["any"] == 1].reset_index(drop=True)
        model = load_model(name).eval()
        ds = SliceDataset(frame, root, brain_mask=True, size=model_config(model).arch.img_size,
                          **model_config(model).input_kwargs())
        items = [ds[i] for i in range(len(ds))]
        images = torch.stack([it["image"] for it in items])
        brain = torch.stack([it["brain_mask"] for it in items])
        masks = torch.stack([it["mask"] for it in items])
        variants = {f"{b} x prior": ("blood_refine", {"base": b}) for b in BASES}
        maps: dict[str, list[torch.Tensor]] = {}
        for s in range(0, len(images), 16):
            out = explain(model, images[s:s + 16], (*BASES, "blood_hu"), target=ich_index(model),
                          brain_mask=brain[s:s + 16], normalize=True, variants=variants)
            for k, v in out.items():
                maps.setdefault(k, []).append(v.detach())
        for k, v in maps.items():
            dice, t = _best_dice(torch.cat(v), masks)
            rows.append((name, k, dice, t, len(images)))
    lines = ["# Choosing our own weak method (validation cohort of the reference classifiers)", "",
             f"Written by `bench/select_own_method.py` ({time.perf_counter() - t0:.0f} s). Lesion slices of each "
             "reference classifier's validation cohort (seed 9100, 30 subjects; never a study cohort); per map the "
             "mean Dice at its best global threshold (optimistic for every row alike: a ranking, not a result).", "",
             "| classifier | map | best mean Dice | at threshold | lesion slices |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {k} | {d:.3f} | {t:.4f} | {m} |" for n, k, d, t, m in sorted(rows, key=lambda r: (r[0], -r[2]))]
    path = write_text_atomic(ROOT / "bench" / "results" / "own_method.md", "\n".join(lines) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
