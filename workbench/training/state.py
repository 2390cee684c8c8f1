"""Training state for resume: optimizer moments in safetensors, counters and history in JSON.

A checkpoint is committed as one unit (:func:`commit_checkpoint`): weights, config, optimizer state and
counters are written into a temporary folder, which is then renamed to ``checkpoints/step-N`` (an
atomic rename), and only then are ``last.*`` / ``last_state.*`` beside it refreshed for readers.
:func:`resume_checkpoint` takes the newest committed folder that verifies (readable files, finite
weights that fit the model, the same step in every file) and falls back to the previous one, saying so;
a kill at any point of the write therefore resumes exactly (tests/training/test_faults.py kills a real
training process at every commit point).

``<stem>_state.safetensors`` holds every optimizer tensor as ``opt.<param>.<key>``;
``<stem>_state.json`` holds the optimizer's param groups and plain state values, the run
counters (next epoch, step, best loss, epochs without improvement) and the metrics history. The
JSON is written last and records the step it belongs to, so a half-written checkpoint is detected.
Random streams need no saving: they are re-derived from ``(seed, rank, epoch)`` at each epoch start.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from workbench.models.checkpoint import checkpoint_paths, load_tensors, save_tensors
from workbench.utils.errors import DataError
from workbench.utils.io import fault_point, write_json_atomic

__all__ = ["RunState", "save_state", "load_state", "read_run_state", "state_paths", "CHECKPOINTS", "commit_checkpoint",
           "resume_checkpoint", "holds_run", "open_run"]

CHECKPOINTS = "checkpoints"
"""Sub-folder of a run holding its committed checkpoints, ``step-NNNNNNNNN/`` (newest two kept)."""
_KEEP = 2


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
    tensors = load_tensors(tensors_path, device=device, finite=True)
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


def _step_dirs(out: Path) -> list[tuple[int, Path]]:
    """Committed checkpoint folders of run ``out``, newest first."""
    folder = Path(out) / CHECKPOINTS
    found = []
    for d in folder.glob("step-*") if folder.is_dir() else ():
        m = re.fullmatch(r"step-(\d+)", d.name)
        if m and d.is_dir():
            found.append((int(m.group(1)), d))
    return sorted(found, reverse=True)


def _remove_stale(out: Path) -> None:
    """Remove temporary checkpoint folders (and ``last*`` link temps) that a killed write left behind."""
    folder = Path(out) / CHECKPOINTS
    for stale in folder.glob(".step-*.tmp-*") if folder.is_dir() else ():
        shutil.rmtree(stale, ignore_errors=True)
    for stale in Path(out).glob(".last*.tmp-*"):
        stale.unlink(missing_ok=True)


def holds_run(out: str | Path) -> bool:
    """Whether ``out`` holds a run to resume (a committed checkpoint, or the older ``last_state.json``)."""
    return bool(_step_dirs(Path(out))) or state_paths(Path(out) / "last")[1].exists()


def _link_or_copy(src: Path, dest: Path) -> None:
    """Point ``dest`` at ``src``'s content atomically: a hard link when possible (no copy), else a copy."""
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def commit_checkpoint(out: str | Path, save_weights, optimizer: torch.optim.Optimizer, run: RunState) -> Path:
    """Write weights (``save_weights(stem)`` writes ``stem.safetensors`` + ``stem.json``), optimizer state
    and ``run`` as one unit ``out/checkpoints/step-<run.step>``; refresh ``out/last*``; keep the newest two."""
    out = Path(out)
    folder = out / CHECKPOINTS
    final = folder / f"step-{run.step:09d}"
    tmp = folder / f".step-{run.step:09d}.tmp-{os.getpid()}"
    _remove_stale(out)  # one writer per run folder: any temporary folder left is a killed write's
    tmp.mkdir(parents=True)
    save_weights(tmp / "last")
    save_state(tmp / "last", optimizer, run)
    fault_point(final)
    if final.exists():  # an epoch redone after a fallback: the folder of the same step is replaced
        shutil.rmtree(final)
    os.replace(tmp, final)
    for _, old in _step_dirs(out)[_KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
    for name in ("last.safetensors", "last.json", "last_state.safetensors", "last_state.json"):
        _link_or_copy(final / name, out / name)
    return final


def resume_checkpoint(out: str | Path, load_weights, optimizer: torch.optim.Optimizer,
                      device: torch.device | str = "cpu") -> RunState:
    """Restore the newest checkpoint of ``out`` that verifies: ``load_weights(stem)`` loads (and checks)
    ``stem.safetensors`` into the model; the optimizer and the returned :class:`RunState` come from the
    same folder. A torn or corrupt newer checkpoint is skipped with a message on stderr. Runs written
    before checkpoint folders existed resume from ``last.*`` / ``last_state.*``."""
    out = Path(out)
    _remove_stale(out)
    candidates = _step_dirs(out)
    if not candidates:
        if not state_paths(out / "last")[1].exists():
            raise FileNotFoundError(f"{state_paths(out / 'last')[1]}: nothing to resume in {out}")
        load_weights(out / "last")
        return load_state(out / "last", optimizer, device=device)
    skipped = []
    for step, folder in candidates:
        try:
            load_weights(folder / "last")
            run = load_state(folder / "last", optimizer, device=device)
            if run.step != step:
                raise DataError(folder, f"state is for step {run.step}, the folder for step {step}")
        except (OSError, ValueError, KeyError, RuntimeError, json.JSONDecodeError) as err:
            skipped.append(f"{folder.name} ({err})")
            continue
        if skipped:
            print(f"{out}: resumed from {folder.name}; skipped a newer checkpoint that does not verify: "
                  + "; ".join(skipped), file=sys.stderr, flush=True)
        return run
    raise DataError(out, "no checkpoint to resume from verifies: " + "; ".join(skipped))


def open_run(out: str | Path, resume: bool, save_config, check_config, model: torch.nn.Module,
             optimizer: torch.optim.Optimizer, device: torch.device | str = "cpu") -> RunState:
    """Start or resume the run in ``out`` (both trainers): a fresh run refuses a folder holding one and
    calls ``save_config(path)``; a resume calls ``check_config(path)`` (raises on a changed config) and
    restores the newest verified checkpoint into ``model`` and ``optimizer``. A run stopped before its
    first commit starts over; a folder where no run was started is an error."""
    out, cfg_path = Path(out), Path(out) / "train_config.json"
    if resume and not cfg_path.is_file():
        raise FileNotFoundError(f"{out}: nothing to resume (no run was started here)")
    if resume and not holds_run(out):
        print(f"{out}: no committed checkpoint to resume; starting from the beginning", file=sys.stderr, flush=True)
        resume = False
    elif not resume and holds_run(out):
        raise FileExistsError(f"{out} already holds a run; resume it (--resume) or choose another folder")
    if not resume:
        save_config(cfg_path)
        return RunState()
    check_config(cfg_path)

    def load_weights(stem: Path) -> None:
        model.load_state_dict(load_tensors(checkpoint_paths(stem)[0], device=device, finite=True), strict=True)

    return resume_checkpoint(out, load_weights, optimizer, device=device)
