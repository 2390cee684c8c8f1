"""The demo's steps, each skipped when ``demo.json`` says it finished with the same settings.

Output layout (``OUT`` = ``demo_output`` for ``make demo``)::

    OUT/demo.json                      settings, step states and times, where everything is
    OUT/data/eval/physionet/           evaluation cohort (PhysioNet role): CT, masks, subtype labels
    OUT/data/eval/manifest.csv         ... with subject-wise folds
    OUT/data/train/physionet/          training cohort (RSNA role, another seed): labels used only
    OUT/data/train/manifest.csv
    OUT/models/binary/                 `workbench train` run folders (best.safetensors, metrics.csv)
    OUT/models/multilabel/
    OUT/evaluation/                    comparison study of the methods (slices.csv, summary.csv, ...)
    OUT/studies/<name>/runs/<run_id>/  executed notebooks (papermill) with their recorded results
    OUT/studies/<name>/results.csv     one row per run
    OUT/reports/index.html             offline HTML reports of every executed notebook

Steps: ``data`` -> ``train`` (binary, multilabel) -> ``evaluate`` -> ``studies`` -> ``reports``. With the default
``classifiers="reference"`` the ``train`` step copies the shipped reference classifiers (and their
``best.provenance.json`` and scan-context head) into ``OUT/models/<task>/`` and no training cohort is written.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from workbench.demo.settings import DemoSettings, step_settings
from workbench.explore.run import DEMO_FILE
from workbench.utils.io import write_json_atomic
from workbench.utils.processes import die_with_parent
from workbench.utils.errors import check_choice

__all__ = ["STEPS", "TASKS", "STUDIES", "repo_dir", "run_demo", "read_state"]

TASKS = ("binary", "multilabel")
STUDIES = ("explore", "compare", "learning", "ablations")  # studies/<name>.yaml
STEPS = ("data", "train", "evaluate", "studies", "reports")


def repo_dir() -> Path:
    """The source checkout holding ``notebooks/`` and ``studies/`` (the demo runs from a clone)."""
    return Path(__file__).resolve().parents[2]


def read_state(out: Path) -> dict[str, Any]:
    path = out / DEMO_FILE
    return json.loads(path.read_text()) if path.is_file() else {"steps": {}}


def _methods_fingerprint() -> str:
    """The study's weak methods and the explain methods, as one short hash."""
    from workbench.api import DEFAULT_METHODS
    from workbench.protocol.config import WEAK_METHODS

    line = f"study: {', '.join(WEAK_METHODS)}; explain: {', '.join(DEFAULT_METHODS)}"
    return hashlib.sha256(line.encode()).hexdigest()[:16]


