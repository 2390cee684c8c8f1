"""What the gate of the gated masks should read (issue 16): the slice's own P(ICH), or P(ICH) with scan context.

The study's gated masks empty every slice whose P(ICH) is below a gate chosen per test fold on the other
folds (with the map threshold, nested). The reference classifiers ship a scan-context head
(:mod:`workbench.models.context`) whose P(ICH) ranks slices better (study cohort 0.865 -> 0.906); the
protocol's ``gate_probability`` picks which one the gates read (``slice`` is the default). This
ablation rebuilds both study cohorts' tables from their caches under each setting
(:func:`workbench.protocol.run.rebuild_tables`: no map is recomputed) and tabulates the whole-scan
figures of the gated masks per weak method: Dice on lesion slices, volume Dice per subject with
hemorrhage, slice sensitivity / specificity, median absolute volume error (% of the true volume) and
median false-positive volume of the hemorrhage-free subjects.

Run: ``.venv/bin/python bench/ablate_gate_probability.py`` (after ``bench/study_synthetic.py`` for both
backgrounds; a few seconds). Writes ``bench/results/gate_probability.md``.
"""

from __future__ import annotations

from pathlib import Path

from common import table, write_result
from workbench.evaluation.gating import GATE_PROBABILITIES
from workbench.protocol.run import rebuild_tables

ROOT = Path(__file__).resolve().parents[1]
COHORTS = {"procedural": ROOT / "runs" / "study_synthetic" / "study",
           "Cranium": ROOT / "runs" / "study_synthetic_cranium" / "study"}
FIGURES = {"gated_dice_mean": ("Dice, lesion slices", 3), "gated_volume_dice_mean": ("volume Dice per ICH subject", 3),
           "gated_det_sensitivity": ("sensitivity", 3), "gated_det_specificity": ("specificity", 3),
           "gated_volume_abs_error_pct_median": ("median abs volume error (%)", 0),
           "gated_fp_ml_clean_median": ("median FP volume, ICH-free (mL)", 2)}


def main() -> int:
    rows, detection = [], []
    for cohort, study in COHORTS.items():
        if not (study / "config.yaml").is_file():
            raise SystemExit(f"ablate_gate_probability.py: {study} is not a finished study; run bench/study_synthetic.py first")
        summaries = {g: rebuild_tables(study, gate_probability=g)["summary"].set_index("method") for g in GATE_PROBABILITIES}
        context = summaries["context"]
        for method in context.index[context["kind"] == "weak"]:
            if context.loc[method, "gate_probability"] != "context":
                continue  # its classifier has no head: both settings are the same
            for g in GATE_PROBABILITIES:
                r = summaries[g].loc[method]
                rows.append([cohort, method, g, *(f"{r[k]:.{d}f}" for k, (_, d) in FIGURES.items())])
        for name in context.index[context["kind"] == "classifier"]:
            detection.append([cohort, name, f"{context.loc[name, 'det_auc']:.3f}"])
    body = ("Both study cohorts of `bench/study_synthetic.py` (5 folds, nested gate and threshold per test fold), "
            "tables rebuilt from the studies' caches with the gates on the slice's own P(ICH) (`slice`, the default) or "
            "on P(ICH) with scan context (`context`); the maps are the same in both rows.\n\n"
            + table(["cohort", "method", "gate reads", *(label for label, _ in FIGURES.values())], rows)
            + "\n\nClassifier detection on the same slices (ROC-AUC of P(ICH)):\n\n"
            + table(["cohort", "classifier row", "ROC-AUC"], detection))
    path = write_result("gate_probability", "What the gate reads: slice P(ICH) or P(ICH) with scan context", body)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
