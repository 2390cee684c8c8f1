"""``workbench explain``: run a trained classifier over any manifest and export, per subject and method,
a map volume and a thresholded mask volume over the original scan, plus CSV tables.

Outputs in ``out``::

    export_config.yaml                       the ExportConfig
    maps/<volume_id>_<method>_map.nii.gz     float32 map in [0, 1] (min-max per slice after the brain mask)
    maps/<volume_id>_<method>_mask.nii.gz    uint8 0/1: map > threshold, on slices with P(ICH) >= gate
                                             (with ``min_component_ml``: 3D components of at least that
                                             volume, 26-connected across slices; off by default)
    probabilities.csv                        per slice: subject_id, volume_id, slice_index, prob,
                                             prob_context (P(ICH) with scan context, when the checkpoint
                                             carries a context head: workbench.models.context),
                                             and per method pred_voxels_<m>, detected_<m>
    volumes.csv                              per volume and method: threshold, gate (and where each came
                                             from: given / calibrated / released constant), the P(ICH)
                                             the gate read (gate_probability: context / slice), voxels,
                                             volume_ml

Defaults for a user's own scans: a checkpoint whose provenance carries ``explain_defaults`` (the
shipped reference classifiers do: chosen on their validation subjects,
:mod:`workbench.evaluation.calibration`) gets its calibrated gate and thresholds, so slices the
classifier calls clean get empty masks and volumes mean something; ``--gate 0`` turns gating off.

Maps are computed at the model input (S, S), brought back to the source slice size by undoing the
centre crop (zeros outside the model's field of view) and the resize (bilinear), then thresholded
at the source resolution; volumes in mL use the source voxel spacing.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from workbench.data.dataset import RESIZE_FACTOR, SliceDataset, crop_geometry
from workbench.data.manifest import read_manifest
from workbench.evaluation.aggregate import lesion_volume_ml
from workbench.evaluation.components import remove_small_components
from workbench.evaluation.detection import MIN_LESION_PIXELS
from workbench.evaluation.gating import GATE_PROBABILITIES
from workbench.evaluation.maps import weak_maps
from workbench.evaluation.resample import uncrop
from workbench.evaluation.source_volume import source_display_shape, write_source_volume
from workbench.evaluation.thresholds import FIXED_THRESHOLDS
from workbench.models.checkpoint import load_model
from workbench.models.context import CONTEXT_SLICE_MM, SLICE_MM_TOLERANCE, frame_context_probabilities, load_context
from workbench.models.reference import explain_defaults, phantom_only
from workbench.operators.registry import REGISTRY
from workbench.utils.config import JsonConfig
from workbench.utils.devices import DEVICES, resolve_device
from workbench.utils.errors import DataError, check_choice
from workbench.utils.io import write_csv_atomic
from workbench.utils.progress import progress

__all__ = ["ExportConfig", "ExportResult", "default_threshold", "volume_maps", "export_explanations"]


@dataclass(frozen=True)
class ExportConfig(JsonConfig):
    """checkpoint: classifier stem or run folder; methods: explanation operators; threshold: one
    value for every method, or per method in ``thresholds`` ((method, value) pairs); a method with
    neither gets the released constant (:func:`default_threshold`). size 0: the model's input size."""

    checkpoint: str
    manifest: str
    root: str
    out: str
    methods: tuple[str, ...] = ("hgi_sam",)
    threshold: float | None = None
    thresholds: tuple[tuple[str, float], ...] = ()
    size: int = 0
    batch_size: int = 16
    brain_mask: bool = True
    resize_factor: float = RESIZE_FACTOR
    min_pixels: int = MIN_LESION_PIXELS
    gate: float | None = None
    gate_probability: str = "slice"
    min_component_ml: float = 0.0
    device: str = "auto"

    def __post_init__(self):
        if not self.methods:
            raise ValueError(f"no methods given; valid choices: {', '.join(sorted(REGISTRY))}")
        for m in (*self.methods, *(k for k, _ in self.thresholds)):
            check_choice("explanation method", m, sorted(REGISTRY))
        check_choice("device", self.device, DEVICES)
        check_choice("gate probability", self.gate_probability, GATE_PROBABILITIES)
        if self.gate is not None and not 0.0 <= self.gate <= 1.0:
            raise ValueError(f"gate {self.gate!r} is not a probability in [0, 1] (0: no gating)")
        if not self.min_component_ml >= 0.0:
            raise ValueError(f"min_component_ml {self.min_component_ml!r} must be >= 0 (0: keep every component)")


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    files: tuple[Path, ...]
    probabilities: pd.DataFrame
    volumes: pd.DataFrame


