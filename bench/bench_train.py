"""Training benchmarks (issue 5), results in ``bench/results/train.md`` (+ ``train.json``).

1. ``throughput``: images/s of the workbench training step (augmentation, loss, clipping,
   schedule) and of the full trainer (loader + step) against a bare timm loop (forward, CE,
   backward, AdamW) on the same model, weights and batch. Target ratio >= 0.9.
2. ``auc``: on the synthetic cohort (``workbench synth``), train the CPU preset for at most
   ``--budget-s`` seconds (binary, then multilabel) on folds 2-4, validate / early-stop on fold 1,
   and report ROC-AUC from probabilities on the untouched fold 0 (held-out subjects).
3. ``reference``: the fully supervised U-Net baseline (``workbench baseline``), trained on the MASKS
   of the same folds for the same budget and scored on the same held-out fold by its detection score
   (the 11th-largest foreground probability, the study's "more than 10 pixels" rule): how far pixel
   supervision gets on this cohort, the yardstick for the slice-label classifier's AUC.

Run: ``.venv/bin/python bench/bench_train.py --part all``. Each part records the machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from timm.models.swin_transformer import SwinTransformer

ROOT = Path(__file__).resolve().parents[1]

from workbench.cli import main as cli
from workbench.data.dataset import SliceDataset
from workbench.models import create_model, load_model
from workbench.training import TrainConfig, fit, prepare_splits
from workbench.training.cache import CachedImages
from workbench.training.loop import evaluate, make_optimizer, train_step
from workbench.training.metrics import classification_metrics
from workbench.training.precision import PRECISIONS, cpu_has_fast_bf16, precision_forward, resolve_precision
from workbench.training.state import read_run_state
from workbench.utils.io import write_json_atomic, write_text_atomic

COHORT_SEED = 0
"""Seed of the synthetic cohort this benchmark writes and evaluates on."""

RESULTS = ROOT / "bench" / "results"


def machine() -> dict:
    return {"load_1_5_15": [round(v, 2) for v in os.getloadavg()], "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "when": time.strftime("%Y-%m-%d %H:%M:%S")}


def _timed_steps(step, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        step()
        out.append(time.perf_counter() - t)
    return out


def throughput(preset: str, batch: int, steps: int, rounds: int) -> dict:
    """Median seconds per step, bare timm vs workbench, interleaved rounds on the same batch."""
    torch.manual_seed(0)
    ours = create_model(preset, 2)
    arch = ours.workbench_config.arch
    bare = SwinTransformer(num_classes=2, **arch.timm_kwargs())  # plain timm, its own defaults
    bare.load_state_dict(ours.state_dict())
    x = torch.rand(batch, 3, arch.img_size, arch.img_size)
    labels = torch.zeros(batch, 6)
    labels[: batch // 2, 0] = 1
    y = labels[:, 0].long()
    bare_opt = torch.optim.AdamW(bare.parameters(), lr=3e-4, weight_decay=0.05)
    cfg = TrainConfig(batch_size=batch)
    opt, gen = make_optimizer(ours, cfg), torch.Generator().manual_seed(0)
    half = create_model(preset, 2)
    half.load_state_dict(ours.state_dict())
    cfg16 = TrainConfig(batch_size=batch, precision="bf16")
    opt16 = make_optimizer(half, cfg16)
    bare.train(), ours.train(), half.train()

    def bare_step():
        loss = F.cross_entropy(bare(x), y)
        bare_opt.zero_grad(set_to_none=True)
        loss.backward()
        bare_opt.step()

    def our_step():
        train_step(ours, opt, x, labels, cfg, gen, lr=3e-4)

    def bf16_step():
        train_step(half, opt16, x, labels, cfg16, gen, lr=3e-4)

    loops = {"bare": bare_step, "workbench": our_step, "workbench_bf16": bf16_step}
    times = {k: [] for k in loops}
    for step in loops.values():  # warm-up
        _timed_steps(step, 2)
    for _ in range(rounds):
        for k, step in loops.items():
            times[k] += _timed_steps(step, steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    res = {"preset": preset, "batch": batch, "steps_each": steps * rounds,
           "s_per_step": {k: round(v, 4) for k, v in med.items()},
           "images_per_s": {k: round(batch / v, 2) for k, v in med.items()}}
    res["ratio_step"] = round(med["bare"] / med["workbench"], 3)
    res["bf16_speedup"] = round(med["workbench"] / med["workbench_bf16"], 3)
    res["cpu_has_fast_bf16"] = cpu_has_fast_bf16()
    return res


def probe_threads(preset: str, batch: int) -> int:
    """1 or 2 torch threads, whichever runs a training step faster now (2 cores shared with others)."""
    model = create_model(preset, 2)
    size = model.workbench_config.arch.img_size
    x, y = torch.rand(batch, 3, size, size), torch.zeros(batch, dtype=torch.long)
    best = {}
    for n in (1, 2, 1, 2):
        torch.set_num_threads(n)
        t = time.perf_counter()
        F.cross_entropy(model(x), y).backward()
        best[n] = min(best.get(n, 1e9), time.perf_counter() - t)
    return min(best, key=best.get)


def trainer_throughput(preset: str, batch: int, n_items: int = 256) -> float:
    """Images/s of fit() (sampler, loader, collate, step) on an in-memory dataset, one epoch."""
    import tempfile

    size = create_model(preset, 2).workbench_config.arch.img_size

    class Mem(torch.utils.data.Dataset):
        def __init__(self):
            self.images = torch.rand(n_items, 3, size, size)
            self.labels = torch.zeros(n_items, 6)
            self.labels[::2, 0] = 1

        def __len__(self):
            return n_items

        def __getitem__(self, i):
            return {"image": self.images[i], "labels": self.labels[i]}

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        result = fit(create_model(preset, 2), Mem(), None, TrainConfig(epochs=1, batch_size=batch), tmp)
    return float(result.history[0]["images_per_s"])


def ensure_cohort(folder: Path, subjects: int, size: int, slices: int) -> tuple[Path, Path]:
    manifest, root = folder / "manifest.csv", folder / "physionet"
    if not manifest.is_file():
        cli(["synth", "--out", str(folder), "--subjects", str(subjects), "--size", str(size),
             "--slices", str(slices), "--seed", str(COHORT_SEED)])
        cli(["manifest", "--dataset", "synthetic", "--root", str(root), "--out", str(manifest), "--folds", "5",
             "--seed", str(COHORT_SEED)])
    return manifest, root


def _empty_dir(out: Path) -> None:
    """Create ``out`` or delete the files a previous benchmark run left in it."""
    out.mkdir(parents=True, exist_ok=True)
    for p in out.glob("*"):
        p.unlink()


class _OutOfTime(Exception):
    pass


def measure_step(preset: str, task: str, batch: int, data, precision: str, n: int = 3) -> float:
    """Seconds per training step now (median of ``n`` after one warm-up), on real cached images."""
    torch.manual_seed(0)
    model, cfg = create_model(preset, task=task), TrainConfig(task=task, batch_size=batch, precision=precision)
    opt, gen = make_optimizer(model, cfg), torch.Generator().manual_seed(0)
    x = torch.stack([data[i]["image"] for i in range(batch)])
    y = torch.stack([data[i]["labels"] for i in range(batch)])
    return statistics.median(_timed_steps(lambda: train_step(model, opt, x, y, cfg, gen, 1e-4), n + 1)[1:])


def train_and_test(task: str, preset: str, manifest: Path, root: Path, out: Path, budget_s: float,
                   batch: int, lr: float, warmup_steps: int, patience: int, epochs: int = 0,
                   monitor: str = "val_auc", precision: str = "auto") -> dict:
    """Train within ``budget_s`` (epochs sized from the step time measured now), test on fold 0."""
    splits = prepare_splits(manifest, root, val_fold=1, exclude_folds=[0])
    test = prepare_splits(manifest, root, val_fold=0).val
    size = create_model(preset, 2).workbench_config.arch.img_size
    t0 = time.perf_counter()
    data = {k: CachedImages(SliceDataset(f, root, size=size, brain_mask=False), desc=f"cache {k}",
                            keys=("image", "labels", "mask") if k == "test" else ("image", "labels"))
            for k, f in (("train", splits.train), ("val", splits.val), ("test", test))}
    cache_s = time.perf_counter() - t0
    precision = resolve_precision(precision, torch.device("cpu"))
    s_per_step = measure_step(preset, task, batch, data["train"], precision)
    steps_per_epoch = int(2 * splits.train["any"].sum()) // batch
    epoch_s = steps_per_epoch * s_per_step * 1.05 + len(splits.val) / batch * s_per_step / 3
    epochs = epochs or max(2, min(100, int(budget_s * 0.95 / epoch_s)))  # the time guard still applies
    cfg = TrainConfig(task=task, epochs=epochs, batch_size=batch, lr=lr, warmup_steps=warmup_steps, patience=patience, seed=0,
                      monitor=monitor, precision=precision)
    start = time.perf_counter()

    def guard(epoch, row):
        elapsed = time.perf_counter() - start
        if elapsed + elapsed / (epoch + 1) > budget_s:
            raise _OutOfTime

    torch.manual_seed(0)
    _empty_dir(out)
    try:
        result = fit(create_model(preset, task=task), data["train"], data["val"], cfg, out, on_epoch_end=guard)
        history, cut = result.history, False
    except _OutOfTime:
        history, cut = read_run_state(out / "last").history, True
    train_s = time.perf_counter() - start
    model = load_model(out / "best")
    _, probs, labels = evaluate(model, data["test"], cfg, torch.device("cpu"), desc="test")
    metrics = classification_metrics(task, probs, labels, model.workbench_config.class_names)
    best_epoch = read_run_state(out / "last").best_epoch
    lesion_px = data["test"].data["mask"].flatten(1).sum(1).numpy()
    by_size = auc_by_lesion_size(probs if probs.ndim == 1 else probs[:, 0], labels[:, 0], lesion_px)
    return {"task": task, "preset": preset, "s_per_step_planned": round(s_per_step, 3), "lr": lr,
            "precision": precision,
            "warmup_steps": warmup_steps, "patience": patience, "batch": batch, "epochs_planned": epochs, "epochs_run": len(history),
            "stopped_by_time_guard": cut, "train_s": round(train_s, 1), "cache_s": round(cache_s, 1),
            "train_slices": len(splits.train), "val_slices": len(splits.val), "test_slices": len(test),
            "test_subjects": int(test["subject_id"].nunique()), "test_positives": int(test["any"].sum()),
            "monitor": monitor, "best_epoch": best_epoch, "val_auc_best": history[best_epoch - 1].get("val_auc"),
            "val_auc_last": history[-1].get("val_auc"),
            "test": {k: (round(v, 4) if v == v else None) for k, v in metrics.items()},
            "test_by_lesion_px": by_size}


def supervised_reference(manifest: Path, root: Path, out: Path, budget_s: float, precision: str = "auto",
                         size: int = 128) -> dict:
    """Train the U-Net baseline on the masks of folds 2-4 (validation fold 1, best by validation
    Dice) for about ``budget_s`` seconds; detection ROC-AUC of its score on held-out fold 0, the
    classifiers' test slices."""
    from sklearn.metrics import roc_auc_score

    from workbench.baselines import BaselineTrainConfig, baseline_splits, create_baseline, evaluate_slices, train_baseline
    from workbench.baselines.train import load_split_data

    precision = resolve_precision(precision, torch.device("cpu"))
    cfg = BaselineTrainConfig(model="unet", size=size, precision=precision, seed=0)
    split = baseline_splits(manifest, root, test_fold=0, val_fold=1)
    torch.manual_seed(0)
    probe = create_baseline("unet")
    opt = torch.optim.AdamW(probe.parameters(), lr=1e-4)
    x, y = torch.rand(cfg.batch_size, 3, size, size), torch.rand(cfg.batch_size, 1, size, size).round()

    def step():
        loss = F.binary_cross_entropy_with_logits(precision_forward(probe, x, precision)[:, 1:], y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    s_per_step = statistics.median(_timed_steps(step, 4)[1:])
    epoch_s = (len(split.train) / cfg.batch_size * 1.1 + len(split.val) / cfg.batch_size / 3) * s_per_step
    epochs = max(2, int(budget_s * 0.95 / epoch_s))
    _empty_dir(out)
    t0 = time.perf_counter()
    result = train_baseline(manifest, root, "unet", test_fold=0, out_dir=out, epochs=epochs, size=size,
                            val_fold=1, config=cfg, patience=epochs)
    train_s = time.perf_counter() - t0
    test_frame = prepare_splits(manifest, root, val_fold=0).val
    test = load_split_data(test_frame, root, size, "cache test")
    table = evaluate_slices(result.model, test, cfg, desc="test")
    # slice labels as the classifiers are scored (a lesion can vanish from the mask at the input size)
    scores, labels = table["score"].to_numpy(), test_frame["any"].to_numpy().astype(float)
    return {"model": "unet", "preset": cfg.preset, "precision": precision, "size": size, "batch": cfg.batch_size,
            "lr": cfg.peak_lr, "s_per_step_planned": round(s_per_step, 3), "epochs_planned": epochs,
            "epochs_run": result.epochs_run, "steps": result.steps, "best_epoch": result.best_epoch,
            "val_dice_best": round(result.best_score, 4), "train_s": round(train_s, 1),
            "train_slices": len(split.train), "test_slices": len(table), "test_positives": int(labels.sum()),
            "test_auc": round(float(roc_auc_score(labels, scores)), 4),
            "test_dice_mean": round(float(table["dice"].mean()), 4),
            "test_by_lesion_px": auc_by_lesion_size(scores, labels, test.masks.flatten(1).sum(1).numpy())}


def auc_by_lesion_size(scores, labels, lesion_px, cuts=(1, 10, 25, 100)) -> list[dict]:
    """Detection ROC-AUC with the positives restricted to lesions of at least ``cut`` pixels at the
    model's input size (all negatives kept): how much of the shortfall the smallest lesions explain."""
    from sklearn.metrics import roc_auc_score

    rows = []
    neg = labels < 0.5
    for cut in cuts:
        pos = (labels >= 0.5) & (lesion_px >= cut)
        if pos.any() and neg.any():
            keep = pos | neg
            rows.append({"min_lesion_px": int(cut), "positives": int(pos.sum()),
                         "share_of_positives": round(float(pos.sum() / max(1, (labels >= 0.5).sum())), 3),
                         "auc": round(float(roc_auc_score(labels[keep] >= 0.5, scores[keep])), 4)})
    return rows


def _r(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def render(res: dict) -> str:
    lines = ["# Training benchmarks", "", "Written by `bench/bench_train.py`; raw numbers in `train.json`.", ""]
    if "throughput" in res:
        t = res["throughput"]
        lines += ["## Throughput: workbench training vs a bare timm loop", "",
                  f"Machine: {t['machine']}", "",
                  f"Preset `{t['preset']}`, batch {t['batch']}, {t['steps_each']} steps each, interleaved rounds, "
                  "median step time.", "",
                  "| loop | s / step | images / s |", "|---|---|---|"]
        for k in ("bare", "workbench", "workbench_bf16"):
            if k in t["s_per_step"]:
                lines.append(f"| {k} | {t['s_per_step'][k]} | {t['images_per_s'][k]} |")
        lines += [f"| trainer `fit()` (sampler + loader + step) | | {t['trainer_images_per_s']} |", "",
                  f"Ratio workbench / bare (step, both fp32): **{t['ratio_step']}**; trainer / bare: "
                  f"**{t['ratio_trainer']}** (target >= 0.9).", ""]
        if "bf16_speedup" in t:
            lines += [f"`--precision bf16` (bfloat16 autocast, fp32 weights) vs the workbench fp32 step: "
                      f"**{t['bf16_speedup']}x** (this CPU has native bf16: {t['cpu_has_fast_bf16']}).", ""]
    for key in ("auc_binary", "auc_multilabel"):
        if key in res:
            a = res[key]
            lines += [f"## Held-out detection on the synthetic cohort: {a['task']}", "",
                      f"Machine: {a['machine']}", "", f"Cohort: {res.get('cohort')}", "",
                      f"Preset `{a['preset']}`, {a.get('precision', 'fp32')}, batch {a['batch']}, lr {a['lr']}, warm-up {a['warmup_steps']} steps, "
                      f"patience {a['patience']}, {a['s_per_step_planned']} s/step when planned; train {a['train_slices']} slices (folds 2-4), validation "
                      f"{a['val_slices']} (fold 1), test {a['test_slices']} slices of {a['test_subjects']} held-out "
                      f"subjects (fold 0, {a['test_positives']} ICH). Training {a['train_s']} s "
                      f"({a['epochs_run']}/{a['epochs_planned']} epochs, best epoch {a['best_epoch']} by "
                      f"{a.get('monitor', 'val_loss')}, validation ROC-AUC there {_r(a.get('val_auc_best'))}, last "
                      f"{_r(a['val_auc_last'])}{' (mean of the 6 outputs)' if a['task'] == 'multilabel' else ''}; "
                      f"time guard hit: {a['stopped_by_time_guard']}); decoding cache {a['cache_s']} s.", "",
                      "| metric (test fold, best checkpoint) | value |", "|---|---|"]
            lines += [f"| {k} | {v} |" for k, v in a["test"].items()] + [""]
            if a.get("test_by_lesion_px"):
                lines += ["Detection ROC-AUC (`any`) with the test positives restricted by lesion size at the model's "
                          "input size (all negatives kept):", "",
                          "| lesion pixels >= | positives | share of positives | ROC-AUC |", "|---|---|---|---|"]
                lines += [f"| {r['min_lesion_px']} | {r['positives']} | {r['share_of_positives']} | {r['auc']} |"
                          for r in a["test_by_lesion_px"]] + [""]
            if a["task"] == "binary":
                auc = a["test"]["auc"]
                verdict = "met" if auc is not None and auc >= 0.95 else "NOT met"
                lines += [f"Target held-out ROC-AUC >= 0.95 within 10 min: **{verdict}** ({auc}).", ""]
    if "reference_unet" in res:
        r = res["reference_unet"]
        lines += ["## Yardstick: a fully supervised U-Net on the same split", "",
                  f"Machine: {r['machine']}", "",
                  f"The workbench's U-Net baseline (`workbench baseline`, preset `{r['preset']}`, {r['precision']}, "
                  f"{r['size']} px, batch {r['batch']}, lr {r['lr']}) trained on the lesion MASKS of the same "
                  f"{r['train_slices']} training slices (folds 2-4; best epoch by validation Dice on fold 1: "
                  f"{r['best_epoch']} of {r['epochs_run']}, {r['steps']} steps, {r['train_s']} s). Detection score: the "
                  "11th-largest foreground probability of a slice (the study's \"more than 10 pixels\" rule), scored on "
                  f"the classifiers' {r['test_slices']} held-out slices (fold 0, {r['test_positives']} ICH).", "",
                  f"Held-out detection ROC-AUC: **{r['test_auc']}**; mean Dice over the ICH slices {r['test_dice_mean']}"
                  + (f" (the binary classifier above, slice labels only: {res['auc_binary']['test']['auc']})"
                     if "auc_binary" in res else "") + ".",
                  "", "| lesion pixels >= | positives | share of positives | ROC-AUC |", "|---|---|---|---|"]
        lines += [f"| {x['min_lesion_px']} | {x['positives']} | {x['share_of_positives']} | {x['auc']} |"
                  for x in r["test_by_lesion_px"]] + [""]
    lines += ["Load averages above are 1-min / 5-min / 15-min at the start of each part on the 2-core machine; a "
              "part's own 2 threads count about 2, more means other jobs shared the cores. `torch_threads` is the "
              "faster of 1 and 2 probed at start unless `--threads` fixed it. Re-run: "
              "`.venv/bin/python bench/bench_train.py --part all`.", ""]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("throughput", "auc", "reference", "all", "render"), default="all")
    p.add_argument("--preset", default="cpu-small")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--budget-s", type=float, default=600.0)
    p.add_argument("--tasks", nargs="+", default=["binary", "multilabel"])
    p.add_argument("--lr", type=float, default=3e-4,
                   help="peak learning rate; a bf16 trainer run at 6e-4 never left chance (training loss 0.693 from "
                        "step ~300 to 1,300) although a 6e-4 prototype run had learnt: 3e-4 is the safer default")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="training precision (auto: bf16 autocast where the CPU has AMX / AVX512-BF16)")
    p.add_argument("--warmup-steps", type=int, default=100, help="linear warm-up steps (docs/guide/training.md)")
    p.add_argument("--patience", type=int, default=100,
                   help="early-stopping patience in epochs; large by default: the validation score wanders for the "
                        "first ~300 steps, and patience 5-10 stopped earlier runs at chance (the best checkpoint is "
                        "still the best epoch under --monitor)")
    p.add_argument("--epochs", type=int, default=0, help="cosine horizon (0: planned from a step-time probe)")
    p.add_argument("--monitor", default="val_auc", choices=("val_loss", "val_auc"),
                   help="best checkpoint (tested) by validation AUC: with 50/50 balanced batches the validation loss "
                        "tracks calibration, and its minimum fell at epoch 3 of 30 (test AUC 0.658 there)")
    p.add_argument("--cohort", type=Path, default=Path("/tmp/workbench_bench_cohort"))
    p.add_argument("--subjects", type=int, default=100)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--slices", type=int, default=24)
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench_train")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: the faster of 1 and 2, probed)")
    args = p.parse_args()
    if args.part != "render":
        torch.set_num_threads(args.threads or probe_threads(args.preset, args.batch))
    os.environ.setdefault("WORKBENCH_PROGRESS", "0")
    json_path = RESULTS / "train.json"
    res = json.loads(json_path.read_text()) if json_path.is_file() else {}
    if args.part in ("throughput", "all"):
        t = {"machine": machine(), **throughput(args.preset, args.batch, args.steps, args.rounds)}
        t["trainer_images_per_s"] = round(trainer_throughput(args.preset, args.batch), 2)
        t["ratio_trainer"] = round(t["trainer_images_per_s"] / t["images_per_s"]["bare"], 3)
        t["machine_after"] = machine()["load_1_5_15"]
        res["throughput"] = t
        print(json.dumps(t))
    if args.part in ("auc", "all"):
        manifest, root = ensure_cohort(args.cohort, args.subjects, args.size, args.slices)
        res["cohort"] = f"`workbench synth --subjects {args.subjects} --size {args.size} --slices {args.slices} --seed 0`, 5 folds"
        for task in args.tasks:
            m = machine()
            a = train_and_test(task, args.preset, manifest, root, args.runs / task, args.budget_s, args.batch,
                               args.lr, args.warmup_steps, args.patience, args.epochs,
                               args.monitor, args.precision)
            res[f"auc_{task}"] = {"machine": m, **a, "machine_after": machine()["load_1_5_15"]}
            print(json.dumps(res[f"auc_{task}"]))
            write_json_atomic(json_path, res)
    if args.part in ("reference", "all"):
        manifest, root = ensure_cohort(args.cohort, args.subjects, args.size, args.slices)
        m = machine()
        size = create_model(args.preset, 2).workbench_config.arch.img_size
        r = supervised_reference(manifest, root, args.runs / "unet_reference", args.budget_s, args.precision, size)
        res["reference_unet"] = {"machine": m, **r, "machine_after": machine()["load_1_5_15"]}
        print(json.dumps(res["reference_unet"]))
    write_json_atomic(json_path, res)
    write_text_atomic(RESULTS / "train.md", render(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
