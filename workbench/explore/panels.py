"""Example maps for galleries: chosen slices, each explained by several models or variants."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from workbench.api import explain
from workbench.data.dataset import SliceDataset, resize_crop
from workbench.models.ich import ich_index
from workbench.viz import Panel, windowed

__all__ = ["display_hu", "spread", "model_input", "example_panels"]


def display_hu(dataset: SliceDataset, row: int) -> torch.Tensor:
    """HU of slice ``row`` resized and cropped like the model input: (S, S)."""
    hu, _, _ = dataset.load_hu(row)
    return resize_crop(torch.as_tensor(hu, dtype=torch.float32)[None], dataset.size, dataset.resize_factor)[0]


def spread(rows: Sequence[int], k: int) -> list[int]:
    """``k`` rows evenly spread over ``rows`` (all of them when there are fewer)."""
    if k >= len(rows):
        return list(rows)
    return [rows[int(i)] for i in np.linspace(0, len(rows) - 1, k).round()]


def model_input(model: nn.Module, dataset: SliceDataset) -> SliceDataset:
    """``dataset``'s slices through ``model``'s own input recipe (size, windows, skull-stripping)."""
    cfg = model.workbench_config
    return dataset.with_inputs(size=cfg.arch.img_size, **cfg.input_kwargs())


def example_panels(models: Mapping[str, nn.Module], dataset: SliceDataset, rows: Sequence[int],
                   variants: Mapping[str, tuple[str, Mapping[str, Any]]], window: str = "brain",
                   thresholds: Mapping[str, float] | None = None, titles: Mapping[int, str] | None = None) -> list[Panel]:
    """One panel per (row, model, variant), rows first: CT, map in [0, 1], lesion contour and, when
    ``thresholds[<model> or <model>/<variant>]`` is given, the predicted contour. Each model sees
    the rows through its own input recipe (:func:`model_input`), as in the study."""
    panels: list[Panel] = []
    shown: dict[str, tuple[SliceDataset, list[dict], dict]] = {}
    for name, m in models.items():
        ds = model_input(m, dataset)
        items = [ds[r] for r in rows]
        maps = explain(m, torch.stack([it["image"] for it in items]), (), ich_index(m),
                       torch.stack([it["brain_mask"] for it in items]), normalize=True, variants=variants)
        shown[name] = ds, items, maps
    for i, r in enumerate(rows):
        for name, (ds, items, maps) in shown.items():
            image = windowed(display_hu(ds, r), window)
            for v in variants:
                key = name if len(variants) == 1 else f"{name}/{v}"
                heat = maps[v][i].detach()
                t = (thresholds or {}).get(key)
                head = (titles or {}).get(r, f"row {r}")
                panels.append(Panel(image, heat, items[i]["mask"], None if t is None else heat > t,
                                    f"{head} · {key}", key))
    return panels
