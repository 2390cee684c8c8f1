"""How much neighbouring slices add to slice detection (issue 13's ceiling): a context head over a scan's
slice logits, measured on the reference classifiers' held-out cohort.

The reference classifiers score each slice alone. A bleed spans several slices, so a slice whose
bleed is too small or too faint to see may sit next to one where it is plain (the RSNA 2019 winning
entries put a sequence model over per-slice CNN outputs for this reason). This benchmark measures
that lever without changing the classifiers: :class:`workbench.models.context.ContextHead`, a small 1D
convolution over the ICH logits of a scan's slices (in order), corrects each slice's logit from its
neighbours, trained (:func:`workbench.training.context.fit_context_head`) with BCE on the slice labels of realistic subjects of the training stream's seed (the
``bench/bench_engine.py`` U-Net yardstick's 200 subjects: seed 9000, never an evaluated cohort), for
a fixed number of epochs, three seeds; scored on the validation (9100) and held-out (9200) cohorts.
Reported: ROC-AUC on all slices and by lesion size / contrast stratum
(:mod:`workbench.training.heldout`), slice model alone vs with context.

``--export`` then trains seed 0 of each shipped classifier's head and ships it beside the classifier
(:func:`workbench.training.reference.export_context`: ``<name>.context.safetensors`` and the ``context``
record of its provenance).

Run: ``.venv/bin/python bench/bench_context.py [--export]`` (about 5 minutes on 2 cores; 8 with ``--export``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import table, write_result
from workbench.evaluation.ranking import binary_auc
from workbench.models.checkpoint import load_model
from workbench.models.context import frame_context_probabilities
from workbench.training.context import CONTEXT_COHORT, cohort_probabilities, fit_context_head
from workbench.training.heldout import auc_by_contrast, auc_by_size, lesion_strata
from workbench.training.recipes import RECIPES, STREAM_SEED, CohortSpec

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoints", nargs="+", default=["reference-binary", "reference-multilabel"])
    p.add_argument("--data-dir", default=str(ROOT / "runs" / "reference_data"))
    p.add_argument("--train-subjects", type=int, default=CONTEXT_COHORT.subjects)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--tag", default="", help="write bench/results/context_<tag>.md (e.g. for other --checkpoints) "
                   "instead of context.md")
    p.add_argument("--export", action="store_true", help="then ship seed 0's head beside each shipped classifier")
    args = p.parse_args(argv)
    recipe = RECIPES["reference-binary"]
    cohorts = {"train": CohortSpec(STREAM_SEED, args.train_subjects), "validation": recipe.val, "held-out": recipe.test}
    rows = []
    for name in args.checkpoints:
        model = load_model(name).eval()
        scored = {what: cohort_probabilities(model, spec, args.data_dir) for what, spec in cohorts.items()}
        frame, probs, _ = scored["train"]
        scores = {"slice model": {w: scored[w][1] for w in ("validation", "held-out")}}
        for seed in range(args.seeds):
            head = fit_context_head(probs, frame["any"].to_numpy(), frame["volume_id"], frame["slice_index"], seed)
            scores[f"context head, seed {seed}"] = {
                w: frame_context_probabilities(head, scored[w][1], scored[w][0])
                for w in ("validation", "held-out")}
        held_frame, _, held_ds = scored["held-out"]
        source_px, _, contrast = lesion_strata(held_ds)  # at the 256 px source, the same for every classifier
        yv, yh = scored["validation"][0]["any"].to_numpy(), held_frame["any"].to_numpy()
        for label, s in scores.items():
            sh = s["held-out"]
            size, con = auc_by_size(yh, sh, source_px), auc_by_contrast(yh, sh, contrast, source_px)
            rows.append([name, label, f"{binary_auc(yv, s['validation']):.3f}",
                         f"**{binary_auc(yh, sh):.3f}**", f"{size['1-24']['auc']:.3f}", f"{size['25-99']['auc']:.3f}",
                         f"{size['>=100']['auc']:.3f}", f"{con['<5 HU']['auc']:.3f}", f"{con['5-15 HU']['auc']:.3f}",
                         f"{con['>=15 HU']['auc']:.3f}"])
        print(name, "done", flush=True)
    body = ("Context head over each scan's slice logits (module docstring of `bench/bench_context.py`), trained on "
            f"{args.train_subjects} realistic subjects of the stream's seed {STREAM_SEED}, scored on the validation "
            "(seed 9100, 30 subjects) and held-out (seed 9200, 40 subjects) cohorts; held-out strata by lesion pixels "
            "and local contrast at the 256 px source, every negative kept in each.\n\n"
            + table(["classifier", "scores", "validation AUC", "held-out AUC", "1-24 px", "25-99 px", ">= 100 px",
                     "< 5 HU", "5-15 HU", ">= 15 HU"], rows))
    path = write_result("context" + (f"_{args.tag}" if args.tag else ""),
                        "Neighbouring slices: a context head over the slice logits", body)
    print(path.read_text())
    if args.export:
        from workbench.training.reference import export_context

        for name in args.checkpoints:
            record = export_context(name, args.data_dir)
            print(name, "shipped:", {w: {k: round(v, 3) for k, v in sc.items() if k.startswith("auc")}
                                     for w, sc in record["scores"].items()}, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
