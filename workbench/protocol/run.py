"""The paper's study in one call: :func:`run_protocol` (``workbench evaluate --config F``).

Protocol (HGI-SAM paper, MELBA 2023, sections 3-4; docs/guide/protocol.md): K subject-wise folds of the evaluation
manifest; weak methods read one classifier for all folds (trained on a separate cohort); the
U-Net / SwinUNETR baselines are trained per test fold on the other folds' masks; every map is
scored at every grid threshold once; thresholds are chosen per test fold on the OTHER folds only
(``nested``) or are the released constants (``fixed``); baselines use a fixed 0.5.

Resumable: each (fold, method) writes ``cache/fold{k}/{method}.safetensors`` (per-slice statistics)
and ``.json`` (signature of the settings, timing) atomically; a rerun skips every pair whose
signature matches, and the baselines resume their own run folders. Outputs: see
:mod:`workbench.protocol.tables` and docs/guide/protocol.md.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from workbench.baselines import BaselineTrainConfig, load_baseline, train_baseline
from workbench.baselines.inference import baseline_maps
from workbench.data.dataset import PLAIN_INPUT, SliceDataset
from workbench.data.manifest import read_manifest
from workbench.evaluation.maps import STAT_KEYS, score_maps, weak_maps
from workbench.models.checkpoint import checkpoint_paths, load_model, load_tensors, save_tensors
from workbench.operators import upsample
from workbench.protocol.config import ProtocolConfig, load_protocol_config, method_spec
from workbench.protocol.tables import TABLES, build_tables, read_tables, protocol_grid, write_tables
from workbench.training.cache import CachedImages
from workbench.training.state import holds_run
from workbench.utils.devices import resolve_device
from workbench.utils.errors import DataError, check_choice
from workbench.utils.fingerprint import files_fingerprint, weights_fingerprint
from workbench.utils.io import write_json_atomic
from workbench.utils.processes import folder_lock
from workbench.utils.progress import progress

__all__ = ["ProtocolResult", "run_protocol", "load_protocol", "method_statistics", "rebuild_tables"]


@dataclass(frozen=True)
class ProtocolResult:
    """Tables of a study (pandas frames, formats in docs/guide/protocol.md) and what this run computed.

    computed: ``"fold{k}/{method}"`` pairs computed by this call (empty when everything came from
    the cache or from :func:`load_protocol`); timing: per (fold, method) seconds and slice counts.
    """

    config: ProtocolConfig
    out_dir: Path
    slices: pd.DataFrame
    folds: pd.DataFrame
    summary: pd.DataFrame
    curves: pd.DataFrame
    timing: pd.DataFrame
    computed: tuple[str, ...] = field(default_factory=tuple)


def _checkpoint_stem(stem: str) -> Path:
    p = Path(stem)
    return p / "best" if p.is_dir() else p


def _fold_fingerprints(cfg: ProtocolConfig, frame: pd.DataFrame, folds: list[int]) -> dict[int, str]:
    """Per fold: a fingerprint of its manifest rows and of every scan / mask / label file they read, so a
    fold's cache is reused by any run that includes it (a fold subset first, all folds later)."""
    root, out = Path(cfg.root), {}
    for k in folds:
        rows = frame[frame["fold"] == k]
        paths = [root / p for col in ("image_path", "mask_path", "label_path") if col in rows
                 for p in rows[col].dropna().astype(str).unique() if p]
        rows_digest = hashlib.sha256(rows.to_csv().encode()).hexdigest()[:16]
        out[k] = f"{rows_digest}:{files_fingerprint(paths)[:32]}"
    return out


def _signature(cfg: ProtocolConfig, method: str, grid: torch.Tensor, data: str = "") -> str:
    """Everything a method's cached statistics depend on, as a JSON string: settings, the data's and the
    checkpoint's content fingerprints (:mod:`workbench.utils.fingerprint`; ``data``: the fold's)."""
    spec = method_spec(method)
    sig = {"manifest": cfg.manifest, "root": cfg.root, "data": data, "size": cfg.size, "brain_mask": cfg.brain_mask,
           "min_pixels": cfg.min_pixels, "grid": [round(float(t), 6) for t in grid], "operator": spec.operator,
           "options": dict(spec.options)}
    if spec.model == "baseline":
        sig.update({k: getattr(cfg, k) for k in ("baseline_max_steps", "baseline_batch_size", "baseline_patience",
                                                 "baseline_preset", "seed")})
        sig["baseline_epochs"] = cfg.epochs_of(method)
        if cfg.baseline_precision != "fp32":  # absent by default, so studies cached before it stay valid
            sig["baseline_precision"] = cfg.baseline_precision
    else:
        weights = checkpoint_paths(_checkpoint_stem(getattr(cfg, f"{spec.model}_checkpoint")))[0]
        sig.update({"checkpoint": str(weights), "weights": weights_fingerprint(weights) if weights.is_file() else None})
    return json.dumps(sig, sort_keys=True)


