"""The study's summary in the paper's format: ``summary.csv`` rows and ``summary.md`` tables.

Segmentation: Dice and IoU over the slices WITH a lesion, pooled across test folds, as
mean +- std (SEM), with a subject-level bootstrap 95 % CI of the pooled slice mean. Detection on
all slices against the slice label ``any``: accuracy, precision, recall, F1 and specificity of the
mask rule (more than ``min_pixels`` predicted pixels); ROC-AUC from a continuous score, never from
hard predictions (weak methods: the classifier's P(ICH); baselines: the detection score), with a
subject-level bootstrap 95 % CI (whole subjects resampled: the slices of one scan are correlated).
The classifiers themselves get rows of their own (``prob > 0.5``). Volume: per-subject hemorrhage
volume (sum of slice volumes) estimated minus true, in mL.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from workbench.evaluation._common import safe_div
from workbench.evaluation.aggregate import bootstrap_ci, group_sum, summarize, volume_errors, volume_overlap
from workbench.evaluation.auc_bootstrap import auc_interval
from workbench.evaluation.detection import detection_metrics
from workbench.protocol.config import ProtocolConfig, method_spec

__all__ = ["mask_rule_metrics", "gated_metrics", "summary_table", "summary_markdown"]

_RATES = ("accuracy", "precision", "recall", "f1", "specificity")


def mask_rule_metrics(detected: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Rates of hard slice detections. detected, labels: (M,) bool -> the keys of ``_RATES`` (NaN: 0/0)."""
    d, y = detected.bool(), labels.bool()
    tp, fp, tn, fn = (d & y).sum(), (d & ~y).sum(), (~d & ~y).sum(), (~d & y).sum()
    return {"accuracy": float(safe_div(tp + tn, torch.tensor(d.numel()))), "precision": float(safe_div(tp, tp + fp)),
            "recall": float(safe_div(tp, tp + fn)), "f1": float(safe_div(2 * tp, 2 * tp + fp + fn)),
            "specificity": float(safe_div(tn, tn + fp))}


