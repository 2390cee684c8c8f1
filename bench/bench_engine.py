"""The synthetic data engine's learning curves and the reference classifiers' ceiling analysis (issue 13).

Variants of the reference recipes (``workbench/training/recipes.py``), each trained by the same
``run_recipe`` on the same stream seed and scored after every epoch on the same held-out cohort
(seed 9200, 40 subjects, realistic lesions; never used to pick a checkpoint):

- ``128px``: the first reference recipe (``reference-<task>-128px``: easy-lesion start, 128 px input,
  patch 4), run folder ``runs/reference-<task>-128px``;
- ``no-easy``: the same stream without the easy start (realistic lesions from step 0);
- ``256px``: the 128 px recipe at a 256 px input with the same 4 px patches (4x the tokens: a step
  costs about 5.7x the 128 px one on a 2-core CPU);
- ``256px-s8``: a 256 px input through a stride-8 convolutional stem: the convolutions see every
  source pixel, the transformer keeps the 128 px recipe's 32x32 token grid (a step costs about
  1.1x). This is the shipped recipe (``reference-<task>``); its runs are the shipped classifiers;
- ``retrain``: the shipped recipe again from scratch (long), compared with the shipped classifier;
- ``unet``: the supervised yardstick: the workbench's U-Net baseline trained on the lesion MASKS of
  realistic subjects of the stream's own seed (the same engine; ``--unet-subjects``), validated on
  the recipe's validation cohort, scored on the same held-out cohort by its detection score (the
  11th-largest foreground probability), for ``--max-steps`` steps, at a 128 px input or at the shipped
  classifiers' 256 px (``--unet-size 256``, run folder ``{task}-unet-256px``).

``--max-steps`` caps a variant (its cosine horizon stays the recipe's, so curves compare at equal
steps). Writes ``bench/results/engine.md``, ``engine.json`` and ``engine_curves.png`` (held-out
ROC-AUC vs step), plus the ceiling table of every finished run: held-out AUC by lesion size at the
source (256 px) and at the input resolution, all negatives kept in every stratum.

Every run also records the held-out AUC by the bleed's local contrast
(:func:`workbench.training.heldout.auc_by_contrast`), and the report adds what the all-slice AUC would
be if every bleed of >= 15 HU were ranked first (:func:`~workbench.training.heldout.auc_with_strata`).

Run: ``.venv/bin/python bench/bench_engine.py --variants no-easy --task binary --max-steps 2000``;
``--report-only`` re-renders from the run folders; ``--rescore`` adds the contrast strata to runs
recorded before them (their best checkpoints scored again, the recorded AUC checked).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pandas as pd

from common import RESULTS, plot_curves
from workbench.training.recipes import RECIPES, Recipe, run_recipe
from workbench.utils.io import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("128px", "no-easy", "256px", "256px-s8", "retrain")
"""Classifier variants; ``unet`` (the yardstick) is run by :func:`run_unet`."""


def variant(name: str, task: str) -> Recipe:
    base, shipped = RECIPES[f"reference-{task}-128px"], RECIPES[f"reference-{task}"]
    if name == "128px":
        return base
    if name == "retrain":
        return shipped
    if name == "no-easy":
        stream = dataclasses.replace(base.stream, easy_hu=0.0, easy_volume=1.0, easy_hold_steps=0, easy_anneal_steps=0)
        return dataclasses.replace(base, name=f"{base.name}:no-easy", stream=stream)
    if name == "256px":
        return dataclasses.replace(base, name=f"reference-{task}:256px", img_size=256, shard_cache=False)
    if name == "256px-s8":  # the shipped recipe under the name its runs were trained with
        return dataclasses.replace(shipped, name=f"reference-{task}:256px-s8")
    raise SystemExit(f"bench_engine.py: unknown variant {name!r}; valid choices: {', '.join(VARIANTS)}")


UNET_SIZES = (128, 256)
"""Input sizes of the U-Net yardstick (the 128 px and the shipped 256 px classifier input)."""


def run_dir(runs: Path, name: str, task: str, unet_size: int = 128) -> Path:
    """Where a variant's run lives: the 128 px recipe's own run folder for ``128px``; the U-Net
    yardstick's at ``{task}-unet`` (128 px) or ``{task}-unet-{size}px``."""
    if name == "unet":
        return runs / (f"{task}-unet" if unet_size == 128 else f"{task}-unet-{unet_size}px")
    return ROOT / "runs" / f"reference-{task}-128px" if name == "128px" else runs / f"{task}-{name}"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", nargs="*", default=["no-easy", "unet"], help=f"{', '.join(VARIANTS)}, unet")
    p.add_argument("--task", default="binary", choices=("binary", "multilabel"))
    p.add_argument("--max-steps", type=int, default=2000, help="step cap per variant (0: the recipe's full length)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--runs", default=str(ROOT / "runs" / "bench_engine"))
    p.add_argument("--data-dir", default=str(ROOT / "runs" / "reference_data"))
    p.add_argument("--unet-subjects", type=int, default=200, help="realistic stream-seed subjects the U-Net trains on")
    p.add_argument("--unet-epochs", type=int, default=40, help="U-Net cosine horizon in epochs (--max-steps caps it)")
    p.add_argument("--unet-size", type=int, default=128, choices=UNET_SIZES, help="U-Net input size in px")
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--rescore", action="store_true",
                   help="add the contrast strata to finished runs recorded before them (scores their best checkpoints again)")
    args = p.parse_args(argv)
    if args.max_steps < 0:
        p.error(f"--max-steps must be >= 0, got {args.max_steps}")
    return args


