"""Which held-out differences between the reference classifiers are real: subject-bootstrap intervals (issue 13).

The issue's figures are ROC-AUCs on one held-out cohort of 40 subjects (seed 9200, ~960 slices, ~210
with a bleed). Slices of one head are correlated, so an interval that takes them as independent
(Hanley & McNeil 1982) is too narrow, and two classifiers scored on the same slices share most of
their error, so comparing their separate intervals is far too wide. This benchmark scores every
classifier on the same slices and resamples whole subjects
(:func:`workbench.evaluation.auc_bootstrap.bootstrap_auc`, 2,000 resamples): each AUC with its 95 %
interval, and each one's paired difference to the shipped ``reference-binary`` on the same resamples.

Scored, on all slices and on the issue's large-bleed subset (positives with >= 100 lesion px at the
256 px source, every negative kept):

- the shipped pair, slice alone and with its scan-context head (``prob_context``, the shipped head);
- the shipped binary classifier with test-time flip averaging (mean P(ICH) of the slice and its
  left-right mirror; the training augments with that flip), a free lever never measured before;
- the two shipped classifiers averaged (mean of the binary P(ICH) and the multilabel P(any)), alone and
  with their context heads: the cheapest ensemble;
- any further checkpoint given as ``--checkpoint LABEL=STEM`` (e.g. a fine-tune's ``runs/.../best``).

Run: ``.venv/bin/python bench/bench_heldout_ci.py [--checkpoint LABEL=STEM ...] [--record]`` (1-4
minutes on 2 cores; the cohort is written once under ``--data-dir``; ``--record`` also writes the shipped
pair's intervals into their provenance, which the demo prints). Writes ``bench/results/heldout_ci.md`` and its
forest plot. ``--subjects 200`` scores the same seed's first 200 subjects (the recipes' 40, then 160 that
nothing had used before this benchmark) for an interval about a third as wide: ``heldout_ci_n200.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from common import RESULTS, table, write_result
from workbench.evaluation.auc_bootstrap import AucComparison, auc_interval, bootstrap_auc, hanley_mcneil_se
from workbench.models.checkpoint import load_model
from workbench.models.factory import model_config
from workbench.models.context import frame_context_probabilities, load_context
from workbench.training.context import cohort_probabilities, ich_probabilities
from workbench.training.heldout import (LARGE_PX, PARTITION, SIZE_PARTITION, auc_by_contrast, auc_by_size,
                                        auc_with_strata, lesion_strata)
from workbench.training.recipes import RECIPES, CohortSpec
from workbench.training.reference import record_heldout_intervals

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "reference-binary"
RESAMPLES = 2000


class Mirrored(Dataset):
    """The items of ``dataset`` with their image flipped left-right (C, H, W) -> (C, H, W[::-1])."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict:
        item = self.dataset[i]
        return {**item, "image": torch.flip(item["image"], dims=(-1,))}


def shipped_scores(name: str, spec: CohortSpec, data_dir: Path, flip: bool) -> tuple[dict[str, np.ndarray], object, object]:
    """P(ICH) of the slices of cohort ``spec`` by shipped ``name``: alone, with its context head, and
    (``flip``) flip-averaged; a multilabel model's subtypes too (``"<name>: <label>"``). Returns
    (label -> (N,) scores, frame, dataset)."""
    model = load_model(name).eval()
    frame, full, dataset = cohort_probabilities(model, spec, data_dir, all_labels=True)
    probs = full if full.ndim == 1 else full[:, 0]
    out = {name: probs, f"{name} + context head": frame_context_probabilities(load_context(name), probs, frame)}
    if full.ndim == 2:
        out.update({f"{name}: {label}": full[:, i] for i, label in enumerate(model_config(model).class_names) if i})
    if flip:
        out[f"{name}, flip-averaged"] = (probs + ich_probabilities(model, Mirrored(dataset))) / 2
    return out, frame, dataset


TARGETS = {"all slices": 0.90, "bleeds": 0.97}
"""Issue 13's floors: all slices, and bleeds of >= 100 px (the subset whose name starts with the key)."""