def _notebooks_fingerprint(root: Path | None = None) -> str:
    """The demo's notebooks and study grids (``notebooks/*.ipynb``, ``studies/*.yaml`` of the checkout), as
    one short hash of what they run and say: each cell's type and source, not its outputs or metadata, so
    saving a notebook after running it in JupyterLab changes nothing, and editing a cell redoes the studies."""
    root = repo_dir() if root is None else root
    digest = hashlib.sha256()
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text()).get("cells", [])
        digest.update(path.name.encode())
        for cell in cells:
            source = cell.get("source", "")
            digest.update(f"{cell.get('cell_type')}\0{''.join(source) if isinstance(source, list) else source}\0".encode())
    for path in sorted((root / "studies").glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class _State:
    """``demo.json``: written atomically after every step, so an interrupted demo resumes."""

    def __init__(self, out: Path, settings: DemoSettings):
        self.out, self.settings = out, settings
        self.lock = threading.Lock()  # the two classifiers train side by side
        self.redone: set[str] = set()  # steps redone because their inputs changed (their caches are stale too)
        self._inputs: dict[str, str] | None = None  # fingerprints of the shipped classifiers, read on first use
        self.data = read_state(out)
        self.data["settings"] = settings.to_dict()

    def inputs(self, group: str) -> dict[str, str]:
        """Fingerprints of what a step builds on besides its settings: the shipped classifiers (from the
        classifier step on, with ``--classifiers reference``) and, from the comparison study on, the
        methods the study and the explain calls run; from the notebook studies on, the notebooks and grids
        (:func:`_notebooks_fingerprint`). A package update that ships new reference weights, adds a method or
        edits a notebook redoes those steps instead of showing the old results."""
        out = {"methods": _methods_fingerprint()} if group in ("evaluate", "studies", "reports") else {}
        if group in ("studies", "reports"):  # an edited notebook or grid re-runs them (saved outputs do not)
            out["notebooks"] = _notebooks_fingerprint()
        if group == "data" or self.settings.classifiers != "reference":
            return out
        return {**self._references(), **out}

    def _references(self) -> dict[str, str]:
        if self._inputs is None:
            from workbench.models.checkpoint import checkpoint_paths
            from workbench.models.context import context_path
            from workbench.models.reference import provenance_path, reference_stem
            from workbench.utils.fingerprint import weights_fingerprint

            def fingerprint(name: str) -> str:  # the weights, the architecture / input recipe, the calibrated
                weights, config = checkpoint_paths(reference_stem(name))  # defaults, the scan-context head
                files = (config, provenance_path(name), context_path(name))
                beside = b"".join(p.read_bytes() for p in files if p.is_file())
                return f"{weights_fingerprint(weights)}+{hashlib.sha256(beside).hexdigest()[:16]}"

            self._inputs = {f"reference-{t}": fingerprint(f"reference-{t}") for t in TASKS}
        return self._inputs

    def done(self, step: str, group: str) -> bool:
        record = self.data["steps"].get(step)
        if record is None or record.get("state") != "done":
            return False
        wanted = step_settings(group, self.settings)
        if record.get("settings") != wanted:
            changed = sorted(k for k in wanted if record.get("settings", {}).get(k) != wanted[k])
            raise ValueError(f"{self.out} was made with other settings ({', '.join(changed)} changed); "
                             f"use another --out or remove it (make clean-demo)")
        if record.get("inputs", {}) != self.inputs(group):
            changed = sorted(k for k, v in self.inputs(group).items() if record.get("inputs", {}).get(k) != v)
            what = ", ".join(f"shipped {k}" if k.startswith("reference-") else k for k in changed)
            print(f"  {step}: redone, the {what or 'shipped classifiers'} changed since it ran", flush=True)
            self.redone.add(step)
            return False
        return True

    def finish(self, step: str, group: str, seconds: float, **extra: Any) -> None:
        with self.lock:
            self.data["steps"][step] = {"state": "done", "settings": step_settings(group, self.settings),
                                        "inputs": self.inputs(group), "seconds": round(seconds, 1), **extra}
        self.save()

    def save(self) -> None:
        with self.lock:
            write_json_atomic(self.out / DEMO_FILE, self.data)


def _data(state: _State) -> None:
    from workbench.data.manifest import build_manifest, write_manifest, write_skipped
    from workbench.data.synth import write_cohort

    s = state.settings
    cohorts = {"eval": (s.subjects, s.size, s.seed), "train": (s.train_subjects, s.train_size, s.seed + 1)}
    if s.classifiers == "reference":  # the shipped classifiers need no training cohort
        del cohorts["train"]
    for name, (subjects, size, seed) in cohorts.items():
        folder = state.out / "data" / name
        print(f"  {name} cohort: {subjects} subjects x {s.slices} slices of {size} px (seed {seed})", flush=True)
        root = write_cohort(folder, subjects=subjects, seed=seed, size=size, n_slices=s.slices)
        frame, skipped = build_manifest("synthetic", root, n_folds=s.folds, seed=seed)
        manifest = write_manifest(frame, folder / "manifest.csv")
        write_skipped(skipped, manifest)
        state.data[name] = {"manifest": str(manifest.relative_to(state.out)), "root": str(root.relative_to(state.out)),
                            "slices": len(frame), "ich_slices": int(frame["any"].sum())}


def _interval(ci) -> str:
    """' [95 % CI low-high]' of a recorded interval, or '' when the provenance has none."""
    return f" [95 % CI {ci[0]:.3f}-{ci[1]:.3f}]" if ci else ""


def _reference(state: _State, task: str) -> None:
    """Copy the shipped ``reference-<task>`` classifier (and its scan-context head) into ``OUT/models/<task>/best.*``
    with its provenance."""
    from workbench.models.reference import copy_reference, provenance

    name = f"reference-{task}"
    run_dir = copy_reference(name, state.out / "models" / task / "best").parent
    record = provenance(name)
    held = record["heldout"]
    context = record.get("context", {}).get("scores", {}).get("heldout")
    print(f"  {task}: {name}, trained by `{record['command']}` (commit {record['git_commit'][:10]}, "
          f"{record['steps']:,} steps, {record['train_seconds'] / 3600:.1f} h on {record['machine']['cpu']}); "
          f"held-out ROC-AUC {held['auc_any']:.3f}{_interval(held.get('auc_any_ci'))} on {held['slices']} slices"
          + (f" ({context['auc_context']:.3f}{_interval(context.get('auc_context_ci'))} with its scan-context head)"
             if context else ""), flush=True)
    with state.lock:
        state.data.setdefault("models", {})[task] = str(run_dir.relative_to(state.out))
        state.data.setdefault("reference", {})[task] = {"name": name, "command": record["command"],
                                                         "git_commit": record["git_commit"],
                                                         "heldout_auc": held["auc_any"],
                                                         **({"heldout_auc_context": context["auc_context"]} if context else {})}


def _train(state: _State, task: str, threads: int) -> None:
    """``workbench train`` in a subprocess with ``threads`` torch threads (resumes an interrupted run)."""
    s, out = state.settings, state.out
    run_dir = out / "models" / task
    from workbench.training.state import holds_run

    resume = holds_run(run_dir)
    if run_dir.exists() and not resume:
        shutil.rmtree(run_dir)  # interrupted before its first checkpoint: start again
    train = state.data["train"]
    cmd = [sys.executable, "-m", "workbench", "train", "--manifest", str(out / train["manifest"]),
           "--root", str(out / train["root"]), "--task", task, "--preset", s.preset, "--out", str(run_dir),
           "--val-fold", "0", "--epochs", str(s.epochs), "--warmup-steps", str(s.warmup_steps),
           "--batch-size", str(s.batch_size), "--patience", str(s.patience), "--monitor", s.monitor,
           "--precision", s.precision, "--seed", str(s.seed), "--cache", "--threads", str(threads)]
    if s.max_steps:
        cmd += ["--max-steps", str(s.max_steps)]
    if resume:
        cmd.append("--resume")
    subprocess.run(cmd, check=True)
    with state.lock:
        state.data.setdefault("models", {})[task] = str(run_dir.relative_to(out))


def _evaluate(state: _State) -> None:
    from workbench.demo.evaluate import evaluate_demo

    evaluate_demo(state.out, state.data, state.settings)


def _study_configs(state: _State) -> list:
    from workbench.studies.config import expand_runs, load_study
    from workbench.studies.parameters import notebook_parameters

    out, s = state.out, state.settings
    overrides = {"RUN_DIR": str(out), "EVAL_DIR": str(out / "evaluation"), "INTERACTIVE": False}
    if s.max_slices:
        overrides["MAX_SLICES"] = s.max_slices
    configs = []
    for name in STUDIES:
        if name == "compare" and not (out / "evaluation" / "summary.csv").is_file():
            print("  study compare skipped: no evaluation output (step evaluate)")
            continue
        config = load_study(repo_dir() / "studies" / f"{name}.yaml", output=out / "studies" / name)
        known = notebook_parameters(config.notebook)
        params = {**config.parameters, **{k: v for k, v in overrides.items() if k in known}}
        config = dataclasses.replace(config, parameters=params, cwd=None)
        if s.study_runs:  # the first runs of the grid only, each with its full parameters
            runs = tuple(dict(spec.parameters) for spec in expand_runs(config)[: s.study_runs])
            config = dataclasses.replace(config, grid={}, runs=runs)
        configs.append(config)
    return configs


def _studies(state: _State) -> None:
    """Every study on one shared pool of ``workers`` processes (one torch thread per kernel)."""
    from workbench.studies.grid import run_study

    configs = _study_configs(state)
    os.environ.setdefault("OMP_NUM_THREADS", "1" if state.settings.workers > 1 else str(os.cpu_count() or 1))
    failed: list[str] = []
    with cf.ProcessPoolExecutor(state.settings.workers, mp_context=multiprocessing.get_context("spawn"),
                                initializer=die_with_parent) as pool, \
            cf.ThreadPoolExecutor(len(configs)) as submitters:
        force = "studies" in state.redone  # the grids' own "done" runs explained the old classifiers
        outcomes = list(submitters.map(lambda c: run_study(c, executor=pool, force=force), configs))
    for config, outcome in zip(configs, outcomes):
        print(f"  study {config.name}: {len(outcome.ran)} ran, {len(outcome.skipped)} skipped, "
              f"{len(outcome.failed)} failed -> {outcome.table_path}")
        failed += [f"{config.name}/{r}" for r in outcome.failed]
    if failed:
        raise RuntimeError(f"study runs failed: {', '.join(failed)} (see their status.json and notebooks)")


def _reports(state: _State) -> None:
    from workbench.reports import build_reports

    index = build_reports(state.out / "studies", state.out / "reports", no_input=True,
                          title="HGI-SAM workbench demo", thumbnails=True)
    state.data["report"] = str(index.relative_to(state.out))


def _timed(state: _State, step: str, group: str, label: str, fn: Callable[[], None]) -> None:
    if state.done(step, group):
        print(f"[{label}] done before, skipped", flush=True)
        return
    print(f"[{label}]", flush=True)
    t0 = time.perf_counter()
    fn()
    state.finish(step, group, time.perf_counter() - t0)
    print(f"[{label}] finished in {time.perf_counter() - t0:.0f} s", flush=True)


def run_demo(out: str | os.PathLike, settings: DemoSettings = DemoSettings(), until: str = "reports") -> dict[str, Any]:
    """Run the demo's steps up to ``until`` into ``out``; returns the final ``demo.json`` content."""
    check_choice("step", until, STEPS)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    state = _State(out, settings)
    state.save()
    todo = STEPS[: STEPS.index(until) + 1]
    t0 = time.perf_counter()
    _timed(state, "data", "data", "1/5 synthetic cohorts + manifests", lambda: _data(state))
    if "train" in todo and settings.classifiers == "reference":
        for task in TASKS:
            _timed(state, f"train:{task}", "train", f"2/5 reference {task} classifier (shipped, no training)",
                   lambda: _reference(state, task))
    elif "train" in todo:  # both classifiers side by side, the cores shared between them
        threads = max(1, (os.cpu_count() or 2) // len(TASKS))
        with cf.ThreadPoolExecutor(len(TASKS)) as pool:
            list(pool.map(lambda task: _timed(state, f"train:{task}", "train", f"2/5 train the {task} classifier "
                                              f"({settings.preset}, {threads} thread(s))",
                                              lambda: _train(state, task, threads)), TASKS))
    if "evaluate" in todo:
        _timed(state, "evaluate", "evaluate", "3/5 comparison study of the methods", lambda: _evaluate(state))
    if "studies" in todo:
        _timed(state, "studies", "studies", "4/5 notebook studies (papermill)", lambda: _studies(state))
    if "reports" in todo:
        _timed(state, "reports", "reports", "5/5 HTML reports", lambda: _reports(state))
    state.data["last_run_seconds"] = round(time.perf_counter() - t0, 1)
    state.save()
    return state.data