def _curves(runs: Path) -> dict[str, pd.DataFrame]:
    """Held-out learning curves of every run found."""
    curves = {}
    for task in ("binary", "multilabel"):
        for name in VARIANTS:
            path = run_dir(runs, name, task) / "heldout.csv"
            if path.is_file():
                curves[f"{task} {name}"] = pd.read_csv(path)
    return curves


def render(runs: Path) -> str:
    curves = _curves(runs)
    lines = ["# Synthetic data engine: learning curves and ceiling", "",
             "Written by `bench/bench_engine.py`. Held-out cohort: seed 9200, 40 subjects x 24 slices of 256 px, "
             "realistic lesions, never used to pick a checkpoint. Each run's machine is in its `reference.json`.", ""]
    if curves:
        plot_curves(curves, RESULTS / "engine_curves.png")
        lines += ["![held-out ROC-AUC vs step](engine_curves.png)", "", "| run | step | validation AUC | held-out AUC | "
                  "held-out AUC, bleeds >= 100 px |", "|---|---|---|---|---|"]
        for label, frame in curves.items():
            for _, r in frame.iterrows():
                lines.append(f"| {label} | {int(r['step'])} | {r['val_auc']:.3f} | {r['heldout_auc']:.3f} | "
                             f"{r['heldout_auc_ge100px']:.3f} |")
        lines.append("")
    records = {}
    for task in ("binary", "multilabel"):
        for name in VARIANTS:
            path = run_dir(runs, name, task) / "reference.json"
            if path.is_file():
                records[f"{task} {name}"] = json.loads(path.read_text())
        for size in UNET_SIZES:
            unet = run_dir(runs, "unet", task, size) / "reference.json"
            if unet.is_file():
                records[f"{task} U-Net yardstick (masks, {size} px)"] = json.loads(unet.read_text())
        if f"{task} retrain" in records and f"{task} 256px-s8" in records:
            a, b = records[f"{task} retrain"]["heldout"]["auc_any"], records[f"{task} 256px-s8"]["heldout"]["auc_any"]
            lines += [f"Re-trained `reference-{task}` from scratch: held-out ROC-AUC {a:.3f} against {b:.3f} shipped "
                      f"({a - b:+.3f}).", ""]
    if records:
        lines += ["## Ceiling: held-out ROC-AUC by lesion size (best checkpoint by validation AUC)", "",
                  "Positives binned by lesion pixels on the slice; every negative kept in every stratum. At the model "
                  "input a few positive slices keep no lesion pixel after the resize and fall in no stratum.", ""]
        for label, rec in records.items():
            h = rec["heldout"]
            m = rec["machine"]
            best = f"best step {rec['best_step']}" if rec.get("best_step") else f"best epoch {rec.get('best_epoch')}"
            lines += [f"### {label}: {rec['steps']:,} steps, {best}, "
                      f"{rec['train_seconds'] / 3600:.2f} h on {m['cpu']} ({m['torch_threads']} thread(s), "
                      f"{rec['precision']})", "",
                      f"All slices: **{h['auc_any']:.3f}** ({h['slices']} slices, {h['positives']} with ICH)."
                      + ("" if rec["task"] != "multilabel" else " Per label: " + ", ".join(
                          f"{k[4:]} {v:.3f}" for k, v in h.items() if k.startswith("auc_") and k != "auc_any"
                          and isinstance(v, float))), "",
                      "| lesion pixels | at the 256 px source: positives | AUC | at the model input: positives | AUC |",
                      "|---|---|---|---|---|"]
            for key in ("1-24", "25-99", "100-399", ">=400", ">=100"):
                s, i = h["by_source_px"][key], h["by_input_px"][key]
                lines.append(f"| {key} | {s['positives']} | {s['auc']:.3f} | {i['positives']} | {i['auc']:.3f} |")
            lines += ["", _size_ceiling(h["by_source_px"]), ""]
        lines += _contrast_table(records)
        write_json_atomic(RESULTS / "engine.json", {k: {"heldout": v["heldout"], "steps": v["steps"],
                                                        "train_seconds": v["train_seconds"], "machine": v["machine"]}
                                                    for k, v in records.items()})
    return "\n".join(lines)


