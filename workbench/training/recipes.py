"""Named training recipes: one command trains a reference classifier end to end.

``workbench train --recipe reference-binary --out runs/reference-binary`` (or
``run_recipe("reference-binary", "runs/reference-binary")``):

1. writes the realistic validation and held-out cohorts (fresh seeds, never trained on) under
   ``data_dir`` if they are not there yet, and checks their seeds are disjoint from the stream's;
2. trains on the synthetic stream (:mod:`workbench.training.stream`), validating every epoch and
   recording the held-out AUC after every epoch in ``heldout.csv`` (a learning curve; the held-out
   cohort never picks a checkpoint: ``best`` is chosen on validation only);
3. scores ``best`` on the held-out cohort (AUC on all slices and by lesion size) and writes
   ``reference.json``: the command, git commit, seeds, steps, wall time, machine and the AUCs.

Every step resumes (``resume=True``): cohorts already written are reused, training continues from
its last checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from workbench.models.config import JsonConfig
from workbench.training.config import TrainConfig
from workbench.training.stream import StreamConfig
from workbench.utils.errors import choice_error
from workbench.utils.io import write_csv_atomic, write_json_atomic

__all__ = ["CohortSpec", "Recipe", "RECIPES", "get_recipe", "run_recipe", "check_same_recipe", "machine_description",
           "git_commit"]


@dataclass(frozen=True)
class CohortSpec(JsonConfig):
    """A realistic evaluated cohort: ``workbench synth --seed S --subjects N --size Z --slices K``."""

    seed: int
    subjects: int
    size: int = 256
    slices: int = 24

    @property
    def name(self) -> str:
        return f"seed{self.seed}_n{self.subjects}_{self.size}px_{self.slices}sl"


@dataclass(frozen=True)
class Recipe:
    """Everything one reference classifier's training depends on (plain values); ``overrides`` are
    :class:`~workbench.models.config.SwinArch` fields changed from the preset (e.g. ``stem``), ``inputs``
    input-recipe fields of :func:`~workbench.models.factory.create_model` (e.g. ``adjacent_slices``)."""

    name: str
    task: str
    preset: str
    stream: StreamConfig
    train: TrainConfig
    val: CohortSpec
    test: CohortSpec
    img_size: int | None = None
    note: str = ""
    overrides: dict = field(default_factory=dict)
    shard_cache: bool = True
    """Cache the stream's chunks under ``data_dir/shards`` (shared by runs of the same stream and input;
    about 1.5 GB per 1,000 steps at 128 px, four times that at 256 px)."""
    init: str = ""
    """Start from these weights instead of a fresh model (a reference name or a checkpoint stem with the same
    parameters, task and input recipe, or the same recipe on one slice where this one stacks adjacent ones:
    :func:`~workbench.models.inflate.inflate_to_stack`): a fine-tuning recipe. Empty: from scratch."""
    inputs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "task": self.task, "preset": self.preset, "img_size": self.img_size,
                "stream": self.stream.to_dict(), "train": self.train.to_dict(), "val": self.val.to_dict(),
                "test": self.test.to_dict(), "overrides": dict(self.overrides), "note": self.note,
                "shard_cache": self.shard_cache, "init": self.init,
                **({"inputs": dict(self.inputs)} if self.inputs else {})}  # older records have no inputs


# Seeds: the stream draws subjects (9000, 0..); validation (9100, 0..29) and held-out (9200, 0..39) are
# realistic cohorts of their own seeds. Every other cohort of the workbench (demo 0 / 1, study 100 /
# 200, bench 0, tests < 100) uses other seeds; tests/test_reference.py checks the disjointness.
STREAM_SEED, VAL_COHORT, TEST_COHORT = 9000, CohortSpec(9100, 30), CohortSpec(9200, 40)

_STREAM = StreamConfig(seed=STREAM_SEED, p_ich=0.8, subjects_per_chunk=4, batch_size=32,
                       easy_hu=20.0, easy_volume=4.0, easy_hold_steps=600, easy_anneal_steps=1400)
_TRAIN = dict(epochs=20, steps_per_epoch=400, batch_size=32, lr=3e-4, warmup_steps=100, patience=20,
              monitor="val_auc", precision="auto", num_workers=1, seed=0)

_NOTE_128 = ("cpu-small with a convolutional stem at 128 px on fresh synthetic subjects, easy-lesion start (+20 HU, 4x "
             "volume for 600 steps, annealed to realistic by step 2,000), 8,000 steps of batch 32")
_NOTE = ("cpu-small at a 256 px input through a stride-8 convolutional stem (patch 8: the convolutions see every "
         "source pixel, the transformer keeps a 32x32 token grid; a step costs ~1.1x the 128 px one), on fresh "
         "synthetic subjects, easy-lesion start (+20 HU, 4x volume for 600 steps, annealed to realistic by step "
         "2,000), 8,000 steps of batch 32; stream chunks not cached (4x the disk of 128 px)")


_NOTE_25D = (_NOTE + "; 2.5D input: the windows of the slices 5 mm below and above stacked with the slice's own "
             "(9 channels into the stem)")


def _recipe(name: str, task: str, kind: str) -> Recipe:
    common = dict(name=name, task=task, preset="cpu-small", stream=_STREAM, train=TrainConfig(task=task, **_TRAIN),
                  val=VAL_COHORT, test=TEST_COHORT)
    if kind == "-128px":
        return Recipe(**common, overrides={"stem": "conv"}, note=_NOTE_128)
    stacked = {"inputs": {"adjacent_slices": 1}, "note": _NOTE_25D} if kind == "-2.5d" else {"note": _NOTE}
    return Recipe(**common, img_size=256, shard_cache=False, overrides={"stem": "conv", "patch_size": 8}, **stacked)


# The shipped pair (256 px, stride-8 stem), the previous 128 px recipe they replaced (issue 13's curves) and
# the same 256 px recipe on a 2.5D input (neighbouring slices as channels).
RECIPES: dict[str, Recipe] = {
    f"reference-{task}{kind}": _recipe(f"reference-{task}{kind}", task, kind)
    for kind in ("", "-128px", "-2.5d") for task in ("binary", "multilabel")
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise choice_error("recipe", name, sorted(RECIPES))
    return RECIPES[name]


def git_commit() -> str:
    """The commit of the working tree (``+dirty`` when it has changes); ``unknown`` outside git."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here, capture_output=True,
                               text=True, check=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_description(device: torch.device) -> dict:
    """CPU model, core count, bf16 support and GPU name: what a timing was measured on."""
    from workbench.training.precision import cpu_has_fast_bf16

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
           "cpu_native_bf16": bool(cpu_has_fast_bf16()), "device": str(device), "torch": torch.__version__}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    return out


