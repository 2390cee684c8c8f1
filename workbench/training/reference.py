"""Shipping a training run as a reference classifier, re-scoring a shipped one, and calibrating its
explain defaults.

:func:`export_reference` writes ``workbench/reference_models/<name>`` (float16 safetensors, config,
provenance); :func:`check_cohort_auc` regenerates the first subjects of the held-out seed in memory
and scores a classifier on them, which the tests repeat to check the recorded AUC.
"""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from workbench.data.dataset import prepare_volume
from workbench.data.label_volumes import volume_slice_labels
from workbench.data.synth import generate_subject
from workbench.evaluation.ranking import binary_auc
from workbench.models.checkpoint import load_model, save_tensors
from workbench.models.context import CONTEXT_SLICE_MM, ContextHead, context_probabilities, load_context, save_context
from workbench.models.factory import model_config
from workbench.api import DEFAULT_METHODS
from workbench.data.dataset import SliceDataset
from workbench.evaluation.calibration import calibrate
from workbench.evaluation.gating import GATE_PROBABILITIES
from workbench.utils.errors import check_choice
from workbench.models.reference import CHECK_SUBJECTS, REFERENCE_DIR, provenance_path, reference_stem
from workbench.training.recipes import CohortSpec, ensure_cohort
from workbench.training.heldout import heldout_report
from workbench.utils.io import write_json_atomic

__all__ = ["subject_items", "check_cohort_auc", "check_cohort_context_auc", "export_reference", "export_context",
           "record_heldout_intervals", "calibrate_reference"]


def subject_items(model: torch.nn.Module, seed: int, indices, size: int = 256, slices: int = 24, appearance=None):
    """Subjects ``indices`` of the synthetic cohort ``seed`` at ``model``'s input recipe, generated in memory,
    subject by subject in slice order (optionally rendered with an
    :class:`~workbench.data.synth.Appearance`): ``(items, source_px)``, items as a dataset's."""
    cfg = model_config(model)
    items, source_px = [], []
    for index in indices:
        subject = generate_subject(index, seed, size=size, n_slices=slices, appearance=appearance)
        labels = torch.from_numpy(volume_slice_labels(subject.labels)).float()
        prepared = prepare_volume(subject.hu, subject.spacing, cfg.arch.img_size, subject.labels > 0, brain_mask=False,
                                  **cfg.input_kwargs())
        for z, item in enumerate(prepared):
            items.append({"image": item["image"], "labels": labels[z], "mask": item["mask"]})
            source_px.append(int((subject.labels[z] > 0).sum()))
    return items, source_px


def check_cohort_auc(model: torch.nn.Module, heldout_seed: int, subjects: int = CHECK_SUBJECTS,
                     size: int = 256, slices: int = 24) -> dict:
    """Regenerate the first ``subjects`` subjects of the held-out seed in memory and score ``model``
    on them (fp32, CPU) with :func:`~workbench.training.heldout.heldout_report`:
    ``{"auc_any": .., "slices": .., "positives": ..}`` (+ per-label AUCs of a multilabel model, for the
    labels with a positive slice in these subjects: the record stays plain JSON)."""
    cfg = model_config(model)
    items, source_px = subject_items(model, heldout_seed, range(subjects), size, slices)
    pixels = (np.asarray(source_px), np.asarray([int(it["mask"].sum()) for it in items]))
    report = heldout_report(model.eval(), items, cfg.task, cfg.class_names, pixels)
    return {k: v for k, v in report.items() if k in ("slices", "positives") or
            (k.startswith("auc_") and not isinstance(v, dict) and math.isfinite(v))}  # a label absent here has no AUC


def check_cohort_context_auc(model: torch.nn.Module, head: ContextHead, heldout_seed: int, subjects: int = CHECK_SUBJECTS,
                             size: int = 256, slices: int = 24) -> dict:
    """The check cohort (:func:`check_cohort_auc`) scored without and with ``head``'s scan context:
    ``{"auc_slice": .., "auc_context": .., "slices": ..}``."""
    from workbench.training.context import ich_probabilities

    items, _ = subject_items(model, heldout_seed, range(subjects), size, slices)
    probs = ich_probabilities(model.eval(), items)
    labels = np.asarray([float(it["labels"][0]) for it in items])
    scan, position = np.repeat(np.arange(subjects), slices), np.tile(np.arange(slices), subjects)
    ctx = context_probabilities(head, probs, scan, position)
    return {"slices": len(items), "auc_slice": binary_auc(labels, probs), "auc_context": binary_auc(labels, ctx)}


