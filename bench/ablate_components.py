"""Ablation of the 3D post-processing of gated masks (issue 16): drop connected components below a volume.

A user's path, not the study's nested one: ``workbench explain --checkpoint reference-binary`` on the
study's evaluation cohort(s) with the checkpoint's calibrated defaults (P(ICH) gate and map threshold
per method, chosen on its own validation subjects, never on these), then each exported mask volume
with its 3D connected components (26-connected across slices) of volume < ``min_ml`` removed
(:func:`workbench.evaluation.components.remove_small_components`, ``--min-component-ml`` of
``workbench explain``), for every ``min_ml`` of the grid (0 = off, the default). Per method and
``min_ml``: mean volume Dice of the subjects with hemorrhage, median absolute volume error (mL and %
of the true volume) per such subject, median false-positive volume of the hemorrhage-free subjects,
and slice detection (a slice is called positive when its filtered mask keeps >= ``min_pixels``
pixels; the truth is a non-empty reference mask).

Run: ``.venv/bin/python bench/ablate_components.py`` (the cohorts of ``bench/study_synthetic.py``
must exist: ``runs/study_synthetic`` and ``runs/study_synthetic_cranium``). Writes
``bench/results/components.md``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import torch

from common import table, write_result
from workbench.data.manifest import read_manifest
from workbench.evaluation.aggregate import volume_errors
from workbench.evaluation.components import remove_small_components
from workbench.evaluation.detection import MIN_LESION_PIXELS
from workbench.evaluation.explain_export import ExportConfig, export_explanations

ROOT = Path(__file__).resolve().parents[1]
COHORTS = {"procedural": ROOT / "runs" / "study_synthetic", "Cranium": ROOT / "runs" / "study_synthetic_cranium"}
MIN_ML = (0.0, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="reference-binary")
    p.add_argument("--methods", nargs="+", default=["hgi_sam", "blood_refine", "blood_hu", "gradcam"])
    p.add_argument("--min-ml", nargs="+", type=float, default=list(MIN_ML), help="component volumes (mL) to ablate")
    p.add_argument("--out", default=str(ROOT / "runs" / "ablate_components"))
    return p.parse_args(argv)


def export(cohort: Path, checkpoint: str, methods: list[str], out: Path) -> Path:
    """``workbench explain`` of the cohort's evaluation manifest (reused when already there with the same settings)."""
    cfg = ExportConfig(checkpoint=checkpoint, manifest=str(cohort / "eval_manifest.csv"),
                       root=str(cohort / "eval_cohort" / "physionet"), out=str(out), methods=tuple(methods))
    saved = out / "export_config.yaml"
    if not (saved.is_file() and ExportConfig.load(saved) == cfg and (out / "volumes.csv").is_file()):
        export_explanations(cfg)
    return out


def _slices_first(path: Path) -> np.ndarray:
    """A LAS-stored mask volume as (Z, X, Y) bool (slices along the last stored axis)."""
    return np.moveaxis(np.asarray(nib.load(str(path)).dataobj) > 0, -1, 0)


