"""``bench/results/evaluate.md`` from a finished study (used by ``bench/study_synthetic.py --stage report``).

Contents: setup (cohorts, classifiers, load), the full results table (summary.md of the study), the
paper's three claims checked with PAIRED subject-level bootstrap CIs of the Dice difference on the
same lesion slices, and the evaluation throughput (slices/s, all methods) from the study's timing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd

from workbench.evaluation.claims import CLAIMS, paired_difference, verdict
from workbench.evaluation.gating import volume_error_ceiling
from workbench.protocol.config import WEAK_METHODS
from workbench.protocol.run import load_protocol, method_statistics
from workbench.protocol.tables import frame_positions, protocol_grid
from workbench.data.manifest import read_manifest
from workbench.protocol.config import load_protocol_config
from workbench.training.state import read_run_state
from workbench.utils.io import write_text_atomic

RESULTS = Path(__file__).resolve().parent / "results"


def _classifier_lines(work: Path, cfg) -> list[str]:
    lines = []
    for task in ("binary", "multilabel"):
        run = work / "classifiers" / task
        if not (run / "metrics.csv").is_file():
            continue
        m = pd.read_csv(run / "metrics.csv")
        tcfg = json.loads((run / "train_config.json").read_text())
        ran = json.loads((run / "run.json").read_text()) if (run / "run.json").is_file() else {}
        monitor = tcfg.get("monitor", "val_loss")
        auc_col = "val_auc_any" if "val_auc_any" in m else "val_auc"
        best, last = m.iloc[read_run_state(run / "last").best_epoch - 1], m.iloc[-1]  # the trainer's own record
        info = _trained(work, task)
        used = Path(getattr(cfg, f"{task}_checkpoint")).name
        what = "highest validation ROC-AUC (any)" if monitor == "val_auc" else "lowest validation loss"
        lines.append(f"- {task}: {len(m)} epochs ({int(last['step'])} steps, batch {tcfg['batch_size']}, lr {tcfg['lr']}, "
                     f"{ran.get('precision', tcfg.get('precision', 'fp32'))}, "
                     f"{info.get('seconds', float('nan')) / 60:.1f} min); {what} at epoch "
                     f"{int(best['epoch'])} (ROC-AUC {best[auc_col]:.3f}), last epoch ROC-AUC {last[auc_col]:.3f} "
                     f"(validation = {info.get('validation', 'fold 0 of the TRAINING cohort')}); the study uses `{used}`")
    return lines


def _trained(work: Path, task: str = "binary") -> dict:
    """The ``trained.json`` of a study classifier ({} when missing): time, and for adopted runs
    (``study_synthetic.py --classifiers-from``) their cohort, source, validation fold and choice."""
    path = work / "classifiers" / task / "trained.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _recipe(work: Path) -> str:
    """Input size and architecture of the study's binary classifier, read from its config."""
    from workbench.models.config import ModelConfig

    path = work / "classifiers" / "binary" / "best.json"
    if not path.is_file():
        return "classifier config missing"
    arch = ModelConfig.load(path).arch
    stem = f", {arch.stem} stem, patch {arch.patch_size}" if arch.stem != "patch" else f", patch {arch.patch_size}"
    return f"{arch.img_size} px input{stem}, embed dim {arch.embed_dim}, depths {list(arch.depths)}"


def _training_cohort(info: dict, work: Path) -> str:
    """Where the classifiers come from: the adopted bench run's cohort, or the study's seed-100 cohort."""
    if "cohort" in info:
        return f"{info['cohort']}; the runs of {info['source']}"
    return "seed 100" + _cohort_size(work / "train_manifest.csv", work / "train_cohort" / "physionet")


def _cohort_size(manifest: Path, root: Path) -> str:
    """", N subjects, M slices (K with ICH), S px source" of a cohort manifest ("" when it is missing)."""
    if not manifest.is_file():
        return ""
    frame = pd.read_csv(manifest)
    first = frame.iloc[0]
    size = ""
    try:
        import nibabel as nib

        size = f", {nib.load(root / first['image_path']).shape[0]} px source"
    except (OSError, ValueError, ImportError):
        pass
    return f", {frame['subject_id'].nunique()} subjects, {len(frame)} slices ({int(frame['any'].sum())} with ICH){size}"


