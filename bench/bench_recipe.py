"""Recipe ablation for the CPU classifier (issue 5): which change makes a from-scratch Swin learn
the synthetic cohort sooner. Results in ``bench/results/recipe.md`` (+ ``recipe.json``).

Each variant trains a binary Swin (plain timm ``SwinTransformer``, the preset's architecture with
the variant's changes) for a fixed number of optimizer steps on folds 2-4 of the bench cohort
(``bench_train.py``'s), with class-balanced batches (half ICH, drawn with replacement) and the
trainer's own step (``train_step``: augmentation, AdamW, clipping 1.0) under warm-up + cosine; it records the smoothed training loss and the validation ROC-AUC
(fold 1) every ``--eval-every`` steps, and the held-out ROC-AUC (fold 0) at the end. A ResNet-18
(timm, from scratch) row checks how learnable the cohort is for a convolutional net at the same
budget. Variants run one after another, or two at a time with one thread each (``--parallel 2``).

    .venv/bin/python bench/bench_recipe.py --variants avg max max-noaug resnet18 --steps 250
    .venv/bin/python bench/bench_recipe.py --part render
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

from bench_train import ensure_cohort, machine
from workbench.models import PRESETS
from workbench.training import TrainConfig
from workbench.training.augment import AugmentConfig
from workbench.training.loop import make_optimizer, train_step
from workbench.training.schedule import lr_at
from workbench.utils.io import write_json_atomic, write_text_atomic

RESULTS = ROOT / "bench" / "results"
NO_AUG = AugmentConfig(flip_p=0, rotation_deg=0, scale=0, translate=0, noise_std=0, noise_p=0)

# name: (changes to the baseline below, one line of what it tests)
BASE = {"size": 128, "patch": 4, "pool": "avg", "lr": 3e-4, "batch": 32, "aug": "full", "cnn": False}
VARIANTS: dict[str, tuple[dict, str]] = {
    "avg": ({}, "cpu-small as first shipped: average pooling of the final 4 x 4 tokens"),
    "max": ({"pool": "max"}, "max pooling of the final tokens"),
    "max-noaug": ({"pool": "max", "aug": "none"}, "max pooling, no augmentation"),
    "max-light-b16": ({"pool": "max", "aug": "light", "batch": 16, "lr": 2e-4},
                      "max pooling, rotation 15 deg / translation 5 %, batch 16 (2x the steps)"),
    "max-lr6e-4": ({"pool": "max", "lr": 6e-4}, "max pooling, lr 6e-4"),
    "max-256-p8": ({"pool": "max", "size": 256, "patch": 8},
                   "max pooling, 256 px input with 8 px patches (same token grid, full resolution)"),
    "resnet18": ({"cnn": True}, "timm ResNet-18 from scratch (a CNN at the same budget)"),
}


def _augment(name: str) -> AugmentConfig:
    return {"full": AugmentConfig(), "none": NO_AUG,
            "light": AugmentConfig(rotation_deg=15, translate=0.05)}[name]


def _load(cohort: Path, size: int) -> dict:
    """Cached images (uint8) and labels of folds 2-4 (train), 1 (val) and 0 (test) at ``size`` px."""
    from workbench.data.dataset import SliceDataset
    from workbench.training import prepare_splits
    from workbench.training.cache import CachedImages

    manifest, root = ensure_cohort(cohort, 100, 256, 24)
    splits = prepare_splits(manifest, root, val_fold=1, exclude_folds=[0])
    test = prepare_splits(manifest, root, val_fold=0).val
    return {key: CachedImages(SliceDataset(frame, root, size=size, brain_mask=False), desc=f"cache {key}")
            for key, frame in (("train", splits.train), ("val", splits.val), ("test", test))}


@torch.no_grad()
def _auc(model, data, cfg: TrainConfig) -> float:
    """Detection ROC-AUC of ``model`` on cached ``data``. Not ``training.loop.evaluate``: its DataLoader
    draws a seed from the global RNG, which would shift drop-path in the steps after every evaluation."""
    from sklearn.metrics import roc_auc_score

    x, y, n = data.data["image"], data.data["labels"][:, 0], cfg.eval_batch_size
    model.eval()
    probs = torch.cat([torch.softmax(model(x[i:i + n].float() / 255), 1)[:, 1] for i in range(0, len(x), n)])
    model.train()
    return float(roc_auc_score(y.numpy() > 0.5, probs.numpy()))


def _model(v: dict) -> torch.nn.Module:
    if v["cnn"]:
        import timm

        return timm.create_model("resnet18", pretrained=False, num_classes=2)
    from timm.models.swin_transformer import SwinTransformer

    arch = dataclasses.replace(PRESETS["cpu-small"], img_size=v["size"], patch_size=v["patch"], global_pool=v["pool"])
    return SwinTransformer(num_classes=2, **arch.timm_kwargs())  # plain timm (fused attention as timm sets it)


def run_variant(name: str, cohort: Path, steps: int, warmup: int, eval_every: int, threads: int) -> dict:
    """Train variant ``name`` for ``steps`` steps; its validation curve and held-out ROC-AUC."""
    changes, what = VARIANTS[name]
    v = {**BASE, **changes}
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    data = _load(cohort, v["size"])
    model = _model(v)
    cfg = TrainConfig(task="binary", lr=v["lr"], batch_size=v["batch"], augment=_augment(v["aug"]), eval_batch_size=96)
    opt, g = make_optimizer(model, cfg), torch.Generator().manual_seed(0)
    images, labels = data["train"].data["image"], data["train"].data["labels"]
    pos, neg = (labels[:, 0] > 0.5).nonzero().flatten(), (labels[:, 0] < 0.5).nonzero().flatten()
    start, ema, curve = time.perf_counter(), None, []
    for step in range(steps):  # half ICH, half not, drawn with replacement
        half = v["batch"] // 2
        idx = torch.cat([pos[torch.randint(len(pos), (half,), generator=g)],
                         neg[torch.randint(len(neg), (v["batch"] - half,), generator=g)]])
        loss = train_step(model, opt, images[idx].float() / 255, labels[idx], cfg, g,
                          lr_at(step, v["lr"], warmup, steps, 1e-6)).item()
        ema = loss if ema is None else 0.95 * ema + 0.05 * loss
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            curve.append({"step": step + 1, "train_loss_ema": round(ema, 3), "val_auc": round(_auc(model, data["val"], cfg), 3),
                          "seconds": round(time.perf_counter() - start)})
            print(name, curve[-1], flush=True)
    return {"variant": name, "what": what, "settings": v, "steps": steps, "warmup": warmup, "threads": threads,
            "curve": curve, "test_auc": round(_auc(model, data["test"], cfg), 4), "seconds": round(time.perf_counter() - start)}


def render(res: dict) -> str:
    lines = ["# Classifier recipe ablation", "", "Written by `bench/bench_recipe.py`; raw numbers in `recipe.json`. "
             "Binary task, bench cohort of `bench_train.py` (100 subjects, 256 px, 24 slices, seed 0): train folds "
             "2-4 (1,440 slices), validation fold 1, held-out test fold 0 (20 subjects). Same seed for every variant; "
             "validation AUC every few steps shows how soon a variant starts to learn.", "",
             "| variant | what | steps | validation ROC-AUC along the run | held-out ROC-AUC | s | machine load |",
             "|---|---|---|---|---|---|---|"]
    for r in res.get("runs", {}).values():
        curve = ", ".join(f"{c['step']}: {c['val_auc']}" for c in r["curve"])
        lines.append(f"| `{r['variant']}` | {r['what']} | {r['steps']} | {curve} | {r['test_auc']} | {r['seconds']} "
                     f"| {r['machine']['load_1_5_15']} ({r['threads']} thread(s)) |")
    lines.append("")
    noaug = res.get("runs", {}).get("max-noaug")
    if noaug:
        lines += [f"`max-noaug` ended at a smoothed training loss of {noaug['curve'][-1]['train_loss_ema']} with "
                  f"validation ROC-AUC {noaug['curve'][-1]['val_auc']}: without augmentation the slices are memorised.", ""]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("run", "render"), default="run")
    p.add_argument("--variants", nargs="+", default=["avg", "max"], choices=sorted(VARIANTS))
    p.add_argument("--steps", type=int, default=250)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--parallel", type=int, default=1, help="variants at once (one thread each when > 1)")
    p.add_argument("--cohort", type=Path, default=Path("/tmp/workbench_bench_cohort"))
    p.add_argument("--one", help=argparse.SUPPRESS)  # a child process of --parallel
    args = p.parse_args()
    os.environ.setdefault("WORKBENCH_PROGRESS", "0")
    json_path = RESULTS / "recipe.json"
    if args.one:
        r = run_variant(args.one, args.cohort, args.steps, args.warmup, args.eval_every, args.threads)
        print("RESULT " + json.dumps(r), flush=True)
        return 0
    res = json.loads(json_path.read_text()) if json_path.is_file() else {"runs": {}}
    if args.part == "run":
        pending = list(args.variants)
        while pending:
            batch, pending = pending[: args.parallel], pending[args.parallel:]
            threads = args.threads if args.parallel == 1 else 1
            m = machine()
            procs = [subprocess.Popen([sys.executable, __file__, "--one", name, "--steps", str(args.steps),
                                       "--warmup", str(args.warmup), "--eval-every", str(args.eval_every),
                                       "--threads", str(threads), "--cohort", str(args.cohort)],
                                      stdout=subprocess.PIPE, text=True) for name in batch]
            for proc in procs:
                out, _ = proc.communicate()
                found = [line for line in out.splitlines() if line.startswith("RESULT ")]
                if proc.returncode or not found:
                    print(f"variant failed (exit {proc.returncode}):\n{out}", file=sys.stderr)
                    continue
                r = json.loads(found[-1][len("RESULT "):])
                res["runs"][r["variant"]] = {**r, "machine": m}
                write_json_atomic(json_path, res)
    write_text_atomic(RESULTS / "recipe.md", render(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