def export_reference(run_dir: str | Path, name: str, dest_dir: str | Path = REFERENCE_DIR, note: str = "",
                     command: str = "") -> Path:
    """Ship ``run_dir/best`` as ``dest_dir/<name>``: float16 safetensors, config JSON, provenance.

    ``run_dir/reference.json`` (written by :func:`workbench.training.recipes.run_recipe`) is the
    provenance; the export adds the file's float16 note, the learning curve, the check cohort's AUC
    computed with the float16 weights exactly as they will be loaded, and ``note`` (e.g. how the
    recorded commit relates to the code that ships the weights). ``command``: the documented command
    that reproduces the run when it was launched otherwise (e.g. by a benchmark under another recipe
    name); the launching command is then kept as ``trained_as``.
    """
    reference_stem(name)
    run_dir, dest = Path(run_dir), Path(dest_dir)
    record = json.loads((run_dir / "reference.json").read_text())
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").is_file() else {}
    if run.get("argv"):  # the exact command line of the run (threads, workers...), not the recipe's plain one
        record["command"] = "workbench " + shlex.join(run["argv"])
    model = load_model(run_dir / "best")
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    cfg = model_config(model)
    save_tensors(dest / f"{name}.safetensors", state, metadata={"task": cfg.task, "format": "workbench-swin",
                                                               "storage": "float16"})
    cfg.save(dest / f"{name}.json")
    shipped = load_model(dest / name)
    if (run_dir / "heldout.csv").is_file():  # the learning curve (held-out AUC after every epoch)
        record["learning_curve"] = pd.read_csv(run_dir / "heldout.csv").to_dict("records")
    if note:
        record["note"] = note
    if command:
        record["trained_as"], record["command"] = record["command"], command
    held = record["heldout_cohort"]
    record["shipped"] = {"storage": "float16", "check_cohort": {
        "seed": held["seed"], "subjects": CHECK_SUBJECTS, "size": held["size"], "slices_per_subject": held["slices"],
        **check_cohort_auc(shipped, held["seed"], CHECK_SUBJECTS, held["size"], held["slices"])}}
    return write_json_atomic(dest / f"{name}.provenance.json", record)


INTERVAL_NOTE = ("95 % subject-bootstrap interval (2,000 resamples of whole subjects, seed 0; "
                 "workbench.evaluation.auc_bootstrap.auc_interval) of the shipped float16 weights' AUC on this cohort")


def record_heldout_intervals(name: str, data_dir: str | Path = "runs/reference_data",
                             dest_dir: str | Path = REFERENCE_DIR) -> dict:
    """Score the shipped classifier ``name`` (its float16 weights as loaded) on its recorded held-out cohort,
    slice alone and with its scan-context head when it has one, and record each AUC's subject-bootstrap
    interval in its provenance: ``heldout.auc_any_ci`` and ``context.scores.heldout.auc_context_ci``
    ([low, high]), with :data:`INTERVAL_NOTE`. The float16 weights' own held-out AUCs are already recorded
    by :func:`export_context` (``context.scores.heldout``: ``auc_slice``, ``auc_context``); they differ
    from the training run's ``heldout.auc_any`` by the float16 rounding only. Returns what it wrote."""
    from workbench.evaluation.auc_bootstrap import auc_interval
    from workbench.models.context import frame_context_probabilities
    from workbench.training.context import cohort_probabilities

    reference_stem(name)
    dest = Path(dest_dir)
    path = dest / f"{name}.provenance.json"
    record = json.loads(path.read_text())
    model = load_model(dest / name).eval()
    frame, full, _ = cohort_probabilities(model, CohortSpec(**record["heldout_cohort"]), data_dir)
    subjects = frame["subject_id"].astype(str).to_numpy()
    y = frame["any"].to_numpy()
    ci = auc_interval(full, y, subjects)
    written = {"auc_any_ci": [ci.low, ci.high], "interval": INTERVAL_NOTE}
    record["heldout"].update(written)
    head = load_context(dest / name)
    if head is not None and "context" in record:
        ctx = auc_interval(frame_context_probabilities(head, full, frame), y, subjects)
        record["context"]["scores"]["heldout"].update({"auc_context_ci": [ctx.low, ctx.high]})
        written["auc_context_ci"] = [ctx.low, ctx.high]
    write_json_atomic(path, record)
    return written