def _caveats(summary: pd.DataFrame) -> list[str]:
    """Plain warnings the numbers need (e.g. classifiers near chance make the weak-method comparison moot)."""
    rows = summary.set_index("method")
    out = []
    for task in ("binary", "multilabel"):
        name = f"classifier_{task}"
        auc = rows.loc[name, "det_auc"] if name in rows.index else float("nan")
        if not auc >= 0.6:
            out.append(f"- **The {task} classifier is near chance on the evaluation cohort (ROC-AUC "
                       f"{auc:.3f}).** Its attention maps explain a model that has not learned to "
                       "find the bleed, so the weak-method rows and the claims about them describe an undertrained "
                       "classifier, not the methods. A longer training run (docs/guide/training.md) is needed first.")
        elif auc < 0.75:
            out.append(f"- **The {task} classifier detects hemorrhage only weakly on the evaluation cohort (ROC-AUC "
                       f"{auc:.3f}; the published Swin-SAM classifier: 0.974).** The weak-method rows explain a model that "
                       "has partly learnt the bleed: differences between attention methods are real for this model, "
                       "their size against the supervised baselines is bounded by what it learnt.")
    return out


def _throughput(timing: pd.DataFrame, n_slices: int) -> list[str]:
    groups = timing.drop_duplicates(["fold", "group"])
    infer = float(groups["group_seconds"].sum())
    lines = ["Seconds of each (fold, model) pass are recorded when the pass ran; passes of one study can run at "
             "different machine loads (the final passes here ran at load ~2).", "",
             f"- all {timing['method'].nunique()} methods: {n_slices} slices in {infer:.0f} s of map computation and "
             f"scoring = **{n_slices / infer:.2f} slices/s** (every method on every slice; data loading and "
             "baseline training excluded)"]
    for group, g in groups.groupby("group"):
        methods = ", ".join(sorted(timing.loc[timing["group"] == group, "method"].unique()))
        lines.append(f"- {group} ({methods}): {g['slices'].sum() / g['group_seconds'].sum():.2f} slices/s")
    return lines


def _baseline_training(out: Path) -> list[str]:
    """Training time per baseline from the run folders' ``done.json`` (seconds, epochs run)."""
    lines = []
    for folder in sorted((out / "baselines").glob("*")):
        done = [json.loads(p.read_text()) for p in sorted(folder.glob("fold*/done.json"))]
        if done:
            lines.append(f"- {folder.name} training: {sum(d['seconds'] for d in done) / 60:.1f} min for {len(done)} folds "
                         f"(epochs run {', '.join(str(d['epochs_run']) for d in done)}; wall time of single-thread processes "
                         f"sharing {os.cpu_count()} cores)")
    return lines


ABLATION = (  # (study method, what it keeps of ours)
    ("rollout_blood", "ours: rollout x blood prior, binary classifier"),
    ("rollout", "attention only (no prior)"),
    ("blood_hu", "prior only (no classifier)"),
    ("hgi_sam_blood", "HGI-SAM instead of rollout, x prior"),
    ("hgi_sam", "HGI-SAM alone (the paper)"),
    ("rollout_blood_multilabel", "ours on the subtyping classifier"),
)


def _ablation(slices: pd.DataFrame, summary: pd.DataFrame, seed: int) -> list[str]:
    """What each part of ours contributes: Dice on lesion slices (the study's summary) and the paired
    difference to ours."""
    if not {m for m, _ in ABLATION} <= set(slices["method"]):
        return []
    dice_of = summary.set_index("method")["dice_mean"]
    rows = []
    for method, what in ABLATION:
        dice = dice_of[method]
        if method == ABLATION[0][0]:
            rows.append(f"| {what} | `{method}` | {dice:.3f} | |")
            continue
        d = paired_difference(slices, ABLATION[0][0], method, seed)
        rows.append(f"| {what} | `{method}` | {dice:.3f} | {d.estimate:+.3f} [{d.low:+.3f}, {d.high:+.3f}] |")
    return ["## Our method, part by part", "",
            "Mean Dice on lesion slices (nested thresholds) and ours minus the row, paired, subject-bootstrap 95 % CI.", "",
            "| variant | study method | Dice | ours - variant [95 % CI] |", "|---|---|---|---|", *rows, ""]