def subject_rows(cohort: Path, export_dir: Path, methods: list[str], grid: list[float]) -> pd.DataFrame:
    """One row per (subject, method, min_ml): true / predicted voxels and mL, overlap, slice detection counts."""
    frame = read_manifest(cohort / "eval_manifest.csv")
    root = cohort / "eval_cohort" / "physionet"
    rows = []
    for volume_id, vol in frame.groupby("volume_id", sort=True):
        first = vol.iloc[0]
        truth = _slices_first(root / first["mask_path"])
        voxel_ml = float(first["spacing_row"] * first["spacing_col"] * first["spacing_slice"]) / 1000.0
        true_slices = truth.reshape(truth.shape[0], -1).sum(1) > 0
        for m in methods:
            pred = torch.from_numpy(_slices_first(export_dir / "maps" / f"{volume_id}_{m}_mask.nii.gz"))
            if pred.shape != truth.shape:
                raise ValueError(f"{volume_id} {m}: mask {tuple(pred.shape)} vs reference {truth.shape}")
            for min_ml in grid:
                kept = remove_small_components(pred, voxel_ml, min_ml).numpy()
                called = kept.reshape(kept.shape[0], -1).sum(1) >= MIN_LESION_PIXELS
                rows.append({"subject": str(first["subject_id"]), "method": m, "min_ml": min_ml,
                             "true_ml": truth.sum() * voxel_ml, "pred_ml": kept.sum() * voxel_ml,
                             "inter": int((kept & truth).sum()), "pred_n": int(kept.sum()), "true_n": int(truth.sum()),
                             "tp": int((called & true_slices).sum()), "fn": int((~called & true_slices).sum()),
                             "fp": int((called & ~true_slices).sum()), "tn": int((~called & ~true_slices).sum())})
    return pd.DataFrame(rows)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (method, min_ml): the whole-scan figures of the module docstring."""
    out = []
    for (m, min_ml), g in rows.groupby(["method", "min_ml"], sort=False):
        ich = g[g["true_n"] > 0]
        clean = g[g["true_n"] == 0]
        err = volume_errors(torch.tensor(ich["pred_ml"].to_numpy()), torch.tensor(ich["true_ml"].to_numpy()))
        dice = 2 * ich["inter"] / (ich["pred_n"] + ich["true_n"])
        tp, fn, fp, tn = (int(g[k].sum()) for k in ("tp", "fn", "fp", "tn"))
        out.append({"method": m, "min_ml": min_ml, "volume_dice": float(dice.mean()),
                    "abs_error_ml_median": float(err["abs_error_ml"].median()),
                    "abs_error_pct_median": float((100 * err["relative_error"].abs()).median()),
                    "fp_ml_clean_median": float(clean["pred_ml"].median()) if len(clean) else math.nan,
                    "sensitivity": tp / max(tp + fn, 1), "specificity": tn / max(tn + fp, 1),
                    "n_ich": len(ich), "n_clean": len(clean)})
    return pd.DataFrame(out)


def render(summaries: dict[str, pd.DataFrame], checkpoint: str) -> str:
    parts = [f"Classifier `{checkpoint}` with its calibrated explain defaults (gate and threshold per method, chosen on "
             "its validation subjects, seed 9100); masks of `workbench explain`, then 3D components (26-connected) "
             "below `min_ml` dropped. Rows with `min_ml` 0 are the default (no post-processing).", ""]
    for name, s in summaries.items():
        first = s.iloc[0]
        parts += [f"### {name} evaluation cohort ({first['n_ich']} subjects with hemorrhage, {first['n_clean']} without)", "",
                  table(["method", "min component mL", "volume Dice (ICH subjects)", "median abs volume error mL",
                         "median abs volume error %", "median FP mL (ICH-free)", "slice sensitivity",
                         "slice specificity"],
                        [[r.method, f"{r.min_ml:g}", f"{r.volume_dice:.3f}", f"{r.abs_error_ml_median:.2f}",
                          f"{r.abs_error_pct_median:.0f}", f"{r.fp_ml_clean_median:.2f}", f"{r.sensitivity:.3f}",
                          f"{r.specificity:.3f}"] for r in s.itertuples()]), ""]
    return "\n".join(parts)


def main(argv=None) -> int:
    args = parse_args(argv)
    summaries = {}
    for name, cohort in COHORTS.items():
        if not (cohort / "eval_manifest.csv").is_file():
            print(f"ablate_components.py: {cohort}: no evaluation cohort (run bench/study_synthetic.py first); skipped")
            continue
        out = export(cohort, args.checkpoint, args.methods, Path(args.out) / f"{name}-{args.checkpoint}")
        rows = subject_rows(cohort, out, args.methods, sorted(set(args.min_ml)))
        rows.to_csv(out / "components.csv", index=False)
        summaries[name] = summarise(rows)
    if not summaries:
        return 1
    path = write_result("components", "3D post-processing of gated masks: minimum component volume", render(summaries, args.checkpoint))
    print(path.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
