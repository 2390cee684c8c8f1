"""End to end: fine-tune a reference classifier together with its scan-context head on whole scans (issue 13).

The shipped scan-context head (:mod:`workbench.models.context`) reads the frozen classifier's slice
logits: held-out 0.830 -> 0.861. A head over the frozen pooled features did no better (0.855), nor did
three times the head's training subjects, so the frozen slice outputs carry no more. This benchmark asks
whether the classifier itself can learn to use its scan: starting from the shipped classifier and head,
both are trained together on whole scans of fresh synthetic subjects (realistic lesions, no easy start;
stream seed 9000 from subject 20,000 on, far past the subjects the recipes used), each optimizer step one
chunk of ``--scans`` subjects (all their slices in slice order, the 256 px input recipe), loss = BCE of the
context-corrected logits + 0.5 x BCE of the slice logits, AdamW (classifier ``--lr``, head 1e-3),
cosine, bf16 autocast. Validation (seed 9100) after every ``--eval-every`` steps picks the best step;
the held-out cohort (seed 9200) is scored at the same points, for the curve only.

Run: ``.venv/bin/python bench/bench_context_e2e.py --minutes 55`` (one CPU-heavy job; writes
``bench/results/context_e2e.md`` and ``runs/context_e2e/``). Not shipped: an experiment.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from common import table, write_result
from workbench.evaluation.ranking import binary_auc
from workbench.models.checkpoint import load_model, save_model
from workbench.models.context import frame_context_probabilities, load_context, save_context
from workbench.models.factory import model_config
from workbench.training.context import cohort_probabilities
from workbench.training.recipes import RECIPES
from workbench.training.stream import SyntheticStream
from workbench.utils.io import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
FIRST_SUBJECT = 20_000
"""First stream subject (seed 9000) of the fine-tuning data: past every subject a recipe trained on."""


def ich_logit(task: str, logits: torch.Tensor) -> torch.Tensor:
    """(B,) logit of P(ICH): binary ich - no_ich (the softmax's log-odds), multilabel ``any``."""
    return logits[:, 1] - logits[:, 0] if task == "binary" else logits[:, 0]


def scored(model, head, spec, data_dir) -> dict:
    frame, probs, _ = cohort_probabilities(model, spec, data_dir)
    ctx = frame_context_probabilities(head, probs, frame)
    y = frame["any"].to_numpy()
    return {"slice": binary_auc(y, probs), "context": binary_auc(y, ctx)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="reference-binary")
    p.add_argument("--minutes", type=float, default=55.0, help="wall-time budget of the fine-tuning")
    p.add_argument("--scans", type=int, default=4, help="whole scans per optimizer step")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--data-dir", default=str(ROOT / "runs" / "reference_data"))
    p.add_argument("--out", default=str(ROOT / "runs" / "context_e2e"))
    args = p.parse_args(argv)
    torch.manual_seed(0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, head = load_model(args.checkpoint), load_context(args.checkpoint)
    cfg, recipe = model_config(model), RECIPES[args.checkpoint]
    task = cfg.task
    stream_cfg = dataclasses.replace(recipe.stream, first_index=FIRST_SUBJECT, subjects_per_chunk=args.scans,
                                     easy_hu=0.0, easy_volume=1.0, easy_hold_steps=0, easy_anneal_steps=0)
    stream = SyntheticStream(stream_cfg, cfg.arch.img_size, **cfg.input_kwargs())
    loader = iter(DataLoader(stream, batch_size=None, num_workers=1, prefetch_factor=2))
    opt = torch.optim.AdamW([{"params": model.parameters(), "lr": args.lr},
                             {"params": head.parameters(), "lr": 1e-3}], weight_decay=0.05)
    base = [g["lr"] for g in opt.param_groups]
    est_steps = max(1, int(args.minutes * 60 / 1.2))  # cosine horizon from the expected ~1.2 s per step
    cohorts = {"validation": recipe.val, "held-out": recipe.test}
    curve = [{"step": 0, **{f"{w}_{s}": v for w in cohorts for s, v in scored(model.eval(), head, cohorts[w], args.data_dir).items()}}]
    print(curve[-1], flush=True)
    best = curve[-1]["validation_context"]
    t0, step, losses = time.time(), 0, []
    while time.time() - t0 < args.minutes * 60:
        chunk = next(loader)
        order = torch.from_numpy(np.lexsort((chunk["slice"].numpy(), chunk["subject"].numpy())))
        images = chunk["image"][order].float().div_(255.0)
        labels = chunk["labels"][order][:, 0].float().reshape(args.scans, -1)
        model.train()
        head.train()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(images)
        z = ich_logit(task, logits.float()).reshape(args.scans, -1)
        loss = nn.functional.binary_cross_entropy_with_logits(head(z), labels) \
            + 0.5 * nn.functional.binary_cross_entropy_with_logits(z, labels)
        for g, lr in zip(opt.param_groups, base):
            g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * min(step / est_steps, 1.0)))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_([*model.parameters(), *head.parameters()], 1.0)
        opt.step()
        step += 1
        losses.append(float(loss.detach()))
        if step % args.eval_every == 0:
            row = {"step": step, "seconds": round(time.time() - t0), "train_loss": float(np.mean(losses[-args.eval_every:]))}
            for w, spec in cohorts.items():
                row.update({f"{w}_{s}": v for s, v in scored(model.eval(), head.eval(), spec, args.data_dir).items()})
            curve.append(row)
            print(row, flush=True)
            write_json_atomic(out / "curve.json", curve)
            if row["validation_context"] > best:
                best = row["validation_context"]
                save_model(model, out / "best")
                save_context(head, out / "best.context.safetensors")
    write_json_atomic(out / "curve.json", curve)
    pick = max(curve, key=lambda r: r["validation_context"])
    rows = [[r["step"], r.get("seconds", 0), f"{r.get('train_loss', float('nan')):.3f}",
             f"{r['validation_slice']:.3f}", f"{r['validation_context']:.3f}",
             f"{r['held-out_slice']:.3f}", f"**{r['held-out_context']:.3f}**" if r is pick else f"{r['held-out_context']:.3f}"]
            for r in curve]
    body = (f"`{args.checkpoint}` and its scan-context head fine-tuned together on whole scans (module docstring of "
            f"`bench/bench_context_e2e.py`): {step} steps of {args.scans} scans in {(time.time() - t0) / 60:.0f} min, "
            f"classifier lr {args.lr:g}; step 0 = the shipped pair. Best step by validation AUC with context: "
            f"{pick['step']} (held-out {pick['held-out_context']:.3f}).\n\n"
            + table(["step", "seconds", "train loss", "validation, slice", "validation, context", "held-out, slice",
                     "held-out, context"], rows))
    print(write_result("context_e2e", "End to end: classifier and scan-context head fine-tuned on whole scans", body).read_text())
    print(json.dumps(pick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