def forest(results: dict[str, AucComparison], path: Path) -> Path:
    """Per slice subset (columns): each classifier's AUC with its interval against the issue's floor (top),
    and its paired difference to :data:`REFERENCE` (bottom; blue / red where the interval excludes 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(next(iter(results.values())).aucs)
    fig, axes = plt.subplots(2, len(results), figsize=(5.0 * len(results), 0.42 * 2 * len(names) + 2.2), dpi=110,
                             sharey="row", squeeze=False)
    for col, (subset, res) in enumerate(results.items()):
        top, bottom = axes[0, col], axes[1, col]
        for y, name in enumerate(names):
            a = res.aucs[name]
            top.errorbar(a.estimate, y, xerr=[[a.estimate - a.low], [a.high - a.estimate]], fmt="o", capsize=3,
                         color="black" if name == REFERENCE else "tab:blue")
        floor = next(v for k, v in TARGETS.items() if subset.startswith(k))
        top.axvline(floor, color="tab:green", ls="--", lw=1)
        top.text(floor, -0.6, f" target {floor:g}", color="tab:green", fontsize=8, va="bottom")
        top.set_title(f"{subset}\nROC-AUC (95 % CI)", fontsize=9)
        diffs = [n for n in names if f"{n} - {REFERENCE}" in res.differences]
        for y, name in enumerate(diffs):
            d = res.differences[f"{name} - {REFERENCE}"]
            bottom.errorbar(d.estimate, y, xerr=[[d.estimate - d.low], [d.high - d.estimate]], fmt="o", capsize=3,
                            color="tab:blue" if d.low > 0 else "tab:red" if d.high < 0 else "dimgrey")
        bottom.axvline(0, color="black", lw=0.8)
        bottom.set_title(f"{subset}\nminus {REFERENCE}, paired (95 % CI)", fontsize=9)
        for ax, labels in ((top, names), (bottom, diffs)):
            ax.set_yticks(range(len(labels)), labels, fontsize=8)
            ax.set_ylim(len(labels) - 0.5, -0.9)  # the table's order, top down
            ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


STRATA = ("1-24", "25-99", ">=100", "<5 HU", "5-15 HU", ">=15 HU", "<15 HU, >=100 px")
"""The columns of the strata table: lesion px at the 256 px source, local contrast, the large faint cell."""


def strata_rows(scores: dict[str, np.ndarray], labels: np.ndarray, source_px: np.ndarray, contrast: np.ndarray) -> list[list]:
    """Per classifier: AUC by stratum (each stratum's positives against every negative,
    :mod:`workbench.training.heldout`) and the all-slice AUC if every bleed of >= 15 HU, or of >= 25 px,
    were ranked above every negative (:func:`~workbench.training.heldout.auc_with_strata`)."""
    rows = []
    for label, score in scores.items():
        strata = {**auc_by_size(labels, score, source_px), **auc_by_contrast(labels, score, contrast, source_px)}
        rows.append([label, *(f"{strata[k]['auc']:.3f}" for k in STRATA),
                     f"{auc_with_strata(strata, {'>=15 HU': 1.0}, PARTITION):.3f}",
                     f"{auc_with_strata(strata, dict.fromkeys(SIZE_PARTITION[1:], 1.0), SIZE_PARTITION):.3f}"])
    return rows


def subtype_rows(subtypes: dict[str, np.ndarray], frame, groups: np.ndarray, resamples: int) -> list[list]:
    """Per subtype of the multilabel classifier: its positive slices, the subjects they come from, and its AUC
    with a subject-bootstrap interval (few subjects: an interval to read with care)."""
    rows = []
    for label, score in subtypes.items():
        y = frame[label].to_numpy()
        ci = auc_interval(score, y, groups, n_resamples=resamples)
        rows.append([label, int(y.sum()), len(set(groups[y > 0.5])), ci.format()])
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(ROOT / "runs" / "reference_data"))
    p.add_argument("--checkpoint", action="append", default=[], metavar="LABEL=STEM",
                   help="another classifier, scored on the same slices at its own input recipe, e.g. "
                        "'fine-tune=runs/finetune/reference-binary-control/best'")
    p.add_argument("--resamples", type=int, default=RESAMPLES)
    p.add_argument("--record", action="store_true", help="then record the shipped pair's held-out intervals in their "
                   "provenance (workbench.training.reference.record_heldout_intervals; the recipes' cohort only)")
    p.add_argument("--subjects", type=int, default=RECIPES[REFERENCE].test.subjects,
                   help="held-out subjects of its seed (default: the recipes' held-out cohort; its first subjects "
                        "are the same at any size; the rest had not been used before this benchmark)")
    args = p.parse_args(argv)
    others = {}  # checked before any scoring
    for given in args.checkpoint:
        label, sep, path = given.partition("=")
        if not sep or not label or not path:
            raise SystemExit(f"--checkpoint {given!r}: give LABEL=STEM, e.g. fine-tune=runs/finetune/reference-binary-control/best")
        if label in others or label.startswith("reference") or label.startswith("binary and multilabel"):
            raise SystemExit(f"--checkpoint {given!r}: the label {label!r} is taken; give each checkpoint its own label")
        others[label] = path
    data_dir, test = Path(args.data_dir), RECIPES[REFERENCE].test
    if RECIPES["reference-multilabel"].test != test:
        raise ValueError("the two shipped classifiers' held-out cohorts differ; they must share RECIPES[...].test")
    spec = CohortSpec(test.seed, args.subjects, test.size, test.slices)
    scores, frame, dataset = shipped_scores(REFERENCE, spec, data_dir, flip=True)
    multi, _, _ = shipped_scores("reference-multilabel", spec, data_dir, flip=False)
    subtypes = {k.split(": ", 1)[1]: multi.pop(k) for k in list(multi) if ": " in k}
    scores.update({f"{k} (any)": v for k, v in multi.items()})
    scores["binary and multilabel averaged"] = (scores[REFERENCE] + multi["reference-multilabel"]) / 2
    scores["binary and multilabel averaged, with context heads"] = (
        scores[f"{REFERENCE} + context head"] + multi["reference-multilabel + context head"]) / 2
    for label, path in others.items():  # the same slices, through each checkpoint's own input recipe
        model = load_model(path).eval()
        cfg = model_config(model)
        scores[label] = ich_probabilities(model, dataset.with_inputs(size=cfg.arch.img_size, **cfg.input_kwargs()))
    labels, groups = frame["any"].to_numpy(), frame["subject_id"].astype(str).to_numpy()
    source_px, _, contrast = lesion_strata(dataset)
    large = (labels < 0.5) | (source_px >= LARGE_PX)
    subsets = {"all slices": np.ones(len(labels), bool), f"bleeds >= {LARGE_PX} px (all negatives)": large}
    results = {name: bootstrap_auc({k: v[keep] for k, v in scores.items()}, labels[keep], groups[keep],
                                   generator=torch.Generator().manual_seed(0), n_resamples=args.resamples, reference=REFERENCE)
               for name, keep in subsets.items()}
    rows = []
    for label in scores:
        row = [f"`{label}`" if label.startswith("reference") else label]
        for res in results.values():
            d = res.differences.get(f"{label} - {REFERENCE}")
            row += [res.aucs[label].format(), d.format(signed=True) if d else ""]
        rows.append(row)
    header = ["classifier"] + [c for s in subsets for c in (f"AUC, {s} [95 % CI]", f"minus `{REFERENCE}`")]
    stem = "heldout_ci" + ("" if spec == test else f"_n{spec.subjects}")
    plot = forest(results, RESULTS / f"{stem}.png")
    any_ci, n_pos = results["all slices"].aucs[REFERENCE], int(labels.sum())
    counts = {**auc_by_size(labels, labels, source_px), **auc_by_contrast(labels, labels, contrast, source_px)}
    positives = [counts[k]["positives"] for k in STRATA]
    extra = ("" if spec == test else f": the first {spec.subjects} of the recipes' {test.subjects}" if spec.subjects < test.subjects
             else f": the recipes' {test.subjects} and {spec.subjects - test.subjects} more that nothing had trained, "
                  "selected or been scored on before this benchmark")
    body = (f"Held-out cohort seed {spec.seed} ({spec.subjects} subjects{extra}; "
            f"{len(labels)} slices, {int(labels.sum())} with a bleed, {int((labels.astype(bool) & (source_px >= LARGE_PX)).sum())} "
            f"of them >= {LARGE_PX} px): ROC-AUC with a subject-bootstrap 95 % interval ({args.resamples:,} resamples of "
            f"whole subjects, the same resamples for every classifier), and the paired difference to `{REFERENCE}` "
            "(module docstring of `bench/bench_heldout_ci.py`).\n\n" + table(header, rows)
            + f"\n\n![paired differences]({plot.name})\n\nOne held-out AUC is known to within about "
            f"+-{(any_ci.high - any_ci.low) / 2:.3f} (`{REFERENCE}`: {any_ci.format()}; Hanley & McNeil's formula, "
            f"which takes the slices as independent, would say +-{1.96 * hanley_mcneil_se(any_ci.estimate, n_pos, len(labels) - n_pos):.3f}): "
            "the 0.90 floor lies "
            f"{'inside' if any_ci.low <= 0.90 <= any_ci.high else 'outside'} its interval. A paired difference is "
            f"known far more closely. These are {sum(len(r.differences) for r in results.values())} unadjusted 95 % "
            "intervals (no correction for multiplicity), percentile intervals over whole subjects, which run somewhat "
            "narrow for few subjects: a difference whose interval barely excludes 0 is a lead to confirm on more "
            "subjects (`--subjects 200`), not a finding.\n\n### By lesion size and contrast\n\n"
            + table(["classifier", *(f"{k} ({n})" for k, n in zip(STRATA, positives)), "all, if >= 15 HU were perfect",
                     "all, if >= 25 px were perfect"], strata_rows(scores, labels, source_px, contrast))
            + "\n\nPositives per stratum in brackets, every negative kept in each; size in lesion pixels at the "
            "256 px source, contrast as in `workbench.training.heldout.lesion_contrast`. The last two columns are "
            "exact (`auc_with_strata`), not a model.\n\n### Per subtype (`reference-multilabel`, slice alone)\n\n"
            + table(["subtype", "slices with it", "subjects with it", "ROC-AUC [95 % CI]"], subtype_rows(subtypes, frame, groups, args.resamples))
            + "\n\nEach subtype's slices against every slice without it; subject-bootstrap intervals as above. A "
            "subtype seen in a handful of subjects gets an interval that is too narrow: a resample draws those few "
            "subjects or none, and the percentile bootstrap cannot show what other such subjects would look like.")
    if args.record:
        if spec != test:
            raise SystemExit("--record writes the intervals of the recipes' own held-out cohort; drop --subjects")
        for name in (REFERENCE, "reference-multilabel"):
            print(f"{name}: recorded {record_heldout_intervals(name, data_dir)}")
    print(write_result(stem, f"Held-out ROC-AUC with subject-bootstrap intervals ({spec.subjects} subjects): which differences are real",
                       body).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