def _size_ceiling(strata: dict[str, dict], floor: float = 0.90) -> str:
    """One sentence: the all-slice AUC if every bleed of >= 25 px (at the source) were ranked above every
    negative, the 1-24 px bleeds as measured, and the AUC those smallest bleeds would need for ``floor``
    (:func:`workbench.training.heldout.auc_with_strata` over the size partition)."""
    from workbench.training.heldout import SIZE_PARTITION, auc_with_strata

    small, rest = "1-24", [k for k in SIZE_PARTITION if k != "1-24"]
    n_small = strata[small]["positives"]
    if not n_small:
        return "No bleed of 1-24 px in this cohort: no size ceiling below 1."
    ceiling = auc_with_strata(strata, dict.fromkeys(rest, 1.0), SIZE_PARTITION)
    n = sum(strata[k]["positives"] for k in SIZE_PARTITION)
    needed = (floor * n - (n - n_small)) / n_small  # <= 0: any ranking of them will do; > 1: out of reach
    reach = ("any AUC on them will do" if needed <= 0 else "out of reach whatever they score" if needed > 1
             else f"reaching {floor:.2f} would take AUC >= {needed:.3f} on them")
    return (f"If every bleed of >= 25 px were ranked above every negative, the {n_small} bleeds of 1-24 px as "
            f"measured ({strata[small]['auc']:.3f}): all slices {ceiling:.3f}; {reach}.")


def _contrast_table(records: dict[str, dict]) -> list[str]:
    """Held-out AUC by the lesion's local contrast (``heldout.by_contrast``) of every run that has all
    the strata, and the all-slice AUC each run would reach if every bleed of >= 15 HU were ranked
    above every negative (:func:`workbench.training.heldout.auc_with_strata`)."""
    from workbench.training.heldout import CONTRAST_STRATA, auc_with_strata

    columns = [k for k in CONTRAST_STRATA if k != "no ring"]
    have = {k: r["heldout"] for k, r in records.items() if set(columns) <= set(r["heldout"].get("by_contrast", {}))}
    if not have:
        return []
    counts = next(iter(have.values()))["by_contrast"]
    lines = ["## Ceiling: held-out ROC-AUC by the lesion's local contrast", "",
             "Contrast of a positive slice: mean HU of its lesion minus mean HU of the soft-tissue ring (0-90 HU) within "
             "3 mm of it, at the 256 px source (`workbench.training.heldout.lesion_contrast`); lesion pixels also at the "
             "source. Every negative kept in every stratum. The realistic generator draws each subtype's HU from "
             "measured literature means and spreads, so some bleeds are near-isodense with the brain around them. "
             "Last column: the all-slice AUC if every bleed of >= 15 HU were ranked above every negative, the other "
             "strata as measured (exact: the all-slice AUC is the positive-weighted mean of the strata's AUCs).", "",
             "| run | all slices | " + " | ".join(f"{k} ({counts[k]['positives']})" for k in columns)
             + " | all slices if >= 15 HU were perfect |",
             "|---|---|" + "---|" * (len(columns) + 1)]
    for label, h in have.items():
        strata = h["by_contrast"]
        lines.append(f"| {label} | {h['auc_any']:.3f} | " + " | ".join(f"{strata[k]['auc']:.3f}" for k in columns)
                     + f" | {auc_with_strata(strata, {'>=15 HU': 1.0}):.3f} |")
    return lines + [""]