def default_threshold(method: str, task: str) -> float | None:
    """Released constant of ``method`` for a ``task`` classifier (Swin-SAM: binary 0.07, multilabel 0.11)."""
    key = {"swin_sam": f"swin_sam_{task}"}.get(method, method)
    return FIXED_THRESHOLDS.get(key)


def _settings(cfg: ExportConfig, task: str, has_context: bool) -> dict[str, dict]:
    """Per method: threshold and gate, and where each came from. Thresholds: ``METHOD=VALUE`` >
    ``VALUE`` > the checkpoint's calibrated one (``explain_defaults`` in its provenance) > the
    released constant. Gate: ``cfg.gate`` > the calibrated one > 0 (no gating). The probability the
    gate reads: a calibrated gate's own (``gate_probability`` of the defaults; ``slice`` in records that
    predate it), else ``cfg.gate_probability``; ``context`` needs the checkpoint's context head."""
    given = dict(cfg.thresholds)
    defaults = explain_defaults(cfg.checkpoint) or {}
    calibrated = defaults.get("methods", {})
    out = {}
    for m in cfg.methods:
        cal = calibrated.get(m, {})
        for value, source in ((given.get(m), "given"), (cfg.threshold, "given"), (cal.get("threshold"), "calibrated"),
                              (default_threshold(m, task), "released constant")):
            if value is not None:
                break
        else:
            raise ValueError(f"no threshold for {m!r}: the checkpoint carries no calibrated one and only "
                             f"{', '.join(FIXED_THRESHOLDS)} have released constants; give --threshold VALUE or "
                             f"METHOD=VALUE (e.g. from a protocol's folds.csv)")
        gate, gate_source = ((cfg.gate, "given") if cfg.gate is not None else
                             (cal["gate"], "calibrated") if "gate" in cal else (0.0, "none"))
        reads = defaults.get("gate_probability", "slice") if gate_source == "calibrated" else cfg.gate_probability
        out[m] = {"threshold": float(value), "threshold_source": source, "gate": float(gate), "gate_source": gate_source,
                  "gate_probability": reads if has_context else "slice"}
    return out