def _cache_paths(out: Path, fold: int, method: str) -> tuple[Path, Path]:
    base = out / "cache" / f"fold{fold}" / method
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def _is_cached(out: Path, fold: int, method: str, signature: str) -> bool:
    tensors, meta = _cache_paths(out, fold, method)
    return tensors.is_file() and meta.is_file() and json.loads(meta.read_text()).get("signature") == signature


def _baseline_model(cfg: ProtocolConfig, name: str, fold: int, out: Path) -> torch.nn.Module:
    """The baseline of test fold ``fold``: loaded when its run finished, else trained (or resumed)."""
    run_dir = out / "baselines" / name / f"fold{fold}"
    tcfg = BaselineTrainConfig(model=name, preset=cfg.baseline_preset, batch_size=cfg.baseline_batch_size,
                               patience=cfg.baseline_patience, max_steps=cfg.baseline_max_steps, size=cfg.size,
                               epochs=cfg.epochs_of(name), threshold=cfg.baseline_threshold, min_pixels=cfg.min_pixels,
                               seed=cfg.seed, device=resolve_device(cfg.device).type, precision=cfg.baseline_precision)
    if (run_dir / "done.json").is_file():
        done = json.loads((run_dir / "done.json").read_text())
        done_cfg = BaselineTrainConfig.from_dict(done.get("config", {})).to_dict()  # older runs: defaults filled
        if json.loads(json.dumps(done_cfg)) != json.loads(json.dumps(tcfg.to_dict())):
            raise ValueError(f"{run_dir} holds a finished baseline trained with other settings; delete the folder "
                             f"to retrain it with the current config")
        return load_baseline(run_dir / ("best" if (run_dir / "best.json").is_file() else "last"),
                             resolve_device(cfg.device))
    t0 = time.perf_counter()
    result = train_baseline(cfg.manifest, cfg.root, name, fold, run_dir, epochs=tcfg.epochs, size=cfg.size,
                            config=tcfg, resume=holds_run(run_dir))
    write_json_atomic(run_dir / "done.json", {"seconds": time.perf_counter() - t0, "best_epoch": result.best_epoch,
                                              "epochs_run": result.epochs_run, "val_fold": result.split.val_fold,
                                              "config": json.loads(json.dumps(tcfg.to_dict()))})
    return result.model


def _run_group(cfg: ProtocolConfig, model: torch.nn.Module, methods: list[str], data: CachedImages,
               grid: torch.Tensor, desc: str, scored: CachedImages | None = None) -> dict[str, dict[str, torch.Tensor]]:
    """Statistics {method: {key: (M, ...)}} of ``methods`` (all of one model) over ``data`` (the
    model's own input). ``scored``: the same slices at the protocol's ``size`` when the model's input
    size differs; its maps are then resampled (bilinear) to that size and scored on its masks, so
    every method is measured at one resolution."""
    parts: dict[str, list[dict[str, torch.Tensor]]] = {m: [] for m in methods}
    n = len(data)
    device = next(model.parameters()).device
    for idx in progress(torch.arange(n).split(cfg.batch_size), desc=desc, leave=False):
        images = data.data["image"][idx].to(device).float().div_(255.0)
        masks = (scored or data).data["mask"][idx].to(device)
        brain = data.data["brain_mask"][idx].to(device).float() if cfg.brain_mask else None
        if method_spec(methods[0]).model == "baseline":
            maps, prob = {methods[0]: baseline_maps(model, images, brain)}, None
        else:
            maps, prob = weak_maps(model, images, brain, {m: method_spec(m).variant for m in methods})
        for m in methods:
            heat = upsample(maps[m].detach(), tuple(masks.shape[-2:])).clamp_(0.0, 1.0)
            stats = score_maps(heat, masks, grid.to(device), cfg.min_pixels, prob)
            parts[m].append({k: v.cpu() for k, v in stats.items()})
    return {m: {k: torch.cat([p[k] for p in parts[m]]) for k in STAT_KEYS} for m in methods}