def _combined_manifest(data_dir: Path, parts: dict[int, Path]) -> pd.DataFrame:
    """One manifest over several cohorts below ``data_dir``: fold = the key of each cohort folder."""
    from workbench.data.manifest import read_manifest

    frames = []
    for fold, folder in parts.items():
        frame = read_manifest(folder / "manifest.csv")
        prefix = f"{folder.relative_to(data_dir).as_posix()}/physionet/"
        for col in ("image_path", "mask_path", "label_path"):
            frame[col] = frame[col].fillna("").map(lambda p, pre=prefix: pre + p if p else "")
        for col in ("subject_id", "volume_id"):
            frame[col] = f"{folder.name}-" + frame[col].astype(str)
        frames.append(frame.assign(fold=fold))
    return pd.concat(frames, ignore_index=True)


def run_unet(args: argparse.Namespace, task: str = "binary") -> dict:
    """The supervised U-Net yardstick on the engine's realistic subjects (module docstring)."""
    import time

    import torch

    from workbench.baselines import BaselineTrainConfig, train_baseline
    from workbench.baselines.train import evaluate_slices, load_split_data
    from workbench.data.dataset import SliceDataset
    from workbench.training.heldout import auc_by_contrast, auc_by_size, lesion_strata
    from workbench.evaluation.ranking import binary_auc
    from workbench.training.recipes import CohortSpec, ensure_cohort, machine_description

    recipe, data_dir = RECIPES[f"reference-{task}"], Path(args.data_dir)
    train_spec = CohortSpec(recipe.stream.seed, args.unet_subjects)  # realistic twins of the stream's first subjects
    folders = {0: recipe.test, 1: recipe.val, 2: train_spec}
    for spec in folders.values():
        ensure_cohort(spec, data_dir)
    frame = _combined_manifest(data_dir, {k: data_dir / spec.name for k, spec in folders.items()})
    size = args.unet_size
    cfg = BaselineTrainConfig(model="unet", size=size, precision="auto", seed=0, max_steps=args.max_steps)
    out = run_dir(Path(args.runs), "unet", task, size)
    t0 = time.time()
    result = train_baseline(frame, data_dir, "unet", test_fold=0, out_dir=out, epochs=args.unet_epochs, size=size,
                            val_fold=1, config=cfg, resume=(out / "train_config.json").is_file())
    seconds = time.time() - t0
    test_frame = frame[frame["fold"] == 0].reset_index(drop=True)
    test = load_split_data(test_frame, data_dir, size, "cache test")
    table = evaluate_slices(result.model, test, cfg, desc="test")
    score, labels = table["score"].to_numpy(), test_frame["any"].to_numpy().astype(float)
    source_px, input_px, contrast = lesion_strata(SliceDataset(test_frame, data_dir, size=size, brain_mask=False))
    record = {"task": "unet", "size": size, "steps": result.steps, "best_step": None, "train_seconds": round(seconds, 1),
              "machine": machine_description(torch.device("cpu")), "precision": cfg.precision,
              "train_subjects": args.unet_subjects, "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
              "heldout": {"slices": len(labels), "positives": int(labels.sum()), "auc_any": binary_auc(labels, score),
                          "dice_mean": float(table["dice"].mean()),
                          "by_source_px": auc_by_size(labels, score, source_px),
                          "by_input_px": auc_by_size(labels, score, input_px),
                          "by_contrast": auc_by_contrast(labels, score, contrast, source_px)}}
    write_json_atomic(out / "reference.json", record)
    return record


