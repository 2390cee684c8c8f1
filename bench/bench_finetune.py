"""Fine-tuning the shipped reference classifier: scanner-appearance randomisation and pooling (issues 13, 16).

Every variant starts from the shipped weights and trains the same steps, schedule and data: stream
subjects from 40,000 on (past every subject a recipe or benchmark trained on), realistic lesions, lr
``--lr`` with a 50-step warm-up and a cosine decay; validation picks the step.

- ``control``: nothing changed, the yardstick of the others (a fine-tune restarts the learning rate).
- ``appearance``: :mod:`workbench.data.synth.appearance` randomises the scanner's rendering of each
  training subject (tissue contrast x0.6-1.5, calibration +-8 HU, bias field, mottle, blur, noise of
  0-6 HU at a 0.6-2.5 px grain). Why: the reference classifiers call 64-88 % of the ICH-free slices of
  a real head CT (the Cranium background) hemorrhage, and this benchmark's probe shows the same for
  mere rendering changes of ICH-free phantom heads: P(ICH) > 0.5 on 7 % of their slices as generated,
  on 38 % / 53 % with the intracranial contrast x0.6 / x1.5 and on 70 % under 6 HU of noise at a 2 px
  grain (shipped binary classifier). It learnt "not the phantom" as much as "bleed".
- ``avgmax``: the last stage's tokens pooled by the mean of average and max instead of max alone
  (no new parameters): a large faint bleed spreads weak evidence over many of the 4 x 4 final
  tokens, which max pooling reads one at a time.
- ``adjacent``: a 2.5D input, the slices 5 mm below and above stacked with the slice's own windows
  (9 channels; :mod:`workbench.models.inflate` starts it from the shipped weights, neighbours at zero).
  A bleed spans neighbouring slices while the noise does not: the scan-context head reads that from
  the slice logits, this reads it from the pixels.

Scored for each:

- held-out AUC on all slices and on bleeds >= 100 px (the recipe's own held-out cohort, seed 9200);
- a Cranium-background check cohort (``COHORT_SEED``, 20 subjects): slice AUC and the fraction of
  ICH-free slices with P(ICH) > 0.5;
- the appearance probe: the held-out cohort's ICH-free subjects rendered again as generated, with their
  intracranial contrast x0.6 / x1.5, and under 6 HU of 2 px-grain noise (the appearance transform at
  one value, :data:`PROBES`): fraction of slices with P(ICH) > 0.5.

Run: ``.venv/bin/python bench/bench_finetune.py`` (every variant; one CPU-heavy job, ~20 min a
variant on 2 cores; resumes; writes ``bench/results/finetune_binary.md`` and ``runs/finetune/``).
``--checkpoint reference-multilabel --variants`` (no names) scores the shipped multilabel classifier
only (``finetune_multilabel.md``). ``--init RUN/last --tag T`` continues an earlier fine-tune's curve
with a fresh schedule, on stream subjects past the ones that run trained on.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
from pathlib import Path

import pandas as pd
import torch

from common import RESULTS, plot_curves, table, write_result
from workbench.data.synth import Appearance, generate_subject
from workbench.evaluation.ranking import binary_auc
from workbench.models.checkpoint import load_model
from workbench.models.reference import REFERENCE_NAMES, provenance
from workbench.training.context import cohort_probabilities, ich_probabilities
from workbench.training.recipes import RECIPES, CohortSpec, Recipe, check_same_recipe, run_recipe
from workbench.training.reference import subject_items
from workbench.utils.io import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
COHORT_SEED = 9300
"""The Cranium-background check cohort (20 subjects): nothing trains or selects on it."""
CRANIUM_CHECK = CohortSpec(COHORT_SEED, 20)
FIRST_SUBJECT = 40_000
VARIANTS: dict[str, dict] = {
    "control": {},
    "appearance": {"appearance": "randomised"},
    "avgmax": {"global_pool": "avgmax"},
    "adjacent": {"adjacent_slices": 1},
}
"""Variant -> what it changes: a :class:`StreamConfig` field (``appearance``), an input-recipe field
(``adjacent_slices``) or an architecture override."""
INPUT_FIELDS = ("adjacent_slices", "adjacent_mm")
PROBES = {"as generated": Appearance(), "contrast x0.6": Appearance(contrast=(0.6, 0.6)),
          "contrast x1.5": Appearance(contrast=(1.5, 1.5)),
          "noise 6 HU, 2 px grain": Appearance(noise_hu=(6.0, 6.0), grain_px=(2.0, 2.0))}
"""Fixed renderings of the held-out cohort's ICH-free heads (the appearance transform at one value)."""