def _tensor(series: pd.Series, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(series.to_numpy(copy=True), dtype=dtype)


def _segmentation(rows: pd.DataFrame, cfg: ProtocolConfig) -> dict[str, float]:
    lesion = rows[rows["has_lesion"].astype(bool)]
    out: dict[str, float] = {"n_lesion_slices": len(lesion)}
    for metric in ("dice", "iou"):
        values = _tensor(lesion[metric])
        s = summarize(values)
        ci = bootstrap_ci(values, list(lesion["subject_id"]), generator=torch.Generator().manual_seed(cfg.seed),
                          n_resamples=cfg.bootstrap_resamples)
        out.update({f"{metric}_mean": s.mean, f"{metric}_std": s.std, f"{metric}_sem": s.sem,
                    f"{metric}_ci_low": ci.low, f"{metric}_ci_high": ci.high})
    for metric in ("pointing", "energy", "map_auc"):
        out[metric] = float(np.nanmean(lesion[metric])) if len(lesion) else math.nan
    return out


def _volume(rows: pd.DataFrame) -> dict[str, float]:
    subjects = list(rows["subject_id"])
    _, pred, _ = group_sum(_tensor(rows["pred_ml"]), subjects)
    _, true, _ = group_sum(_tensor(rows["gt_ml"]), subjects)
    err = volume_errors(pred, true)
    s = summarize(err["abs_error_ml"])
    return {"volume_abs_error_ml": s.mean, "volume_abs_error_ml_std": s.std,
            "volume_bias_ml": float(err["error_ml"].mean()), "true_volume_ml": float(true.mean())}


def gated_metrics(rows: pd.DataFrame) -> dict[str, float]:
    """Whole-scan figures of the gated masks (:mod:`workbench.evaluation.gating`): Dice on lesion
    slices, volume Dice per subject with hemorrhage, slice detection, false-positive volume of the
    hemorrhage-free subjects and the volume error of the others.

    ``rows``: one per slice, columns subject_id, has_lesion, label_any, lesion_pixels, gt_ml and the
    gated mask's gated_dice, gated_inter_pixels, gated_pred_pixels, gated_pred_ml, gated_detected
    (the study's slice table, :func:`workbench.protocol.tables.slice_table`); {} without them."""
    if "gated_dice" not in rows:
        return {}
    lesion = rows[rows["has_lesion"].astype(bool)]
    subjects = list(rows["subject_id"])
    _, overlap = volume_overlap(_tensor(rows["gated_inter_pixels"]), _tensor(rows["gated_pred_pixels"]),
                                _tensor(rows["lesion_pixels"]), subjects)  # volume Dice, NaN for ICH-free subjects
    _, pred_ml, _ = group_sum(_tensor(rows["gated_pred_ml"]), subjects)
    _, true_ml, _ = group_sum(_tensor(rows["gt_ml"]), subjects)
    ich = ~torch.isnan(overlap["dice"])
    err = volume_errors(pred_ml[ich], true_ml[ich])
    rates = mask_rule_metrics(_tensor(rows["gated_detected"], torch.bool), _tensor(rows["label_any"], torch.int64))

    def median(x: torch.Tensor) -> float:
        return float(x.nanquantile(0.5)) if x.numel() else math.nan

    return {"gated_dice_mean": float(lesion["gated_dice"].mean()) if len(lesion) else math.nan,
            "gated_volume_dice_mean": float(overlap["dice"][ich].mean()) if bool(ich.any()) else math.nan,
            "gated_det_sensitivity": rates["recall"], "gated_det_specificity": rates["specificity"],
            "gated_fp_ml_clean_median": median(pred_ml[~ich]),
            "gated_volume_abs_error_ml_median": median(err["abs_error_ml"]),
            "gated_volume_abs_error_pct_median": median(100 * err["relative_error"].abs()),
            "n_ich_subjects": int(ich.sum()), "n_clean_subjects": int((~ich).sum())}


def _auc_ci(scores: pd.Series, labels: torch.Tensor, subjects: pd.Series, cfg: ProtocolConfig) -> dict[str, float]:
    """``det_auc_ci_low`` / ``det_auc_ci_high``: subject-bootstrap 95 % CI of the detection ROC-AUC (the
    study's seed and resamples, as its Dice CIs)."""
    ci = auc_interval(scores.to_numpy(dtype=np.float64), labels.numpy(), subjects.astype(str).to_numpy(),
                      seed=cfg.seed, n_resamples=cfg.bootstrap_resamples)
    return {"det_auc_ci_low": ci.low, "det_auc_ci_high": ci.high}


def summary_table(slices: pd.DataFrame, cfg: ProtocolConfig) -> pd.DataFrame:
    """One row per method (kind weak / supervised) plus one per classifier (kind classifier)."""
    rows, classifier_rows, auc_cis = [], {}, {}
    for method in cfg.methods:
        r = slices[slices["method"] == method]
        labels = _tensor(r["label_any"], torch.int64)
        spec = method_spec(method)
        scores = detection_metrics(_tensor(r["prob"]), labels)
        key = method if spec.model == "baseline" else spec.model  # weak methods share their classifier's P(ICH)
        if key not in auc_cis:  # one bootstrap per detection score, not one per method
            auc_cis[key] = _auc_ci(r["prob"], labels, r["subject_id"], cfg)
        auc_ci = auc_cis[key]
        thresholds = r.groupby("fold")["threshold"].first()
        rows.append({"method": method, "kind": "supervised" if spec.model == "baseline" else "weak",
                     "thresholds": " ".join(f"{t:g}" for t in thresholds), "n_slices": len(r),
                     "n_subjects": r["subject_id"].nunique(), **_segmentation(r, cfg),
                     **{f"det_{k}": v for k, v in mask_rule_metrics(_tensor(r["detected"], torch.bool), labels).items()},
                     "det_auc": scores["roc_auc"], **auc_ci,
                     "det_average_precision": scores["average_precision"],
                     "det_auc_source": "detection score" if spec.model == "baseline" else f"{spec.model} classifier",
                     **_volume(r), **gated_metrics(r),
                     "gate_probability": r["gate_probability"].iloc[0] if "gate_probability" in r else "slice"})
        if spec.model != "baseline" and spec.model not in classifier_rows:
            m = detection_metrics(_tensor(r["prob"]), labels, threshold=0.5)
            classifier_rows[spec.model] = {"method": f"classifier_{spec.model}", "kind": "classifier",
                                           "n_slices": len(r), "n_subjects": r["subject_id"].nunique(),
                                           **{f"det_{k}": m[k] for k in _RATES}, "det_auc": m["roc_auc"],
                                           **auc_ci,
                                           "det_average_precision": m["average_precision"],
                                           "det_auc_source": "probability"}
            context = r["prob_context"] if "prob_context" in r else None
            if context is not None and bool(context.notna().all()):  # the classifier carries a scan-context head
                m = detection_metrics(_tensor(context), labels, threshold=0.5)
                classifier_rows[f"{spec.model}_context"] = {
                    "method": f"classifier_{spec.model}_context", "kind": "classifier", "n_slices": len(r),
                    "n_subjects": r["subject_id"].nunique(), **{f"det_{k}": m[k] for k in _RATES},
                    "det_auc": m["roc_auc"], **_auc_ci(context, labels, r["subject_id"], cfg),
                    "det_average_precision": m["average_precision"],
                    "det_auc_source": "probability with scan context"}
    return pd.DataFrame(rows + list(classifier_rows.values()))


def _fmt(x, digits: int = 3) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _mean_std_sem(row: pd.Series, metric: str) -> str:
    return f"{_fmt(row[f'{metric}_mean'])} +- {_fmt(row[f'{metric}_std'])} ({_fmt(row[f'{metric}_sem'])})"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def summary_markdown(summary: pd.DataFrame) -> str:
    """``summary.md``: segmentation, detection and volume tables of a summary frame."""
    seg = summary[summary["kind"] != "classifier"]
    seg_rows = [[r["method"], _mean_std_sem(r, "dice"), f"[{_fmt(r['dice_ci_low'])}, {_fmt(r['dice_ci_high'])}]",
                 _mean_std_sem(r, "iou"), f"[{_fmt(r['iou_ci_low'])}, {_fmt(r['iou_ci_high'])}]",
                 str(int(r["n_lesion_slices"])), str(r["thresholds"]), _fmt(r["pointing"]), _fmt(r["energy"])]
                for _, r in seg.iterrows()]
    det_rows = [[r["method"], *[_fmt(r[f"det_{k}"]) for k in _RATES], _fmt(r["det_auc"]),
                 f"[{_fmt(r.get('det_auc_ci_low'))}, {_fmt(r.get('det_auc_ci_high'))}]", str(r["det_auc_source"])]
                for _, r in summary.iterrows()]
    vol_rows = [[r["method"], f"{_fmt(r['volume_abs_error_ml'], 2)} +- {_fmt(r['volume_abs_error_ml_std'], 2)}",
                 _fmt(r["volume_bias_ml"], 2), _fmt(r["true_volume_ml"], 2)] for _, r in seg.iterrows()]
    return "\n\n".join([
        "## Segmentation (slices with hemorrhage, pooled over test folds)",
        _table(["method", "Dice mean +- std (SEM)", "Dice 95% CI", "IoU mean +- std (SEM)", "IoU 95% CI",
                "lesion slices", "thresholds per fold", "pointing", "energy"], seg_rows),
        "95 % CI: subject-level bootstrap of the pooled slice mean.",
        "## Detection (all slices, label `any`)",
        _table(["method", *_RATES, "ROC-AUC", "ROC-AUC 95% CI", "AUC from"], det_rows),
        "Segmentation methods: more than min_pixels predicted pixels; classifiers: P(ICH) > 0.5. "
        "ROC-AUC 95 % CI: subject-level bootstrap.",
        "## Hemorrhage volume per subject (mL, estimated - true)",
        _table(["method", "abs error mean +- std", "bias", "mean true volume"], vol_rows),
        *_gated_markdown(seg),
    ]) + "\n"


def _gated_markdown(seg: pd.DataFrame) -> list[str]:
    if "gated_dice_mean" not in seg:
        return []
    rows = [[r["method"], _fmt(r["gated_dice_mean"]), _fmt(r["gated_volume_dice_mean"]),
             _fmt(r["gated_det_sensitivity"]), _fmt(r["gated_det_specificity"]),
             _fmt(r["gated_volume_abs_error_ml_median"], 2), _fmt(r["gated_volume_abs_error_pct_median"], 1),
             _fmt(r["gated_fp_ml_clean_median"], 2)] for _, r in seg.iterrows()]
    return ["## Gated masks on whole scans (a slice below the P(ICH) gate gets an empty mask)",
            _table(["method", "Dice (lesion slices)", "volume Dice per ICH subject", "sensitivity", "specificity",
                    "median abs volume error (mL)", "median abs volume error (% of true)",
                    "median false-positive volume, ICH-free subjects (mL)"], rows),
            "Gate and threshold chosen together per test fold on the other folds (per-subject volume score); "
            "the gate reads the P(ICH) named in the summary column gate_probability (slice: the slice's own; "
            "context: with the classifier's scan-context head); baselines are not gated (gate 0 at their fixed threshold)."]
