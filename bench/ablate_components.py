"""Ablation of the 3D post-processing of gated masks (issue 16): drop connected components below a volume.

A user's path, not the study's nested one: ``workbench explain --checkpoint reference-binary`` on the
study's evaluation cohort(s) with the checkpoint's calibrated defaults (P(ICH) gate and map threshold
per method, chosen on its own validation subjects, never on these), then each exported mask volume
with its 3D connected components (26-connected across slices) of volume < ``min_ml`` removed
(:func:`workbench.evaluation.components.remove_small_components`, ``--min-component-ml`` of
``workbench explain``), for every ``min_ml`` of the grid (0 = off, the default). Per method and
``min_ml``, the study's whole-scan figures of gated masks (:func:`workbench.protocol.report.gated_metrics`):
Dice on lesion slices, mean volume Dice of the subjects with hemorrhage, median absolute volume error
(mL and % of the true volume) per such subject, median false-positive volume of the hemorrhage-free
subjects, and slice detection (the released rule: more than 10 mask pixels; the truth is a non-empty
reference mask).

Run: ``.venv/bin/python bench/ablate_components.py`` (the cohorts of ``bench/study_synthetic.py``
must exist: ``runs/study_synthetic`` and ``runs/study_synthetic_cranium``). Writes
``bench/results/components.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from common import table, write_result
from workbench.data.manifest import read_manifest
from workbench.data.nifti import read_volume
from workbench.evaluation.aggregate import lesion_volume_ml
from workbench.evaluation.components import remove_small_components
from workbench.evaluation.detection import detect_from_mask
from workbench.evaluation.explain_export import ExportConfig, export_explanations
from workbench.evaluation.overlap import dice_from_counts, overlap_counts
from workbench.protocol.report import gated_metrics
from workbench.models.reference import explain_defaults
from workbench.utils.io import write_csv_atomic, write_text_atomic

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
    """``workbench explain`` of the cohort's evaluation manifest (reused when already there with the same settings
    and the same calibrated explain defaults of the checkpoint)."""
    cfg = ExportConfig(checkpoint=checkpoint, manifest=str(cohort / "eval_manifest.csv"),
                       root=str(cohort / "eval_cohort" / "physionet"), out=str(out), methods=tuple(methods))
    saved, defaults = out / "export_config.yaml", json.dumps(explain_defaults(checkpoint), sort_keys=True)
    used = out.with_name(out.name + ".explain_defaults.json")  # the calibrated gates the export applied
    if not (saved.is_file() and ExportConfig.load(saved) == cfg and (out / "volumes.csv").is_file()
            and used.is_file() and used.read_text() == defaults):
        export_explanations(cfg)
        write_text_atomic(used, defaults)
    return out


def slice_rows(cohort: Path, export_dir: Path, methods: list[str], grid: list[float]) -> pd.DataFrame:
    """One row per (slice, method, min_ml) in the study's slice-table columns (``gated_*`` for the
    exported, filtered mask) so :func:`workbench.protocol.report.gated_metrics` scores them."""
    frame = read_manifest(cohort / "eval_manifest.csv")
    root = cohort / "eval_cohort" / "physionet"
    rows = []
    for volume_id, vol in frame.groupby("volume_id", sort=True):
        first = vol.iloc[0]
        truth = torch.from_numpy(read_volume(root / first["mask_path"], first["orientation"]) > 0)  # (Z, H, W)
        spacing = [float(first[k]) for k in ("spacing_row", "spacing_col", "spacing_slice")]
        voxel_ml = float(lesion_volume_ml(torch.ones(1), spacing))
        target_n = truth.flatten(1).sum(1)
        base = {"subject_id": str(first["subject_id"]), "slice_index": np.arange(len(truth)),
                "has_lesion": (target_n > 0).numpy(), "label_any": (target_n > 0).numpy().astype(int),
                "lesion_pixels": target_n.numpy(), "gt_ml": target_n.numpy() * voxel_ml}
        for m in methods:
            pred = read_volume(export_dir / "maps" / f"{volume_id}_{m}_mask.nii.gz", first["orientation"]) > 0
            if pred.shape != tuple(truth.shape):
                raise ValueError(f"{volume_id} {m}: mask {pred.shape} vs reference {tuple(truth.shape)}")
            for min_ml in grid:
                kept = remove_small_components(torch.from_numpy(pred), voxel_ml, min_ml)
                inter, pred_n, _ = overlap_counts(kept, truth)
                rows.append(pd.DataFrame({**base, "method": m, "min_ml": min_ml, "gated_inter_pixels": inter.numpy(),
                                          "gated_pred_pixels": pred_n.numpy(), "gated_pred_ml": pred_n.numpy() * voxel_ml,
                                          "gated_dice": dice_from_counts(inter, pred_n, target_n).numpy(),
                                          "gated_detected": detect_from_mask(kept).numpy()}))
    return pd.concat(rows, ignore_index=True)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (method, min_ml): the study's whole-scan figures of the gated masks."""
    return pd.DataFrame([{"method": m, "min_ml": min_ml, **gated_metrics(g)}
                         for (m, min_ml), g in rows.groupby(["method", "min_ml"], sort=False)])


def render(summaries: dict[str, pd.DataFrame], checkpoint: str) -> str:
    parts = [f"Classifier `{checkpoint}` with its calibrated explain defaults (gate and threshold per method, chosen on "
             "its validation subjects, seed 9100); masks of `workbench explain`, then 3D components (26-connected) "
             "below `min_ml` dropped. Rows with `min_ml` 0 are the default (no post-processing). Figures as in the "
             "study's gated table (`workbench.protocol.report.gated_metrics`; a slice is called positive when its "
             "mask keeps more than 10 pixels).", ""]
    for name, s in summaries.items():
        first = s.iloc[0]
        parts += [f"### {name} evaluation cohort ({first['n_ich_subjects']} subjects with hemorrhage, "
                  f"{first['n_clean_subjects']} without)", "",
                  table(["method", "min component mL", "Dice (lesion slices)", "volume Dice (ICH subjects)",
                         "median abs volume error mL", "median abs volume error %", "median FP mL (ICH-free)",
                         "slice sensitivity", "slice specificity"],
                        [[r.method, f"{r.min_ml:g}", f"{r.gated_dice_mean:.3f}", f"{r.gated_volume_dice_mean:.3f}",
                          f"{r.gated_volume_abs_error_ml_median:.2f}", f"{r.gated_volume_abs_error_pct_median:.0f}",
                          f"{r.gated_fp_ml_clean_median:.2f}", f"{r.gated_det_sensitivity:.3f}",
                          f"{r.gated_det_specificity:.3f}"] for r in s.itertuples()]), ""]
    return "\n".join(parts)


def main(argv=None) -> int:
    args = parse_args(argv)
    summaries = {}
    for name, cohort in COHORTS.items():
        if not (cohort / "eval_manifest.csv").is_file():
            print(f"ablate_components.py: {cohort}: no evaluation cohort (run bench/study_synthetic.py first); skipped")
            continue
        out = export(cohort, args.checkpoint, args.methods, Path(args.out) / f"{name}-{args.checkpoint}")
        rows = slice_rows(cohort, out, args.methods, sorted(set(args.min_ml)))
        write_csv_atomic(out / "components.csv", rows)
        summaries[name] = summarise(rows)
    if not summaries:
        return 1
    path = write_result("components", "3D post-processing of gated masks: minimum component volume", render(summaries, args.checkpoint))
    print(path.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
