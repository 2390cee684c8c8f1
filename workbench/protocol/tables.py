"""The study's tables from the cached per-slice statistics (formats in docs/guide/protocol.md).

- ``slices.csv``: one row per slice x method, at the threshold of the slice's fold;
- ``folds.csv``: one row per method x fold: the threshold, how it was chosen, test-fold metrics, and
  the (gate, threshold) pair of the gated masks (:mod:`workbench.evaluation.gating`);
- ``curves.csv``: mean Dice / IoU over lesion slices at every grid threshold, per fold and pooled
  (fold -1);
- ``summary.csv`` / ``summary.md``: the paper's format (mean +- std (SEM) over lesion slices pooled
  across folds, subject-level bootstrap 95 % CI), detection and hemorrhage-volume error;
- ``timing.csv``: seconds per (fold, method) (written by :func:`~workbench.protocol.run.run_protocol`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from workbench.evaluation.gating import FoldGate, gate_slices, select_gate_thresholds
from workbench.evaluation.overlap import dice_from_counts, iou_from_counts, threshold_grid
from workbench.evaluation.resample import model_spacing, source_shapes
from workbench.evaluation.thresholds import FIXED_THRESHOLDS, FoldThreshold, fixed_thresholds, select_thresholds, \
    threshold_rows
from workbench.models.context import ContextHead, frame_context_probabilities, load_context
from workbench.protocol.config import ProtocolConfig, method_spec
from workbench.protocol.report import summary_markdown, summary_table
from workbench.utils.io import write_csv_atomic, write_text_atomic

__all__ = ["TABLES", "protocol_grid", "choose_thresholds", "choose_gates", "frame_positions", "slice_table", "fold_table", "curve_table", "context_head", "with_context", "build_tables",
           "write_tables", "read_tables"]

TABLES = ("slices", "folds", "summary", "curves", "timing")


def protocol_grid(cfg: ProtocolConfig) -> torch.Tensor:
    """(Q,) float64 search grid plus the fixed thresholds in use (released constants, baselines'),
    so every threshold the study applies is a grid point and is scored in the single pass."""
    extra = [cfg.baseline_threshold, *FIXED_THRESHOLDS.values()]
    grid = torch.cat([threshold_grid(*cfg.grid), torch.tensor(extra, dtype=torch.float64)])
    return torch.unique(torch.round(grid * 1e6) / 1e6)


def _grid_index(grid: torch.Tensor, t: float) -> int:
    return int(torch.argmin((grid - t).abs()))


def choose_thresholds(cfg: ProtocolConfig, method: str, stats: dict[str, torch.Tensor], folds: torch.Tensor,
                      grid: torch.Tensor) -> dict[int, FoldThreshold]:
    """{test fold: FoldThreshold}. Baselines: fixed ``baseline_threshold``; ``fixed`` mode: the released
    constant where the method has one; otherwise nested (the test fold's rows are dropped first)."""
    spec = method_spec(method)
    distinct = sorted(set(folds.tolist()))
    if spec.model == "baseline":
        return {k: FoldThreshold(k, cfg.baseline_threshold, "fixed", tuple(j for j in distinct if j != k),
                                 float("nan"), 0) for k in distinct}
    if cfg.threshold_mode == "fixed" and spec.fixed_key:
        return fixed_thresholds(spec.fixed_key, folds)
    curves = dice_from_counts(stats["inter"], stats["pred_n"], stats["target_n"][:, None])  # (M, Q)
    return select_thresholds(curves, folds, grid)


def choose_gates(cfg: ProtocolConfig, method: str, stats: dict[str, torch.Tensor], folds: torch.Tensor,
                 subjects: list, grid: torch.Tensor) -> dict[int, FoldGate]:
    """{test fold: FoldGate}: the gate on the classifier's P(ICH) and the map threshold of the gated
    masks, chosen together on the other folds. Baselines have no classifier: gate 0 at their fixed
    ``baseline_threshold`` (their masks are already empty where the network sees no bleed)."""
    distinct = sorted(set(folds.tolist()))
    if method_spec(method).model == "baseline":
        return {k: FoldGate(k, 0.0, cfg.baseline_threshold, tuple(j for j in distinct if j != k), float("nan"), 0)
                for k in distinct}
    return select_gate_thresholds(stats["inter"], stats["pred_n"], stats["target_n"], stats.get("gate_prob", stats["prob"]),
                                  subjects, folds, grid)


def slice_table(cfg: ProtocolConfig, frame: pd.DataFrame, spacing: torch.Tensor, method: str,
                stats: dict[str, torch.Tensor], chosen: dict[int, FoldThreshold], grid: torch.Tensor,
                gates: dict[int, FoldGate] | None = None) -> pd.DataFrame:
    """Rows of one method (M slices) at each slice's fold threshold, and (``gates``) of its gated masks
    at the fold's (gate, threshold). spacing: (N, 3) model-pixel mm of the evaluation frame's rows;
    ``stats["row"]`` holds manifest row numbers (the frame's index)."""
    rows = frame_positions(frame, stats["row"])
    sub = frame.iloc[rows.numpy()]
    folds = torch.as_tensor(sub["fold"].to_numpy().copy())
    q = torch.tensor([_grid_index(grid, chosen[int(k)].threshold) for k in folds.tolist()])[:, None]  # (M, 1)
    inter, pred_n = stats["inter"].gather(1, q)[:, 0], stats["pred_n"].gather(1, q)[:, 0]
    target_n = stats["target_n"]
    voxel_ml = spacing[rows].prod(-1) / 1000.0  # (M,) mL of one model pixel
    gated = {}
    if gates is not None:
        gq = torch.tensor([_grid_index(grid, gates[int(k)].threshold) for k in folds.tolist()])[:, None]
        gate = torch.tensor([gates[int(k)].gate for k in folds.tolist()], dtype=torch.float64)
        gate_prob = stats.get("gate_prob", stats["prob"])  # with_context: the slice's or the scan-context P(ICH)
        g_inter = gate_slices(stats["inter"].gather(1, gq)[:, 0], gate_prob, gate)  # each slice, its fold's gate
        g_pred = gate_slices(stats["pred_n"].gather(1, gq)[:, 0], gate_prob, gate)
        gated = {"gate": gate.numpy(), "gated_threshold": grid[gq[:, 0]].numpy(), "gated_pred_pixels": g_pred.numpy(),
                 "gated_dice": dice_from_counts(g_inter, g_pred, target_n).numpy(),
                 "gated_inter_pixels": g_inter.numpy(), "gated_detected": (g_pred > cfg.min_pixels).numpy(),
                 "gated_pred_ml": (g_pred * voxel_ml).numpy(), "gate_probability": stats.get("gate_reads", "slice")}
    return pd.DataFrame({
        "subject_id": sub["subject_id"].to_numpy(), "volume_id": sub["volume_id"].to_numpy(),
        "slice_index": sub["slice_index"].to_numpy(), "fold": folds.numpy(), "method": method,
        "label_any": sub["any"].to_numpy(), "has_lesion": (target_n > 0).numpy(), "lesion_pixels": target_n.numpy(),
        "threshold": grid[q[:, 0]].numpy(), "dice": dice_from_counts(inter, pred_n, target_n).numpy(),
        "iou": iou_from_counts(inter, pred_n, target_n).numpy(), "pointing": stats["pointing"].numpy(),
        "energy": stats["energy"].numpy(), "map_auc": stats["map_auc"].numpy(), "pred_pixels": pred_n.numpy(),
        "detected": (pred_n > cfg.min_pixels).numpy(), "det_score": stats["det_score"].numpy(),
        "prob": stats["prob"].numpy(), "prob_context": stats.get("prob_context", torch.full_like(stats["prob"], float("nan"))).numpy(),
        "gt_ml": (target_n * voxel_ml).numpy(), "pred_ml": (pred_n * voxel_ml).numpy(),
        "inter_pixels": inter.numpy(), **gated,
    })


def frame_positions(frame: pd.DataFrame, manifest_rows: torch.Tensor) -> torch.Tensor:
    """Positions (M,) in ``frame`` of the manifest row numbers ``manifest_rows`` (M,); an error if any is missing."""
    pos = frame.index.get_indexer(manifest_rows.numpy())
    if (pos < 0).any():
        raise ValueError(f"cached statistics refer to manifest rows {manifest_rows.numpy()[pos < 0][:5].tolist()} that "
                         "the evaluation frame lacks; delete the study's cache/ folder and rerun")
    return torch.from_numpy(pos)


def fold_table(slices: pd.DataFrame, chosen: dict[str, dict[int, FoldThreshold]]) -> pd.DataFrame:
    """One row per method x fold: threshold record (:func:`threshold_rows`) + test-fold means."""
    rows = []
    for method, by_fold in chosen.items():
        for rec in threshold_rows(by_fold, method):
            test = slices[(slices["method"] == method) & (slices["fold"] == rec["fold"])]
            lesion = test[test["has_lesion"]]
            gated = {}
            if "gate" in test:
                gated = {"gate": float(test["gate"].iloc[0]), "gated_threshold": float(test["gated_threshold"].iloc[0]),
                         "gated_dice": lesion["gated_dice"].mean(),
                         "gated_det_accuracy": float((test["gated_detected"] == (test["label_any"] == 1)).mean())}
            rows.append({**rec, "n_slices": len(test), "n_lesion_slices": len(lesion),
                         "dice": lesion["dice"].mean(), "iou": lesion["iou"].mean(),
                         "det_accuracy": float((test["detected"] == (test["label_any"] == 1)).mean()), **gated})
    return pd.DataFrame(rows)


def curve_table(method: str, stats: dict[str, torch.Tensor], folds: torch.Tensor, grid: torch.Tensor) -> pd.DataFrame:
    """Mean Dice / IoU over lesion slices at each grid threshold: per fold and pooled (fold = -1)."""
    tn = stats["target_n"][:, None]
    dice = dice_from_counts(stats["inter"], stats["pred_n"], tn)  # (M, Q), NaN rows without lesion
    iou = iou_from_counts(stats["inter"], stats["pred_n"], tn)
    lesion = stats["target_n"] > 0
    parts = []
    for k in [-1] + sorted(set(folds.tolist())):
        keep = lesion & ((folds == k) if k >= 0 else torch.ones_like(lesion))
        parts.append(pd.DataFrame({"method": method, "fold": k, "threshold": grid.numpy(),
                                   "dice": torch.nanmean(dice[keep], 0).numpy(), "iou": torch.nanmean(iou[keep], 0).numpy(),
                                   "n_lesion_slices": int(keep.sum())}))
    return pd.concat(parts, ignore_index=True)


def context_head(cfg: ProtocolConfig, model: str) -> ContextHead | None:
    """The scan-context head beside the study's ``model`` classifier (binary / multilabel), or None (no head,
    a baseline, or a classifier no method uses)."""
    if model not in ("binary", "multilabel") or not cfg.uses(model):
        return None
    return load_context(getattr(cfg, f"{model}_checkpoint"))


def with_context(cfg: ProtocolConfig, frame: pd.DataFrame, method: str, stats: dict[str, torch.Tensor],
                 head: ContextHead | None) -> dict[str, torch.Tensor]:
    """``stats`` plus ``prob_context`` (M,): the method's P(ICH) read with its scan's neighbouring slices by
    the classifier's context ``head`` (:func:`workbench.models.context.context_probabilities`; NaN without
    a head, for a baseline and for a scan whose slice spacing is off the head's 5 mm), and ``gate_prob``
    (M,): the probability the gates read (``cfg.gate_probability``: the context one where every slice has
    one, else the slice's own ``prob``)."""
    prob_context = torch.full_like(stats["prob"], float("nan"), dtype=torch.float64)
    if head is not None and method_spec(method).model != "baseline":
        sub = frame.iloc[frame_positions(frame, stats["row"]).numpy()]
        prob_context = torch.from_numpy(frame_context_probabilities(head, stats["prob"].numpy(), sub))
    use_context = cfg.gate_probability == "context" and not bool(prob_context.isnan().any())
    return {**stats, "prob_context": prob_context, "gate_prob": prob_context if use_context else stats["prob"].double(),
            "gate_reads": "context" if use_context else "none" if method_spec(method).model == "baseline" else "slice"}


def build_tables(cfg: ProtocolConfig, frame: pd.DataFrame, grid: torch.Tensor,
                 stats: dict[str, dict[str, torch.Tensor]]) -> dict[str, pd.DataFrame]:
    """slices, folds, curves and summary frames from {method: statistics}; frame: evaluation rows."""
    spacing = model_spacing(frame, source_shapes(frame, cfg.root), cfg.size)
    slices, curves, chosen = [], [], {}
    heads = {task: context_head(cfg, task) for task in ("binary", "multilabel")}
    for method, st in stats.items():
        st = with_context(cfg, frame, method, st, heads.get(method_spec(method).model))
        folds = torch.as_tensor(frame["fold"].to_numpy().copy())[frame_positions(frame, st["row"])]
        chosen[method] = choose_thresholds(cfg, method, st, folds, grid)
        subjects = list(frame["subject_id"].astype(str).to_numpy()[frame_positions(frame, st["row"]).numpy()])
        gates = choose_gates(cfg, method, st, folds, subjects, grid)
        slices.append(slice_table(cfg, frame, spacing, method, st, chosen[method], grid, gates))
        curves.append(curve_table(method, st, folds, grid))
    slices_df = pd.concat(slices, ignore_index=True)
    return {"slices": slices_df, "folds": fold_table(slices_df, chosen), "curves": pd.concat(curves, ignore_index=True),
            "summary": summary_table(slices_df, cfg)}


def write_tables(out: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Every table as ``<name>.csv`` plus ``summary.md``, atomically."""
    for name, table in tables.items():
        write_csv_atomic(out / f"{name}.csv", table)
    write_text_atomic(out / "summary.md", summary_markdown(tables["summary"]))


def read_tables(out: Path) -> dict[str, pd.DataFrame]:
    """The CSV tables of a study folder as frames (subject / volume ids as strings)."""
    missing = [t for t in TABLES if not (out / f"{t}.csv").is_file()]
    if missing:
        raise FileNotFoundError(f"{out}: study tables {missing} missing; valid study folders hold {', '.join(TABLES)}")
    ids = {"subject_id": str, "volume_id": str}
    return {t: pd.read_csv(out / f"{t}.csv", dtype=ids if t == "slices" else None) for t in TABLES}