def _groups(methods: list[str]) -> list[tuple[str, list[str]]]:
    """(model, methods): one group per classifier (one pass serves all its methods), one per baseline."""
    out: list[tuple[str, list[str]]] = []
    for task in ("binary", "multilabel"):
        names = [m for m in methods if method_spec(m).model == task]
        if names:
            out.append((task, names))
    return out + [(m, [m]) for m in methods if method_spec(m).model == "baseline"]


def _evaluation_frame(cfg: ProtocolConfig) -> tuple[pd.DataFrame, list[int]]:
    frame = read_manifest(cfg.manifest)
    present = sorted(int(f) for f in frame["fold"].unique())
    folds = list(cfg.folds) or present
    bad = [k for k in folds if k not in present]
    if bad or len(folds) < 2:
        raise DataError(cfg.manifest, f"folds {bad or folds} cannot be evaluated; folds present: {present} (need >= 2)")
    frame = frame[frame["fold"].isin(folds)]  # the index keeps the manifest row numbers (cache "row")
    no_mask = int((frame["has_mask"] == 0).sum())
    if no_mask:
        raise DataError(cfg.manifest, f"{no_mask} rows have has_mask = 0; the study scores segmentations against "
                                      "voxel masks, so evaluate a manifest whose rows all have masks")
    return frame, folds


def _input_key(inputs: dict) -> str:
    """Identity of an input recipe (``ModelConfig.input_kwargs()``); the margin counts only when stripping."""
    return json.dumps({**inputs, "input_margin_mm": inputs["input_margin_mm"] if inputs["input_mask"] != "none"
                       else None}, sort_keys=True)


def run_protocol(config: ProtocolConfig | str | Path) -> ProtocolResult:
    """Run (or resume) the study of ``config`` (a :class:`ProtocolConfig` or a YAML path); see module doc."""
    cfg = (config if isinstance(config, ProtocolConfig) else load_protocol_config(config)).resolved()
    out = Path(cfg.output)
    with folder_lock(out, what="evaluation study"):  # two runs would write the same cache and tables
        return _run_locked(cfg, out)


def _run_locked(cfg: ProtocolConfig, out: Path) -> ProtocolResult:
    cfg.save(out / "config.yaml")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    frame, folds = _evaluation_frame(cfg)
    grid = protocol_grid(cfg)
    for task in ("binary", "multilabel"):  # fail before any work on a missing checkpoint
        if cfg.uses(task):
            weights, config_path = checkpoint_paths(_checkpoint_stem(getattr(cfg, f"{task}_checkpoint")))
            for p in (weights, config_path):
                if not p.is_file():
                    raise FileNotFoundError(f"{p}: {task} classifier checkpoint not found ({task}_checkpoint)")
    data = _fold_fingerprints(cfg, frame, folds)
    signatures = {(k, m): _signature(cfg, m, grid, data[k]) for k in folds for m in cfg.methods}
    computed: list[str] = []
    classifiers: dict[str, torch.nn.Module] = {}
    for k in progress(folds, desc="folds"):
        todo = [m for m in cfg.methods if not _is_cached(out, k, m, signatures[k, m])]
        if not todo:
            continue
        rows = frame.index[frame["fold"] == k].to_numpy()  # manifest row numbers
        fold_data: dict[str, CachedImages] = {}  # one decode per input recipe (windows, skull-stripping)
        for group, names in _groups(todo):
            extra = {}
            if group in ("binary", "multilabel"):
                if group not in classifiers:
                    classifiers[group] = load_model(_checkpoint_stem(getattr(cfg, f"{group}_checkpoint")),
                                                    resolve_device(cfg.device))
                model = classifiers[group]
                inputs = {"size": model.workbench_config.arch.img_size, **model.workbench_config.input_kwargs()}
            else:
                t_train = time.perf_counter()
                model = _baseline_model(cfg, group, k, out)
                extra["train_seconds"] = time.perf_counter() - t_train
                inputs = {"size": cfg.size, **PLAIN_INPUT}  # the baselines train on SliceDataset's default input
            score_recipe = {"size": cfg.size, **PLAIN_INPUT}  # masks at the protocol's size (any windows)
            for recipe in (inputs, score_recipe) if inputs["size"] != cfg.size else (inputs,):
                key = _input_key(recipe)
                if key not in fold_data:
                    fold_data[key] = CachedImages(
                        SliceDataset(frame.loc[rows], cfg.root, brain_mask=cfg.brain_mask, **recipe),
                        desc=f"fold {k}: loading", keys=("image", "mask", "brain_mask"))
            data = fold_data[_input_key(inputs)]
            scored = None if inputs["size"] == cfg.size else fold_data[_input_key(score_recipe)]
            t0 = time.perf_counter()
            stats = _run_group(cfg, model, names, data, grid, desc=f"fold {k}: {group}", scored=scored)
            seconds = time.perf_counter() - t0
            for m in names:
                tensors_path, meta_path = _cache_paths(out, k, m)
                save_tensors(tensors_path, {**stats[m], "row": torch.from_numpy(rows.copy())})
                write_json_atomic(meta_path, {"signature": signatures[k, m], "fold": k, "method": m, "group": group,
                                              "slices": len(rows), "seconds": seconds / len(names),
                                              "group_seconds": seconds, **extra})
                computed.append(f"fold{k}/{m}")
    stats = {m: _load_method(out, folds, m) for m in cfg.methods}
    tables = build_tables(cfg, frame, grid, stats)
    tables["timing"] = _timing(out, folds, cfg.methods)
    write_tables(out, tables)
    return ProtocolResult(cfg, out, *(tables[t] for t in TABLES), computed=tuple(computed))


