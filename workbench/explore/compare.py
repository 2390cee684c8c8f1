"""Tables and galleries of 02_compare_methods from a finished comparison study.

The study (:func:`workbench.protocol.run.run_protocol`, ``load_protocol(dir)``) writes per-slice
results (``slices.csv``: method, subject / volume / slice ids, fold, dice, iou, threshold, prob,
gt_ml, pred_ml, ...); this module adds what the notebook shows on top: per-subtype Dice (joined
with the manifest's labels), per-volume hemorrhage volumes, the best / worst slices per method and
their maps (recomputed for the weak methods with the study's own settings).
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import torch

from workbench.data.dataset import SliceDataset
from workbench.data.labels import LABEL_COLUMNS
from workbench.data.manifest import read_manifest
from workbench.evaluation.maps import weak_maps
from workbench.models import load_model
from workbench.explore.panels import display_hu, model_input
from workbench.protocol.config import method_spec
from workbench.utils.errors import check_choice
from workbench.viz import Panel, windowed

__all__ = ["KEYS", "with_labels", "subtype_table", "volume_table", "extremes", "gallery_panels"]

KEYS = ("subject_id", "volume_id", "slice_index")
SUBTYPES = tuple(c for c in LABEL_COLUMNS if c != "any")


def with_labels(slices: pd.DataFrame, manifest: str) -> pd.DataFrame:
    """``slices`` with the manifest's subtype label columns joined on subject, volume and slice."""
    labels = read_manifest(manifest)[[*KEYS, *SUBTYPES]].astype({"subject_id": str, "volume_id": str})
    out = slices.astype({"subject_id": str, "volume_id": str}).merge(labels, on=list(KEYS), how="left")
    if len(out) != len(slices):
        raise ValueError(f"manifest {manifest} has duplicate (subject, volume, slice) rows")
    return out


def subtype_table(labelled: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Mean ``metric`` over lesion slices carrying each subtype: method, subtype, <metric>, sem, n."""
    rows = []
    lesion = labelled[labelled["has_lesion"].astype(bool)]
    for method, g in lesion.groupby("method", sort=False):
        for sub in SUBTYPES:
            v = g.loc[g[sub] == 1, metric].to_numpy(float)
            v = v[np.isfinite(v)]
            rows.append({"method": method, "subtype": sub, metric: float(v.mean()) if v.size else float("nan"),
                         "sem": float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan"),
                         "n": int(v.size)})
    return pd.DataFrame(rows)


def volume_table(slices: pd.DataFrame) -> pd.DataFrame:
    """Hemorrhage volume per method and scan: method, volume_id, true_ml, pred_ml (sums over slices)."""
    return (slices.groupby(["method", "volume_id"], sort=False)[["gt_ml", "pred_ml"]].sum().reset_index()
            .rename(columns={"gt_ml": "true_ml"}))


def extremes(slices: pd.DataFrame, method: str, k: int = 3, metric: str = "dice") -> pd.DataFrame:
    """The ``k`` best and ``k`` worst lesion slices of ``method`` by ``metric`` (column ``rank``: best / worst)."""
    check_choice("method", method, dict.fromkeys(slices["method"]))
    g = slices[(slices["method"] == method) & slices["has_lesion"].astype(bool) & slices[metric].notna()]
    g = g.sort_values(metric, ascending=False)
    return pd.concat([g.head(k).assign(rank="best"), g.tail(min(k, max(len(g) - k, 0))).iloc[::-1].assign(rank="worst")])


def gallery_panels(result, picks: pd.DataFrame, window: str = "brain") -> list[Panel]:
    """Panels of the ``picks`` rows (from :func:`extremes`): CT, the method's map at the study's
    settings, the lesion and the prediction at the slice's threshold. Weak methods only (the
    baselines' per-fold models are not reloaded here)."""
    cfg = result.config
    frame = read_manifest(cfg.manifest).astype({"subject_id": str, "volume_id": str})
    ds = SliceDataset(frame, cfg.root, size=cfg.size, brain_mask=cfg.brain_mask)
    index = {tuple(k): i for i, k in enumerate(ds.frame[list(KEYS)].itertuples(index=False, name=None))}
    models: dict[str, tuple[torch.nn.Module, SliceDataset]] = {}  # the model and its input (windows, stripping)
    panels = []
    for pick in picks.itertuples(index=False):
        spec = method_spec(pick.method)
        if spec.model == "baseline":
            continue
        if spec.model not in models:  # each classifier reads the slices through its own input recipe (size too)
            net = load_model(getattr(cfg, f"{spec.model}_checkpoint"))
            models[spec.model] = net, model_input(net, ds)
        net, inputs = models[spec.model]
        row = index[(str(pick.subject_id), str(pick.volume_id), int(pick.slice_index))]
        item = inputs[row]
        brain = item["brain_mask"][None] if cfg.brain_mask else None
        maps, _ = weak_maps(net, item["image"][None], brain, {pick.method: spec.variant})
        heat = maps[pick.method][0].detach()
        panels.append(Panel(windowed(display_hu(inputs, row), window), heat, item["mask"], heat > pick.threshold,
                            f"{pick.method} · {pick.rank} · Dice {pick.dice:.2f}", pick.method))
    return panels