def calibrate_reference(stem: str | Path, data_dir: str | Path = "runs/reference_data",
                        methods: tuple[str, ...] = DEFAULT_METHODS, batch_size: int = 16,
                        gate_probability: str = "slice") -> dict:
    """Choose the explain defaults of a reference classifier (``reference-binary`` or a stem with a
    provenance) on its own validation cohort (``validation_cohort`` of the provenance: the subjects
    that picked its checkpoint, never the held-out ones) and record them in the provenance as
    ``explain_defaults``: per method the P(ICH) gate and map threshold
    (:func:`workbench.evaluation.calibration.calibrate`; ``gate_probability`` ``context``: the gates read
    P(ICH) with the classifier's scan-context head). Returns that record."""
    path = provenance_path(stem)
    record = json.loads(path.read_text())
    val = record["validation_cohort"]
    spec = CohortSpec(val["seed"], val["subjects"], val["size"], val["slices"])
    root, frame = ensure_cohort(spec, Path(data_dir))
    model = load_model(stem).eval()
    cfg = model_config(model)
    dataset = SliceDataset(frame, root, size=cfg.arch.img_size, brain_mask=True, **cfg.input_kwargs())
    check_choice("gate probability", gate_probability, GATE_PROBABILITIES)
    head = load_context(stem) if gate_probability == "context" else None
    if gate_probability == "context" and head is None:
        raise FileNotFoundError(f"{stem}: no scan-context head to gate on (gate_probability='context')")
    defaults = calibrate(model, dataset, methods, batch_size, context=head)
    record["explain_defaults"] = {
        **defaults, "cohort": {"seed": spec.seed, "subjects": spec.subjects, "size": spec.size, "slices": spec.slices},
        "criterion": "mean per-subject volume score: volume Dice of a subject with hemorrhage, 1 for an ICH-free "
                     "subject with an empty mask (else 0); brain mask on; maps min-max per slice",
    }
    write_json_atomic(path, record)
    return record["explain_defaults"]


CONTEXT_COMMAND = ".venv/bin/python bench/bench_context.py --export"


def export_context(name: str, data_dir: str | Path = "runs/reference_data", seed: int = 0,
                   dest_dir: str | Path = REFERENCE_DIR) -> dict:
    """Train the scan-context head of the shipped classifier ``name`` (its float16 weights as loaded;
    :func:`workbench.training.context.train_context`, one seed), write ``<name>.context.safetensors``
    beside it and record in its provenance (``context``) the training cohort, the validation and
    held-out AUCs without and with context (held-out also by lesion size and contrast) and the check
    cohort's, which a test recomputes. Returns that record."""
    from workbench.training.context import train_context
    from workbench.training.heldout import auc_by_contrast, auc_by_size, lesion_strata

    reference_stem(name)
    dest = Path(dest_dir)
    path = dest / f"{name}.provenance.json"
    record = json.loads(path.read_text())
    model = load_model(dest / name).eval()
    cohorts = {what: CohortSpec(**record[f"{what}_cohort"]) for what in ("validation", "heldout")}
    head, context, scored = train_context(model, data_dir, cohorts, seed)
    frame, probs, ctx, dataset = scored["heldout"]  # held-out strata from the same scoring, no second pass
    source_px, _, contrast = lesion_strata(dataset)
    y = frame["any"].to_numpy()
    context["scores"]["heldout"].update({
        "by_source_px": {"slice": auc_by_size(y, probs, source_px), "context": auc_by_size(y, ctx, source_px)},
        "by_contrast": {"slice": auc_by_contrast(y, probs, contrast, source_px),
                        "context": auc_by_contrast(y, ctx, contrast, source_px)}})
    held = record["heldout_cohort"]
    context["check_cohort"] = {"seed": held["seed"], "subjects": CHECK_SUBJECTS, "size": held["size"],
                               "slices_per_subject": held["slices"],
                               **check_cohort_context_auc(model, head, held["seed"], CHECK_SUBJECTS, held["size"], held["slices"])}
    context.update(command=CONTEXT_COMMAND, file=f"{name}.context.safetensors",
                   slice_mm=CONTEXT_SLICE_MM, note="trained on 5 mm axial slices of the stream's seed; the classifier is unchanged")
    save_context(head, dest / f"{name}.context.safetensors")
    record["context"] = json.loads(json.dumps(context, default=float))
    write_json_atomic(path, record)
    return record["context"]
