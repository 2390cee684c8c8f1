"""Evaluation: segmentation, localisation, faithfulness and detection metrics, aggregation, thresholds.

Pure torch functions, batched over the first axis, one value per sample; NaN marks an undefined
value (empty ground truth) and every reduction skips NaN explicitly. See docs/guide/evaluation.md.

- :mod:`.overlap`: Dice, IoU, Dice / IoU versus threshold curves.
- :mod:`.localisation`: pointing game, energy pointing game, relevance rank accuracy, map ROC-AUC.
- :mod:`.perturbation`: deletion and insertion curves and their areas.
- :mod:`.sanity`: randomisation sanity check (trained vs re-initialised model maps).
- :mod:`.detection`: slice detection metrics from probabilities; detection from a segmentation.
- :mod:`.ranking`: rank statistics (ROC-AUC, average precision, Spearman) with exact ties.
- :mod:`.aggregate` / :mod:`.accumulator`: per subject / volume, mL volumes, bootstrap CIs, summaries.
- :mod:`.auc_bootstrap`: subject-bootstrap CIs of ROC-AUC and of paired AUC differences.
- :mod:`.thresholds`: nested per-fold threshold search and the released fixed thresholds.
"""

from workbench.evaluation.accumulator import MetricAccumulator
from workbench.evaluation.aggregate import (BootstrapCI, Summary, bootstrap_ci, group_mean, group_sum,
                                            lesion_volume_ml, summarize, volume_errors, volume_overlap)
from workbench.evaluation.auc_bootstrap import AucComparison, auc_interval, bootstrap_auc
from workbench.evaluation.detection import (DETECTION_METRICS, MIN_LESION_PIXELS, confusion_counts, detect_from_mask,
                                            detection_metrics, detection_score)
from workbench.evaluation.localisation import energy_pointing_game, map_auc, pointing_game, relevance_rank_accuracy
from workbench.evaluation.overlap import (dice, dice_curve, dice_from_counts, iou, iou_curve, iou_from_counts,
                                          overlap_counts, overlap_curve, threshold_grid, THRESHOLD_GRID)
from workbench.evaluation.perturbation import PerturbationCurve, curve_area, deletion_curve, insertion_curve
from workbench.evaluation.ranking import (average_precision, average_ranks, binary_auc, roc_auc, spearman,
                                          weighted_roc_auc)
from workbench.evaluation.sanity import randomisation_check, top_fraction_overlap
from workbench.evaluation.thresholds import (FIXED_THRESHOLDS, FoldThreshold, ThresholdSearch, fixed_thresholds,
                                             select_thresholds, threshold_rows)

__all__ = [
    "MetricAccumulator", "BootstrapCI", "Summary", "bootstrap_ci", "AucComparison", "bootstrap_auc", "auc_interval",
    "group_mean", "group_sum", "lesion_volume_ml",
    "summarize", "volume_errors", "volume_overlap", "DETECTION_METRICS", "confusion_counts", "detect_from_mask",
    "detection_metrics", "detection_score", "MIN_LESION_PIXELS", "energy_pointing_game", "map_auc", "pointing_game", "relevance_rank_accuracy", "dice",
    "dice_curve", "dice_from_counts", "iou", "iou_curve", "iou_from_counts", "overlap_counts", "overlap_curve",
    "threshold_grid", "THRESHOLD_GRID", "PerturbationCurve", "curve_area", "deletion_curve", "insertion_curve", "average_precision",
    "average_ranks", "binary_auc", "roc_auc", "weighted_roc_auc", "spearman", "randomisation_check",
    "top_fraction_overlap", "FIXED_THRESHOLDS",
    "FoldThreshold", "ThresholdSearch", "fixed_thresholds", "select_thresholds", "threshold_rows",
]
