"""The trainer core on a one-layer model with scripted validation scores: early stopping (patience and
min_epochs), run files, the model's modes after an exception, resume guards."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest
import torch
import torch.nn as nn

from workbench.models.checkpoint import save_tensors
from workbench.training.config import TrainConfig
from workbench.training.core import TrainerHooks, check_resumable, kept_modes, run_epochs, start_run
from workbench.training.state import CHECKPOINTS, read_run_state

CFG = TrainConfig(epochs=6, batch_size=4, warmup_steps=1, patience=1, lr=1e-2)


def _hooks(model: nn.Module, scores: list[float], *, fail_at_step: int | None = None) -> TrainerHooks:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = {"steps": 0, "epoch": -1}

    def step(batch, generator, lr):
        calls["steps"] += 1
        if fail_at_step is not None and calls["steps"] == fail_at_step:
            raise RuntimeError("step failed")
        loss = model(batch).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.detach(), len(batch)

    def batches(epoch):
        calls["epoch"] = epoch
        return [torch.ones(4, 3) * (epoch + 1), torch.ones(4, 3)]

    def validate():
        return {"val_loss": scores[calls["epoch"]]}

    def save_weights(stem):
        save_tensors(stem.with_name(stem.name + ".safetensors"), model.state_dict())
        (stem.with_name(stem.name + ".json")).write_text("{}")

    return TrainerHooks(model=model, optimizer=optimizer, batches=batches, steps_per_epoch=2, step=step,
                        save_weights=save_weights, validate=validate, score=lambda row: row["val_loss"])


def _run(tmp_path, cfg, scores, **kw):
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    hooks = _hooks(model, scores, **kw)
    run = start_run(tmp_path, False, cfg, model, hooks.optimizer, "cpu")
    return model, run_epochs(hooks, cfg, run, tmp_path, torch.device("cpu"))


@pytest.mark.parametrize("min_epochs, epochs_run", [(0, 2), (3, 4)])
def test_min_epochs_hold_off_early_stopping(tmp_path, min_epochs, epochs_run):
    """Epoch 1 is the best and nothing improves after it: with patience 1 the run stops after epoch 2,
    or after min_epochs + patience epochs."""
    _, result = _run(tmp_path, dataclasses.replace(CFG, min_epochs=min_epochs), [1.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    assert (result.epochs_run, result.best_epoch, result.stopped_early) == (epochs_run, 1, True)
    assert [row["epoch"] for row in result.history] == list(range(1, epochs_run + 1))
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert list(metrics.columns[:6]) == ["epoch", "step", "lr", "train_loss", "train_seconds", "images_per_s"]
    assert list(metrics.columns[-2:]) == ["val_loss", "seconds"] and len(metrics) == epochs_run
    for name in ("train_config.json", "best.safetensors", "last.safetensors", "last_state.json"):
        assert (tmp_path / name).is_file()
    assert len(list((tmp_path / CHECKPOINTS).glob("step-*"))) == 2


def test_improvements_reset_the_patience_and_the_run_ends_at_epochs(tmp_path):
    _, result = _run(tmp_path, dataclasses.replace(CFG, patience=2), [5.0, 4.0, 4.5, 3.0, 3.5, math.nan])
    assert (result.epochs_run, result.best_epoch, result.stopped_early, result.steps) == (6, 4, False, 12)
    assert read_run_state(tmp_path / "last").finished


def test_max_steps_ends_the_run_without_finishing_it(tmp_path):
    _, result = _run(tmp_path, dataclasses.replace(CFG, max_steps=3), [3.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    assert (result.steps, result.epochs_run, result.stopped_early) == (3, 2, False)
    assert not read_run_state(tmp_path / "last").finished


def test_a_resume_at_its_step_cap_records_no_empty_epoch(tmp_path):
    """A run capped at an epoch boundary, resumed with the same cap, stays as it was; resumed without a
    cap it goes on with the next epoch (the cap used to append an empty epoch that a later resume skipped)."""
    capped = dataclasses.replace(CFG, max_steps=4)
    _run(tmp_path, capped, [3.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    hooks = _hooks(model, [3.0, 2.0, 1.0, 0.5, 0.5, 0.5])
    run = start_run(tmp_path, True, capped, model, hooks.optimizer, "cpu")
    again = run_epochs(hooks, capped, run, tmp_path, torch.device("cpu"))
    assert (again.steps, again.epochs_run) == (4, 2)
    assert len(pd.read_csv(tmp_path / "metrics.csv")) == 2
    run = start_run(tmp_path, True, CFG, model, hooks.optimizer, "cpu")
    full = run_epochs(hooks, dataclasses.replace(CFG, patience=6), run, tmp_path, torch.device("cpu"))
    assert (full.steps, full.epochs_run) == (12, 6)
    assert pd.read_csv(tmp_path / "metrics.csv")["step"].tolist() == [2, 4, 6, 8, 10, 12]


@pytest.mark.parametrize("fail_at_step", [1, 3])
def test_an_exception_leaves_every_module_in_the_mode_it_was_given(tmp_path, fail_at_step):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.1), nn.Linear(3, 1))
    model.eval()
    model[1].train()  # mixed modes survive too
    before = [m.training for m in model.modules()]
    hooks = _hooks(model, [1.0] * 6, fail_at_step=fail_at_step)
    run = start_run(tmp_path, False, CFG, model, hooks.optimizer, "cpu")
    with pytest.raises(RuntimeError, match="step failed"):
        run_epochs(hooks, CFG, run, tmp_path, torch.device("cpu"))
    assert [m.training for m in model.modules()] == before


def test_kept_modes_restores_what_was_recorded():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    model[1].eval()
    restore = kept_modes(model)
    model.train()
    restore()
    assert [m.training for m in model.modules()] == [True, True, False]


def test_check_resumable_names_every_changed_field_but_the_free_ones(tmp_path):
    saved = dataclasses.replace(CFG, max_steps=5, num_workers=2)
    check_resumable(saved, CFG, tmp_path)  # only resume-free fields differ
    with pytest.raises(ValueError, match=r"cannot resume.*changed: patience 1 -> 2, min_epochs 0 -> 3"):
        check_resumable(CFG, dataclasses.replace(CFG, patience=2, min_epochs=3), tmp_path)