def _heldout_items(data_dir: Path, task: str, size: int, **input_kwargs):
    from workbench.data.dataset import SliceDataset
    from workbench.training.recipes import ensure_cohort

    root, frame = ensure_cohort(RECIPES[f"reference-{task}"].test, data_dir)
    return SliceDataset(frame, root, size=size, brain_mask=False, **input_kwargs)


def rescore(runs: Path, data_dir: Path) -> None:
    """Add the contrast strata (``heldout.by_contrast``) to every finished run recorded before them (or
    with other strata): its best checkpoint is scored again on the held-out cohort, at the run's recorded
    precision, and the AUC on all slices must reproduce the recorded one (else the run is reported, not
    changed)."""
    import functools

    import numpy as np

    from workbench.baselines import BaselineTrainConfig, load_baseline
    from workbench.baselines.train import evaluate_slices, load_split_data
    from workbench.evaluation.ranking import binary_auc
    from workbench.models.checkpoint import load_model
    from workbench.models.factory import model_config
    from workbench.training.heldout import CONTRAST_STRATA, auc_by_contrast, heldout_report, lesion_strata

    current = set(CONTRAST_STRATA) - {"no ring"}  # "no ring" is recorded only when it holds a positive
    source_strata = functools.cache(lambda: lesion_strata(_heldout_items(data_dir, "binary", 128)))  # any task or size
    targets = [(task, name, run_dir(runs, name, task)) for task in ("binary", "multilabel") for name in VARIANTS]
    targets += [("binary", f"unet-{size}", run_dir(runs, "unet", "binary", size)) for size in UNET_SIZES]
    for task, name, folder in targets:
        path = folder / "reference.json"
        if not path.is_file() or current <= set(json.loads(path.read_text())["heldout"].get("by_contrast", {})):
            continue
        rec = json.loads(path.read_text())
        if name.startswith("unet"):
            model = load_baseline(folder / "best")
            size = rec.get("size", 128)
            items = _heldout_items(data_dir, task, size)
            cfg = BaselineTrainConfig(model="unet", size=size, precision=rec["precision"])
            score = evaluate_slices(model, load_split_data(items.frame, items.root, size, "cache test"), cfg,
                                    desc="test")["score"].to_numpy()
            labels = items.labels[:, 0].numpy()
            auc = binary_auc(labels, score)
            source_px, _, contrast = source_strata()
            strata = auc_by_contrast(labels, score, contrast, source_px)
        else:
            model = load_model(folder / "best").eval()
            mcfg = model_config(model)
            items = _heldout_items(data_dir, task, mcfg.arch.img_size, **mcfg.input_kwargs())
            report = heldout_report(model, items, task, mcfg.class_names, precision=rec["precision"])
            auc, strata = report["auc_any"], report["by_contrast"]
        recorded = rec["heldout"]["auc_any"]
        if not np.isclose(auc, recorded, atol=0.005):
            print(f"bench_engine.py: {folder}: re-scored AUC {auc:.4f} != recorded {recorded:.4f}; not changed")
            continue
        rec["heldout"]["by_contrast"] = strata
        write_json_atomic(path, rec)
        print(f"{folder}: AUC {auc:.3f} (recorded {recorded:.3f}); contrast strata added", flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    runs = Path(args.runs)
    if args.rescore:
        rescore(runs, Path(args.data_dir))
    elif not args.report_only:
        if "unet" in args.variants:
            run_unet(args)
        for name in [v for v in args.variants if v != "unet"]:
            recipe = variant(name, args.task)
            out = run_dir(runs, name, args.task)
            resume = (out / "last_state.json").is_file()
            run_recipe(recipe, out, args.data_dir, resume=resume, max_steps=args.max_steps, threads=args.threads,
                       command=f"bench/bench_engine.py --variants {name} --task {args.task} --max-steps {args.max_steps}")
    text = render(runs)
    (RESULTS / "engine.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