def volume_maps(model: torch.nn.Module, rows: pd.DataFrame, cfg: ExportConfig,
                size: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Model-space maps {method: (n, S, S)} and P(ICH) (n,) of the slices ``rows`` of one volume."""
    ds = SliceDataset(rows, cfg.root, size=size, brain_mask=cfg.brain_mask, resize_factor=cfg.resize_factor,
                      **model.workbench_config.input_kwargs())
    variants = {m: (m, {}) for m in cfg.methods}
    maps: dict[str, list[torch.Tensor]] = {m: [] for m in cfg.methods}
    probs = []
    for idx in torch.arange(len(ds)).split(cfg.batch_size):
        items = [ds[int(i)] for i in idx]
        device = next(model.parameters()).device
        images = torch.stack([it["image"] for it in items]).to(device)
        brain = torch.stack([it["brain_mask"] for it in items]).to(device) if cfg.brain_mask else None
        batch, prob = weak_maps(model, images, brain, variants)
        for m in cfg.methods:
            maps[m].append(batch[m].detach().cpu())
        probs.append(prob.cpu())
    return {m: torch.cat(v) for m, v in maps.items()}, torch.cat(probs)


def _to_source(maps: torch.Tensor, rows: pd.DataFrame, shape: tuple[int, int, int], size: int,
               resize_factor: float) -> np.ndarray:
    """(n, S, S) model-space maps of slices ``rows["slice_index"]`` -> (Z, H, W) display volume (zeros elsewhere)."""
    geo = crop_geometry(shape[1], shape[2], size, resize_factor)
    out = np.zeros(shape, dtype=np.float32)
    out[rows["slice_index"].to_numpy()] = uncrop(maps, geo).clamp_(0, 1).numpy()
    return out


def export_explanations(cfg: ExportConfig) -> ExportResult:
    """Export maps, masks and tables of every volume of ``cfg.manifest`` (see module docstring)."""
    model = load_model(cfg.checkpoint, resolve_device(cfg.device))
    task = model.workbench_config.task
    head = load_context(cfg.checkpoint)
    settings = _settings(cfg, task, head is not None)
    size = cfg.size or model.workbench_config.arch.img_size
    frame = read_manifest(cfg.manifest)
    real = sorted(set(frame["dataset"]) - {"synthetic"})
    if real and phantom_only(cfg.checkpoint):
        print(f"{cfg.checkpoint}: trained on synthetic phantoms only; on a real head CT it calls most normal slices "
              f"hemorrhage (docs/guide/training.md, 'Real anatomy'), so on this {', '.join(real)} data its P(ICH), "
              "gated masks and volumes are not measurements (train on your own scans: workbench train --manifest ...)",
              file=sys.stderr)
    final = Path(cfg.out)
    if final.exists() and (not final.is_dir() or any(final.iterdir()) and not (final / "export_config.yaml").is_file()):
        raise DataError(final, "exists and is not an earlier `workbench explain` output; choose another --out "
                               "(an earlier export there is replaced whole)")
    out = final.with_name(f".{final.name}.partial-{os.getpid()}")  # the export appears whole or not at all
    for stale in final.parent.glob(f".{final.name}.partial-*"):  # left by a failed or killed export
        shutil.rmtree(stale, ignore_errors=True)
    cfg.save(out / "export_config.yaml")
    files, prob_rows, vol_rows = [], [], []
    for volume_id, rows in progress(frame.groupby("volume_id", sort=True), desc="volumes"):
        rows = rows.sort_values("slice_index")
        first = rows.iloc[0]
        shape = source_display_shape(first, cfg.root, int(rows["slice_index"].max()) + 1)
        maps, probs = volume_maps(model, rows.reset_index(drop=True), cfg, size)
        table = rows[["subject_id", "volume_id", "slice_index"]].assign(prob=probs.numpy())
        has_context = head is not None
        if has_context:  # the checkpoint's scan-context head: P(ICH) read with the neighbouring slices
            table["prob_context"] = frame_context_probabilities(head, probs.double().numpy(), rows)
            has_context = bool(table["prob_context"].notna().all())
            if not has_context:
                print(f"{volume_id}: slice spacing {float(first['spacing_slice']):g} mm is more than "
                      f"{SLICE_MM_TOLERANCE:g} mm off the context head's {CONTEXT_SLICE_MM:g} mm: no prob_context, "
                      "gates read the slice's own P(ICH)", file=sys.stderr)
        spacing = (float(first["spacing_row"]), float(first["spacing_col"]), float(first["spacing_slice"]))
        for m in cfg.methods:
            display = _to_source(maps[m], rows, shape, size, cfg.resize_factor)
            mask = display > settings[m]["threshold"]
            reads = settings[m]["gate_probability"] if has_context else "slice"
            gate_on = table["prob_context"].to_numpy() if reads == "context" else probs.numpy()
            below = rows["slice_index"].to_numpy()[gate_on < settings[m]["gate"]]
            mask[below] = False  # gated: a slice the classifier calls clean gets an empty mask
            if cfg.min_component_ml > 0:  # 3D: drop connected components smaller than min_component_ml
                voxel_ml = float(lesion_volume_ml(torch.tensor([1]), spacing)[0])
                mask = remove_small_components(torch.from_numpy(mask), voxel_ml, cfg.min_component_ml).numpy()
            stem = out / "maps" / f"{volume_id}_{m}"
            files.append(write_source_volume(f"{stem}_map.nii.gz", display, first, cfg.root, np.float32))
            files.append(write_source_volume(f"{stem}_mask.nii.gz", mask.astype(np.uint8), first, cfg.root, np.uint8))
            per_slice = mask.reshape(shape[0], -1).sum(1)[rows["slice_index"].to_numpy()]
            table[f"pred_voxels_{m}"] = per_slice
            table[f"detected_{m}"] = per_slice > cfg.min_pixels
            voxels = int(mask.sum())
            vol_rows.append({"subject_id": first["subject_id"], "volume_id": volume_id, "method": m,
                             **settings[m], "gate_probability": reads, "min_component_ml": cfg.min_component_ml, "voxels": voxels,
                             "volume_ml": float(lesion_volume_ml(torch.tensor([voxels]), spacing)[0])})
        prob_rows.append(table)
    probabilities = pd.concat(prob_rows, ignore_index=True)
    volumes = pd.DataFrame(vol_rows)
    write_csv_atomic(out / "probabilities.csv", probabilities)
    write_csv_atomic(out / "volumes.csv", volumes)
    _replace_folder(out, final)
    return ExportResult(final, tuple(final / Path(f).relative_to(out) for f in files), probabilities, volumes)


def _replace_folder(new: Path, dest: Path) -> None:
    """Put the finished folder ``new`` at ``dest``; an older export there is replaced whole, never mixed."""
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    if dest.exists():
        os.replace(dest, old)
    os.replace(new, dest)
    shutil.rmtree(old, ignore_errors=True)
