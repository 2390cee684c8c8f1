"""Training state for resume: optimizer moments in safetensors, counters and history in JSON.

``<stem>_state.safetensors`` holds every optimizer tensor as ``opt.<param>.<key>``;
``<stem>_state.json`` holds the optimizer's param groups and plain state values, the run
counters (next epoch, step, best loss, epochs without improvement) and the metrics history. The
JSON is written last and records the step it belongs to, so a half-written checkpoint is detected.
Random streams need no saving: they are re-derived from ``(seed, rank, epoch)`` at each epoch start.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from workbench.models.checkpoint import load_tensors, save_tensors
from workbench.utils.io import write_json_atomic

__all__ = ["RunState", "save_state", "load_state", "read_run_state", "state_paths"]


@dataclass
class RunState:
    """Counters of a run. ``epoch`` is the next epoch to run (0-based). ``best_val_loss`` is the best
    lower-is-better score so far (the validation loss, or a negated AUC / Dice when that is monitored)."""

    epoch: int = 0
    step: int = 0
    best_val_loss: float = float("inf")
    best_epoch: int = -1
    bad_epochs: int = 0
    finished: bool = False
    history: list[dict] = field(default_factory=list)

    def consider(self, score: float, epoch: int) -> bool:
        """Record 1-based ``epoch`` with a lower-is-better ``score``; True when it becomes the best.

        A NaN score (e.g. ROC-AUC of a one-class validation fold) never beats a real one, but the first
        epoch considered is always kept, so every run has a best checkpoint.
        """
        improved = self.best_epoch < 0 or (not math.isnan(score) and score < self.best_val_loss)
        if improved:
            self.best_epoch = epoch
            if not math.isnan(score):
                self.best_val_loss = score
        return improved


def state_paths(stem: str | Path) -> tuple[Path, Path]:
    stem = Path(stem)
    return stem.with_name(stem.name + "_state.safetensors"), stem.with_name(stem.name + "_state.json")


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def save_state(stem: str | Path, optimizer: torch.optim.Optimizer, run: RunState) -> None:
    """Write the optimizer state and ``run`` beside the checkpoint ``stem``."""
    tensors_path, json_path = state_paths(stem)
    sd = optimizer.state_dict()
    tensors, plain = {}, {}
    for pid, pstate in sd["state"].items():
        for key, value in pstate.items():
            if torch.is_tensor(value):
                tensors[f"opt.{pid}.{key}"] = value
            else:
                plain[f"{pid}.{key}"] = value
    groups = [{k: _plain(v) for k, v in g.items()} for g in sd["param_groups"]]
    save_tensors(tensors_path, tensors or {"empty": torch.zeros(0)}, metadata={"step": str(run.step)})
    write_json_atomic(json_path, {"run": asdict(run), "param_groups": groups, "plain_state": plain})


def _read_json(json_path: Path) -> dict:
    if not json_path.is_file():
        raise FileNotFoundError(f"{json_path}: no training state to resume from")
    return json.loads(json_path.read_text())


def read_run_state(stem: str | Path) -> RunState:
    """The :class:`RunState` saved beside checkpoint ``stem`` (e.g. ``run/last``), without the optimizer."""
    return RunState(**_read_json(state_paths(stem)[1])["run"])


def load_state(stem: str | Path, optimizer: torch.optim.Optimizer, device: torch.device | str = "cpu") -> RunState:
    """Restore ``optimizer`` (in place) and return the saved :class:`RunState`."""
    from safetensors import safe_open

    tensors_path, json_path = state_paths(stem)
    saved = _read_json(json_path)
    run = RunState(**saved["run"])
    with safe_open(str(tensors_path), framework="pt") as f:
        meta_step = int((f.metadata() or {}).get("step", -1))
    if meta_step != run.step:
        raise ValueError(f"{tensors_path}: optimizer state is for step {meta_step}, {json_path} for step {run.step}")
    tensors = load_tensors(tensors_path, device=device)
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name == "empty":
            continue
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = value
    for name, value in saved["plain_state"].items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    groups = saved["param_groups"]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    return run