def _load_method(out: Path, folds: list[int], method: str) -> dict[str, torch.Tensor]:
    """One method's statistics over all folds, concatenated; ``row`` is the manifest row number."""
    parts = [load_tensors(_cache_paths(out, k, method)[0]) for k in folds]
    return {key: torch.cat([p[key] for p in parts]) for key in parts[0]}


def method_statistics(out_dir: str | Path, method: str) -> dict[str, torch.Tensor]:
    """A finished study's per-slice statistics of ``method`` over all folds (the cache): ``inter`` /
    ``pred_n`` (M, Q) at the protocol grid, ``target_n``, ``prob``, ``row`` (manifest row) (M,)..., plus
    ``prob_context`` and ``gate_prob`` (the P(ICH) its gates read; :func:`~workbench.protocol.tables.with_context`)."""
    from workbench.protocol.tables import context_head, with_context

    study = load_protocol(out_dir)
    cfg = study.config
    check_choice("study method", method, tuple(cfg.methods))
    stats = _load_method(Path(out_dir), sorted(int(k) for k in study.folds["fold"].unique()), method)
    return with_context(cfg, _evaluation_frame(cfg)[0], method, stats, context_head(cfg, method_spec(method).model))


def rebuild_tables(out_dir: str | Path, **changes) -> dict[str, pd.DataFrame]:
    """A finished study's slices / folds / curves / summary tables rebuilt from its cache with config
    ``changes`` that act on the tables only (e.g. ``gate_probability="slice"``); nothing is written.
    For ablations of table-level settings without recomputing a map."""
    import dataclasses

    study = load_protocol(out_dir)
    cfg = dataclasses.replace(study.config, **changes)
    frame, folds = _evaluation_frame(cfg)
    stats = {m: _load_method(Path(out_dir), folds, m) for m in cfg.methods}
    return build_tables(cfg, frame, protocol_grid(cfg), stats)


def _timing(out: Path, folds: list[int], methods: tuple[str, ...]) -> pd.DataFrame:
    rows = [json.loads(_cache_paths(out, k, m)[1].read_text()) for k in folds for m in methods]
    return pd.DataFrame([{k: v for k, v in r.items() if k != "signature"} for r in rows])


def load_protocol(out_dir: str | Path) -> ProtocolResult:
    """Read a finished study's tables and config from ``out_dir`` (no computation)."""
    out = Path(out_dir)
    if not (out / "config.yaml").is_file():
        raise FileNotFoundError(f"{out / 'config.yaml'}: not a study output folder (run `workbench evaluate` first)")
    cfg = load_protocol_config(out / "config.yaml")
    return ProtocolResult(cfg, out, *(read_tables(out)[t] for t in TABLES))