def variant_recipe(base: Recipe, variant: str, steps: int, lr: float, init: str = "") -> Recipe:
    """``base`` fine-tuned from ``init`` (default: its shipped weights) on fresh realistic stream subjects,
    past every subject ``init``'s run trained on (:func:`first_subject`)."""
    change = VARIANTS[variant]
    stream = dataclasses.replace(base.stream, first_index=first_subject(init), easy_hu=0.0, easy_volume=1.0,
                                 easy_hold_steps=0, easy_anneal_steps=0, appearance=change.get("appearance", "none"))
    overrides = {**base.overrides, **{k: v for k, v in change.items() if k != "appearance" and k not in INPUT_FIELDS}}
    inputs = {**base.inputs, **{k: v for k, v in change.items() if k in INPUT_FIELDS}}
    epochs = max(1, steps // base.train.steps_per_epoch)
    train = dataclasses.replace(base.train, epochs=epochs, lr=lr, warmup_steps=50, patience=epochs)
    return dataclasses.replace(base, name=f"{base.name}-ft-{variant}", stream=stream, train=train, init=init or base.name,
                               overrides=overrides, inputs=inputs, note=f"{init or base.name} fine-tuned {steps} steps at lr {lr:g}: "
                                                         f"{change or 'control'}")


def first_subject(init: str = "") -> int:
    """The stream's first subject for a fine-tune from ``init``: :data:`FIRST_SUBJECT` from a shipped
    checkpoint (empty ``init`` or a reference name), else past the last subject of ``init``'s own run
    (``init`` a checkpoint stem ``RUN/last`` or ``RUN/best`` of a finished recipe run: ``RUN/reference.json``).

    Raises ValueError naming the missing record (an unfinished run, a wrong path): a continuation must not
    train again on its start's subjects."""
    if not init or init in REFERENCE_NAMES:
        return FIRST_SUBJECT
    record = Path(init).parent / "reference.json"
    if not record.is_file():
        raise ValueError(f"--init {init!r}: no {record} (a finished fine-tune's run record), so its training "
                         f"subjects are unknown; valid: {', '.join(REFERENCE_NAMES)} or RUN/last, RUN/best of a finished run")
    return max(FIRST_SUBJECT, int(json.loads(record.read_text())["training_stream"]["subjects_used"][1]) + 1)


def start_scores(init: str) -> dict:
    """The scores of the checkpoint a continuation starts from (``RUN/last`` or ``RUN/best`` of a fine-tune
    scored by this benchmark: its ``transfer.json``), as a table row."""
    record = json.loads((Path(init).parent / "transfer.json").read_text())
    if Path(init).name == "last":
        return {**record["last"], "best_step": record["last"]["step"]}
    return {k: v for k, v in record.items() if k not in ("last", "train_seconds")}


def curve_chain(run: Path, checkpoint: str) -> tuple[list[pd.DataFrame], list[int]]:
    """The held-out curve of the shipped ``checkpoint``'s training from scratch (its provenance) and of
    each fine-tune from it down to ``run`` (``init`` links: the shipped name, or ``RUN/last`` / ``RUN/best``
    of an earlier fine-tune), on one axis of cumulative optimizer steps.

    Returns (frames, starts): frames oldest first (columns ``step``, ``heldout_auc``,
    ``heldout_auc_ge100px``, ``step`` cumulative); starts: the cumulative step each fine-tune began at."""
    chain = []  # (run, its init), newest first
    while True:
        init = json.loads((run / "run.json").read_text())["recipe"]["init"]
        chain.append((run, init))
        if init == checkpoint:
            break
        if Path(init).name not in ("last", "best"):
            raise ValueError(f"cannot place {init!r} on the curve: expected {checkpoint!r} or a run's last / best")
        run = Path(init).parent
    chain.reverse()
    prov = provenance(checkpoint)
    at = int(prov["best_step"])
    scratch = pd.DataFrame(prov["learning_curve"])
    frames, starts = [scratch[scratch["step"] <= at]], []  # up to the weights the chain took
    for i, (run, _) in enumerate(chain):
        curve = pd.read_csv(run / "heldout.csv")
        starts.append(at)
        frames.append(curve.assign(step=curve["step"] + at))
        if i + 1 < len(chain):  # the next fine-tune took this run's last or best step
            at += int(curve["step"].iloc[-1]) if Path(chain[i + 1][1]).name == "last" else int(
                json.loads((run / "reference.json").read_text())["best_step"])
    return frames, starts


def plot_chain(runs: dict[str, Path], checkpoint: str, path: Path) -> Path:
    """:func:`curve_chain` as one figure: the from-scratch curve, the earlier fine-tunes, then each of
    ``runs`` (label -> run folder; fine-tunes from the same checkpoint), each start marked."""
    curves, starts = {}, set()
    for label, run in runs.items():
        frames, begun = curve_chain(run, checkpoint)
        curves.setdefault(f"{checkpoint} from scratch", frames[0])
        for i, frame in enumerate(frames[1:-1], 1):
            curves.setdefault(f"fine-tune {i}", frame)
        curves[f"fine-tune {len(frames) - 1}: {label}"] = frames[-1]
        starts.update(begun)
    marks = [(x, "fine-tune starts (lr restart)") for x in sorted(starts)]
    return plot_curves(curves, path, xlabel="optimizer steps since the from-scratch start (batch 32)", marks=marks,
                       legend="lower left")


@functools.lru_cache(maxsize=None)
def _ich_free(spec: CohortSpec) -> tuple[int, ...]:
    """Indices of the ICH-free subjects of ``spec`` (generated once per cohort, not once per model)."""
    return tuple(i for i in range(spec.subjects) if not generate_subject(i, spec.seed, spec.size, spec.slices).has_ich)


def appearance_probe(model: torch.nn.Module, spec: CohortSpec) -> dict[str, float]:
    """Fraction of slices with P(ICH) > 0.5 on the ICH-free subjects of ``spec`` under each of :data:`PROBES`."""
    out = {}
    for name, look in PROBES.items():
        items, _ = subject_items(model, spec.seed, _ich_free(spec), spec.size, spec.slices, appearance=look)
        out[name] = float((ich_probabilities(model.eval(), items) > 0.5).mean())
    return out


def transfer_scores(model: torch.nn.Module, data_dir: Path, heldout: CohortSpec) -> dict:
    model.eval()
    frame, probs, _ = cohort_probabilities(model, CRANIUM_CHECK, data_dir, background="cranium")
    y = frame["any"].to_numpy()
    return {"cranium_auc": binary_auc(y, probs), "cranium_fp_rate": float((probs[y == 0] > 0.5).mean()),
            "probe_fp_rate": appearance_probe(model, heldout)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="reference-binary", choices=("reference-binary", "reference-multilabel"))
    p.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS),
                   help="fine-tuning variants to run (none: score the shipped classifier only)")
    p.add_argument("--steps", type=int, default=1600)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--data-dir", default=str(ROOT / "runs" / "reference_data"))
    p.add_argument("--out", default="", help="run folder (default runs/finetune, or runs/finetune_<tag> with --tag)")
    p.add_argument("--init", default="", help="checkpoint stem to start from instead of the shipped weights (e.g. "
                   "a previous fine-tune's runs/.../last, to continue its curve on subjects it has not seen)")
    p.add_argument("--tag", default="", help="suffix of the result file (finetune_<task>_<tag>.md), e.g. for a longer run")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    out = Path(args.out or ROOT / "runs" / ("finetune" + (f"_{args.tag}" if args.tag else "")))
    data_dir = Path(args.data_dir)
    base = RECIPES[args.checkpoint]
    results = {}
    shipped_json = out / f"{args.checkpoint}-shipped.json"
    if not shipped_json.is_file():
        prov = provenance(args.checkpoint)
        write_json_atomic(shipped_json, {"heldout_auc": prov["heldout"]["auc_any"],
                                         "heldout_auc_ge100px": prov["heldout"]["by_source_px"][">=100"]["auc"],
                                         "val_auc": prov["best_val_auc"],
                                         **transfer_scores(load_model(args.checkpoint), data_dir, base.test)})
    results["shipped"] = json.loads(shipped_json.read_text())
    if args.init:
        results[f"start: `{args.init}`"] = start_scores(args.init)
    for variant in args.variants:
        recipe, run = variant_recipe(base, variant, args.steps, args.lr, args.init), out / f"{args.checkpoint}-{variant}"
        scores = run / "transfer.json"
        check_same_recipe(run, recipe)  # also before reusing its stored scores
        if not scores.is_file():
            rec = run_recipe(recipe, run, data_dir, resume=(run / "run.json").is_file(),
                             command=f".venv/bin/python bench/bench_finetune.py --checkpoint {args.checkpoint} "
                                     f"--variants {variant} --steps {args.steps} --lr {args.lr:g} --out {out}"
                                     + (f" --init {args.init} --tag {args.tag}" if args.init else
                                        f" --tag {args.tag}" if args.tag else ""))
            write_json_atomic(scores, {"heldout_auc": rec["heldout"]["auc_any"],
                                       "heldout_auc_ge100px": rec["heldout"]["by_source_px"][">=100"]["auc"],
                                       "val_auc": rec["best_val_auc"], "steps": rec["steps"], "best_step": rec["best_step"],
                                       "train_seconds": rec["train_seconds"],
                                       **transfer_scores(load_model(run / "best"), data_dir, base.test)})
        record = json.loads(scores.read_text())
        if "last" not in record:  # the last step too: where more of the same training leads
            curve = pd.read_csv(run / "heldout.csv").iloc[-1]
            record["last"] = {"step": int(curve["step"]), "val_auc": float(curve["val_auc"]),
                              "heldout_auc": float(curve["heldout_auc"]),
                              "heldout_auc_ge100px": float(curve["heldout_auc_ge100px"]),
                              **transfer_scores(load_model(run / "last"), data_dir, base.test)}
            write_json_atomic(scores, record)
        results[variant] = record
        if record["last"]["step"] != record["best_step"]:
            results[f"{variant}, last step"] = {**record["last"], "best_step": record["last"]["step"]}
    rows = [[name, f"{r['best_step']:,}" if r.get("best_step") else "", f"{r['val_auc']:.3f}", f"{r['heldout_auc']:.3f}",
             f"{r['heldout_auc_ge100px']:.3f}", f"{r['train_seconds'] / 60:.0f}" if "train_seconds" in r else "",
             f"**{r['cranium_auc']:.3f}**", f"{r['cranium_fp_rate']:.2f}",
             *(f"{r['probe_fp_rate'][probe]:.2f}" for probe in PROBES)]
            for name, r in results.items()]
    what = {"control": "`control` changes nothing", "appearance": "`appearance` randomises each training subject's tissue "
            "contrast, calibration, bias field, mottle, blur and noise", "avgmax": "`avgmax` pools the final tokens by avg + max",
            "adjacent": "`adjacent` reads the slices 5 mm below and above as 6 more input channels (inflated from the "
                        "shipped stem, neighbours at zero)"}
    start = (f", and a fine-tune continued from `{args.init}` (an earlier fine-tune of it; that run's subjects "
             "excluded)" if args.init else " and fine-tuned from it")
    intro = (f"`{args.checkpoint}` as shipped{start} (module docstring of `bench/bench_finetune.py`): "
             f"{args.steps} steps of batch 32 at lr {args.lr:g}, stream subjects from {first_subject(args.init):,}, "
             "realistic lesions; "
             + ", ".join(what[v] for v in args.variants) + ". Validation picks the step."
             if args.variants else f"`{args.checkpoint}` as shipped (module docstring of `bench/bench_finetune.py`; no fine-tuning run).")
    body = (intro + "\n\n"
            + table(["classifier", "best step", "validation AUC", "held-out AUC", "held-out >= 100 px", "training min",
                     f"Cranium check AUC (seed {COHORT_SEED})", "Cranium ICH-free P > 0.5",
                     *(f"probe: {probe}" for probe in PROBES)], rows)
            + "\n\nProbe columns: fraction of the held-out cohort's ICH-free slices with P(ICH) > 0.5 when the same "
            "heads are rendered as named.")
    stem = f"finetune_{args.checkpoint.split('-')[1]}" + (f"_{args.tag}" if args.tag else "")
    if args.variants:
        plot_chain({v: out / f"{args.checkpoint}-{v}" for v in args.variants}, args.checkpoint, RESULTS / f"{stem}.png")
        body += (f"\n\n![held-out ROC-AUC of the shipped training and its fine-tunes]({stem}.png)\n\nHeld-out curve of "
                 "the shipped checkpoint's training from scratch (its provenance), then of each fine-tune on one axis "
                 "of optimizer steps: a fine-tune starts from the step whose weights it took (the shipped ones are "
                 "the best step by validation) and restarts the learning rate.")
    print(write_result(stem, (f"Fine-tuning {args.checkpoint}: " + (", ".join(args.variants) + f", {args.steps:,} steps at lr {args.lr:g}" if args.tag else
                                                         "appearance randomisation and pooling") if args.variants
                       else f"{args.checkpoint} as shipped: Cranium check and appearance probe"), body).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