def _volume_ceiling(cfg, study) -> list[str]:
    """Per method: the gated median relative volume error the protocol reached (gate and threshold nested)
    and the lowest ANY (gate, threshold) reaches when chosen on the evaluated subjects themselves."""
    frame = read_manifest(cfg.manifest)
    grid = protocol_grid(cfg)
    reached = study.summary.set_index("method")["gated_volume_abs_error_pct_median"]  # the study's own figure
    rows = []
    for method in cfg.methods:
        nested = reached[method] / 100
        if method not in WEAK_METHODS:  # ungated at a fixed threshold by design
            rows.append(f"| {method} | {100 * nested:.0f} % | (ungated, threshold fixed) | |")
            continue
        st = method_statistics(cfg.output, method)
        subjects = list(frame["subject_id"].astype(str).to_numpy()[frame_positions(frame, st["row"]).numpy()])
        best, gate, t = volume_error_ceiling(st["pred_n"], st["target_n"], st["gate_prob"], subjects, grid)
        rows.append(f"| {method} | {100 * nested:.0f} % | {100 * best:.0f} % | {gate:.2f} / {t:.2f} |")
    return ["## Volume error: what the protocol reached and what any gate and threshold could reach", "",
            "Median over subjects with hemorrhage of |estimated - true volume| / true volume, gated masks. "
            "'Nested': the study's gated masks (gate and threshold chosen on the other folds for the volume score). "
            "'Ceiling': the lowest median error over every (gate, threshold) pair of the grids, chosen on these "
            "same subjects (an oracle: no protocol can do better with these maps); the gates read the P(ICH) the "
            "study's gates read (`gate_probability`).", "",
            "| method | nested | ceiling | at gate / threshold |", "|---|---|---|---|", *rows, ""]


def write_report(config_path: Path, work: Path, background: str = "procedural") -> Path:
    """``bench/results/evaluate.md`` (``evaluate_<background>.md`` for another background)."""
    cfg = load_protocol_config(config_path)
    study = load_protocol(cfg.output)
    slices, summary_md = study.slices, (Path(cfg.output) / "summary.md").read_text()
    n_slices = slices.groupby("method").size().max()
    claims = []
    for claim in CLAIMS:
        if not {claim.a, claim.b} <= set(slices["method"]):
            continue
        d = paired_difference(slices, claim.a, claim.b, cfg.seed)
        claims.append(f"| {claim.title} | {claim.a} - {claim.b} | {d.estimate:+.3f} [{d.low:+.3f}, {d.high:+.3f}] | "
                      f"{d.n} | {verdict(claim, d)} |")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    adopted = _trained(work)
    text = "\n".join([
        "# Evaluation study on the embedded synthetic cohort" + ("" if background == "procedural" else
                                                                 f", {background} background"),
        "",
        f"Written by `bench/study_synthetic.py` on {time.strftime('%Y-%m-%d %H:%M')}; config "
        f"`{config_path.name}` (saved as `{Path(cfg.output).name}/config.yaml`). Machine: {os.cpu_count()} shared "
        f"cores, load average now {load} (the study's training processes share the cores, so times are upper "
        "bounds).",
        "",
        "## Setup",
        "",
        f"- evaluation cohort: synthetic (seed 200, {background} background), {slices['subject_id'].nunique()} "
        f"subjects, {n_slices} slices, "
        f"{int(slices.drop_duplicates(['volume_id', 'slice_index'])['has_lesion'].sum())} slices with hemorrhage, "
        f"{slices['fold'].nunique()} subject-wise folds (stratified by ICH slice count)",
        "- weak methods: ONE classifier pair for all folds, trained on a SEPARATE synthetic cohort "
        f"({_training_cohort(adopted, work)}), as the paper trains on RSNA and evaluates on PhysioNet; "
        + _recipe(work),
        *_classifier_lines(work, cfg),
        *([f"- classifier choice: {adopted['choice']}"] if "choice" in adopted else []),
        f"- fully supervised baselines: per test fold, trained on the other folds' masks (validation / early stopping "
        f"on the next fold), at most {cfg.baseline_epochs} epochs"
        + "".join(f", {name} {n}" for name, n in cfg.baseline_epoch_overrides)
        + f" (reduced for the shared CPU: undertrained, SwinUNETR especially), threshold {cfg.baseline_threshold}",
        f"- thresholds: `{cfg.threshold_mode}` (grid {cfg.grid[0]}..{cfg.grid[1]} step {cfg.grid[2]} on the training "
        "folds only, per test fold); maps x brain mask, min-max; detection: more than "
        f"{cfg.min_pixels} predicted pixels; nothing was tuned on a test fold",
        "",
        summary_md.replace("## ", "### "),
        "## The paper's claims, checked here",
        "",
        *_caveats(study.summary),
        "",
        "Paired comparison on the same lesion slices: mean Dice difference with a subject-level bootstrap 95 % CI.",
        "",
        "| claim | difference | mean [95 % CI] | slices | verdict |",
        "|---|---|---|---|---|",
        *claims,
        "",
        *_ablation(slices, study.summary, cfg.seed),
        *_volume_ceiling(cfg, study),
        "## Evaluation throughput",
        "",
        *_throughput(study.timing, int(n_slices)),
        *_baseline_training(Path(cfg.output)),
        "",
    ])
    name = "evaluate.md" if background == "procedural" else f"evaluate_{background}.md"
    return write_text_atomic(RESULTS / name, text)