def ensure_cohort(spec: CohortSpec, data_dir: Path, background: str = "procedural") -> tuple[Path, pd.DataFrame]:
    """Write (once) the realistic cohort ``spec`` (on ``background``) and its manifest; returns ``(root, manifest)``."""
    from workbench.data.manifest import build_manifest, read_manifest
    from workbench.data.synth import write_cohort

    folder = data_dir / (spec.name if background == "procedural" else f"{spec.name}_{background}")
    root, manifest = folder / "physionet", folder / "manifest.csv"
    if not manifest.is_file():
        write_cohort(folder, spec.subjects, spec.seed, size=spec.size, n_slices=spec.slices, background=background)
        frame, _ = build_manifest("synthetic", root, n_folds=0, seed=0)
        write_csv_atomic(manifest, frame)
    return root, read_manifest(manifest)


def run_recipe(name: str | Recipe, out_dir: str | Path, data_dir: str | Path = "runs/reference_data", *, resume: bool = False,
               device: str = "auto", num_workers: int | None = None, max_steps: int = 0, threads: int = 0,
               command: str | None = None) -> dict:
    """Train the recipe ``name`` (a name in :data:`RECIPES` or a :class:`Recipe`, e.g. a benchmark's
    variant of one) into ``out_dir`` and write its ``reference.json``; returns that record.

    ``command`` is the command line recorded as provenance (default: the recipe's plain command).
    """
    from workbench.data.dataset import SliceDataset
    from workbench.models.checkpoint import load_model
    from workbench.models.factory import create_model
    from workbench.training.cache import CachedImages
    from workbench.training.distributed import resolve_device
    from workbench.training.heldout import heldout_report, lesion_strata
    from workbench.training.precision import resolve_precision
    from workbench.training.stream import SyntheticStream, check_disjoint, cohort_subjects, stream_summary
    from workbench.training.trainer import fit

    recipe = name if isinstance(name, Recipe) else get_recipe(name)
    out, data_dir = Path(out_dir), Path(data_dir)
    changes = {"device": device, "max_steps": max_steps}
    if num_workers is not None:
        changes["num_workers"] = num_workers
    cfg = dataclasses.replace(recipe.train, **changes)
    if threads:
        torch.set_num_threads(threads)
    dev = resolve_device(cfg.device, 0)
    roots = {what: ensure_cohort(spec, data_dir) for what, spec in (("validation", recipe.val), ("held-out", recipe.test))}
    check_disjoint(recipe.stream, {f"{what} cohort {root}": cohort_subjects(root) for what, (root, _) in roots.items()})

    torch.manual_seed(cfg.seed)
    overrides = {**recipe.overrides, **({"img_size": recipe.img_size} if recipe.img_size else {})}
    model = create_model(recipe.preset, task=recipe.task, **recipe.inputs, **overrides)
    if recipe.init:
        _start_from(model, recipe.init)
    mcfg = model.workbench_config
    recipe_input = {"size": mcfg.arch.img_size, **mcfg.input_kwargs()}
    stream = SyntheticStream(recipe.stream, cache_dir=data_dir / "shards" if recipe.shard_cache else None, **recipe_input)
    datasets = {what: SliceDataset(frame, root, brain_mask=False, **recipe_input) for what, (root, frame) in roots.items()}
    val = CachedImages(datasets["validation"], desc="caching validation")
    test = CachedImages(datasets["held-out"], desc="caching held-out", keys=("image", "labels", "mask"))
    *pixels, contrast = lesion_strata(datasets["held-out"], test.data["mask"])  # masks decoded once, with the images
    precision = resolve_precision(cfg.precision, dev)
    heldout_rows: list[dict] = []
    if resume and (out / "heldout.csv").is_file():
        heldout_rows = pd.read_csv(out / "heldout.csv").to_dict("records")

    def record_heldout(epoch: int, row: dict) -> None:
        rep = heldout_report(model, test, recipe.task, mcfg.class_names, pixels, precision, dev, contrast)
        heldout_rows.append({"epoch": epoch + 1, "step": row["step"], "val_auc": row.get("val_auc_any", row.get("val_auc")),
                             "heldout_auc": rep["auc_any"], "heldout_auc_ge100px": rep["by_source_px"][">=100"]["auc"]})
        write_csv_atomic(out / "heldout.csv", pd.DataFrame(heldout_rows))

    held_root = roots["held-out"][0]
    if resume:
        check_same_recipe(out, recipe)  # before run.json is rewritten with this recipe
    run_info = {"recipe": recipe.to_dict(), "device": str(dev), "precision": precision,
                "validation_cohort": str(roots["validation"][0]), "heldout_cohort": str(held_root),
                "manifest": str(held_root.parent / "manifest.csv"), "root": str(held_root),  # the explorer's default data
                "command": command or _default_command(recipe, out)}
    write_json_atomic(out / "run.json", run_info)
    result = fit(model, stream, val, cfg, out, resume=resume, device=dev, on_epoch_end=record_heldout)
    seconds = sum(float(row.get("seconds", 0.0)) for row in result.history)  # all sessions of a resumed run
    best = load_model(out / "best", device=dev)
    report = heldout_report(best, test, recipe.task, mcfg.class_names, pixels, precision, dev, contrast,
                            subjects=datasets["held-out"].frame["subject_id"].to_numpy())
    best_row = result.history[result.best_epoch - 1] if result.best_epoch > 0 else {}
    record = {
        "name": recipe.name, "task": recipe.task, "command": command or _default_command(recipe, out),
        "git_commit": git_commit(), "recipe": recipe.to_dict(), "training_stream": stream_summary(stream, result.steps),
        "validation_cohort": recipe.val.to_dict(), "heldout_cohort": recipe.test.to_dict(),
        "steps": result.steps, "best_epoch": result.best_epoch, "best_step": best_row.get("step"),
        "best_val_auc": best_row.get("val_auc_any", best_row.get("val_auc")), "train_seconds": round(seconds, 1),
        "machine": machine_description(dev), "precision": precision, "heldout": report,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    write_json_atomic(out / "reference.json", json.loads(json.dumps(record, default=_plain)))
    return record


def check_same_recipe(out: str | Path, recipe: Recipe) -> None:
    """Refuse to resume (or re-report) the run in ``out`` for another recipe: every field its ``run.json``
    records, but the free-text ``note``, must equal ``recipe``'s (a field the record predates is not
    compared). The trainer's own resume check sees the schedule only, not the stream or the start.
    Raises ValueError naming the folder and each difference; no ``run.json``: nothing to check."""
    path = Path(out) / "run.json"
    if not path.is_file():
        return
    had = {"inputs": {}, **json.loads(path.read_text())["recipe"]}  # no inputs recorded: a single-slice input
    want = {"inputs": {}, **json.loads(json.dumps(recipe.to_dict(), default=_plain))}  # as recorded: tuples are lists
    diff = [f"{key} {had[key]!r} -> {want[key]!r}" for key in want if key != "note" and key in had and had[key] != want[key]]
    if diff:
        raise ValueError(f"{out}: holds a run of another recipe; changed: " + "; ".join(diff))


def _start_from(model: torch.nn.Module, source: str) -> None:
    """Copy the weights of ``source`` (reference name or checkpoint stem) into ``model``: the same task,
    input recipe and parameter shapes (a change without parameters, such as the pooling, is allowed; a
    single-slice ``source`` of a 2.5D ``model`` is inflated first, :func:`~workbench.models.inflate.inflate_to_stack`)."""
    from workbench.models.checkpoint import load_model
    from workbench.models.inflate import inflate_to_stack

    src = load_model(source)
    if model.workbench_config.adjacent_slices and not src.workbench_config.adjacent_slices:
        src = inflate_to_stack(src, model.workbench_config.adjacent_slices, model.workbench_config.adjacent_mm)
    mine, theirs = model.workbench_config, src.workbench_config
    ours, others = model.state_dict(), src.state_dict()
    problems = [f"{what} {other} (recipe: {own})" for what, own, other in
                (("task", mine.task, theirs.task), ("input recipe", mine.input_kwargs(), theirs.input_kwargs()))
                if own != other]
    shapes = {k: tuple(v.shape) for k, v in ours.items()}, {k: tuple(v.shape) for k, v in others.items()}
    bad = sorted(k for k in set(shapes[0]) | set(shapes[1]) if shapes[0].get(k) != shapes[1].get(k))
    if bad:
        problems.append(f"parameters: {len(bad)} of other names or shapes, e.g. {bad[0]}")
    if problems:
        raise ValueError(f"init {source!r} differs from the recipe's model: " + "; ".join(problems))
    model.load_state_dict(others)


def _default_command(recipe: Recipe, out: Path) -> str:
    return f"workbench train --recipe {recipe.name} --out {out}"


def _plain(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
