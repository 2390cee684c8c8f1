"""The trainer on an in-memory stand-in dataset: learns, logs, checkpoints, stops, resumes."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
import torch
from toydata import ToySlices

from workbench.models import create_model, load_model
from workbench.models.checkpoint import load_tensors
from workbench.training import TrainConfig, fit

CFG = TrainConfig(epochs=4, batch_size=16, warmup_steps=4, lr=1e-3, eval_batch_size=32, patience=10)
TRAIN, VAL = ToySlices(96, seed=1), ToySlices(48, seed=2)


def _model(task: str = "binary", seed: int = 0):
    torch.manual_seed(seed)
    return create_model("test-tiny", task=task)


def _fit(tmp_path, name, cfg=CFG, task="binary", seed=0, **kw):
    return fit(_model(task, seed), TRAIN, VAL, cfg, tmp_path / name, **kw)


def test_learns_and_writes_the_run_folder(tmp_path):
    result = _fit(tmp_path, "run", dataclasses.replace(CFG, epochs=6))
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2, 3, 4, 5, 6]
    for col in ("train_loss", "val_loss", "val_auc", "val_accuracy", "lr", "images_per_s"):
        assert col in metrics
    assert metrics["val_auc"].iloc[-1] > 0.8  # a bright disc is easy to detect
    assert metrics["val_loss"].min() < metrics["val_loss"].iloc[0]
    for name in ("best.safetensors", "best.json", "last.safetensors", "last_state.json", "train_config.json"):
        assert (tmp_path / "run" / name).is_file()
    best = load_model(tmp_path / "run" / "best")
    assert result.best_epoch == int(metrics["val_loss"].idxmin()) + 1
    assert best.workbench_config.task == "binary"


def test_monitor_val_auc_keeps_the_epoch_with_the_highest_auc(tmp_path):
    cfg = dataclasses.replace(CFG, epochs=4, monitor="val_auc")
    result = _fit(tmp_path, "auc", cfg)
    metrics = pd.read_csv(tmp_path / "auc" / "metrics.csv")
    best = int(metrics["val_auc_any"].idxmax()) + 1  # first epoch reaching the maximum
    assert result.best_epoch == best
    assert result.best_val_loss == pytest.approx(metrics["val_loss"].iloc[best - 1])
    with pytest.raises(ValueError, match="monitor.*val_loss"):
        TrainConfig(monitor="auc")


def test_monitor_val_auc_with_one_class_validation_still_keeps_a_best(tmp_path):
    no_ich = ToySlices(24, seed=3, positive_fraction=0.0)  # ROC-AUC undefined (NaN) every epoch
    result = fit(_model(), TRAIN, no_ich, dataclasses.replace(CFG, epochs=3, monitor="val_auc", patience=5),
                 tmp_path / "nan")
    assert result.best_epoch == 1 and result.epochs_run == 3
    assert (tmp_path / "nan" / "best.json").is_file()


def test_multilabel_reports_every_subtype(tmp_path):
    _fit(tmp_path, "ml", dataclasses.replace(CFG, task="multilabel", epochs=1), task="multilabel")
    metrics = pd.read_csv(tmp_path / "ml" / "metrics.csv")
    for name in ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural"):
        assert f"val_auc_{name}" in metrics


def test_seeded_runs_are_identical(tmp_path):
    cfg = dataclasses.replace(CFG, epochs=1)
    _fit(tmp_path, "a", cfg), _fit(tmp_path, "b", cfg)
    a, b = load_tensors(tmp_path / "a" / "last.safetensors"), load_tensors(tmp_path / "b" / "last.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping_on_validation_loss(tmp_path):
    cfg = dataclasses.replace(CFG, epochs=8, lr=1e-9, warmup_steps=0, patience=2)  # val loss cannot improve much
    result = _fit(tmp_path, "es", cfg)
    assert result.stopped_early and result.epochs_run < 8
    assert result.epochs_run - result.best_epoch == 2


def test_resume_equals_uninterrupted(tmp_path):
    full = _fit(tmp_path, "full")

    def interrupt(epoch, row):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, "cut", on_epoch_end=interrupt)
    assert len(pd.read_csv(tmp_path / "cut" / "metrics.csv")) == 2
    resumed = _fit(tmp_path, "cut", seed=123, resume=True)  # other init: the checkpoint must win
    a, b = load_tensors(tmp_path / "full" / "last.safetensors"), load_tensors(tmp_path / "cut" / "last.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    assert resumed.steps == full.steps
    keys = ("epoch", "step", "lr", "train_loss", "val_loss", "val_auc")
    assert [r[k] for r in resumed.history for k in keys] == pytest.approx([r[k] for r in full.history for k in keys])


def test_resume_guards(tmp_path):
    _fit(tmp_path, "g", dataclasses.replace(CFG, epochs=1))
    with pytest.raises(FileExistsError, match="already holds a run"):
        _fit(tmp_path, "g", dataclasses.replace(CFG, epochs=1))
    with pytest.raises(ValueError, match=r"cannot resume.*lr 0\.001 -> 0\.002"):
        _fit(tmp_path, "g", dataclasses.replace(CFG, epochs=1, lr=2e-3), resume=True)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        _fit(tmp_path, "empty", resume=True)


def test_task_mismatch(tmp_path):
    with pytest.raises(ValueError, match="model task 'binary' differs from training task 'multilabel'"):
        _fit(tmp_path, "x", dataclasses.replace(CFG, task="multilabel"), task="binary")


def test_min_epochs_hold_off_early_stopping(tmp_path):
    """A one-class validation fold scores NaN every epoch, so only epoch 1 is ever the best: with patience
    1 the run stops after epoch 2, and with min_epochs 3 after epoch 4."""
    no_ich = ToySlices(24, seed=3, positive_fraction=0.0)
    cfg = dataclasses.replace(CFG, epochs=6, monitor="val_auc", patience=1)
    plain = fit(_model(), TRAIN, no_ich, cfg, tmp_path / "plain")
    held = fit(_model(), TRAIN, no_ich, dataclasses.replace(cfg, min_epochs=3), tmp_path / "held")
    assert (plain.epochs_run, plain.best_epoch, plain.stopped_early) == (2, 1, True)
    assert (held.epochs_run, held.best_epoch, held.stopped_early) == (4, 1, True)
    assert len(pd.read_csv(tmp_path / "held" / "metrics.csv")) == 4


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_an_interrupted_run_leaves_the_model_in_the_mode_it_was_given(tmp_path, mode):
    model = _model()
    model.train(mode == "train")

    def interrupt(epoch, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(model, TRAIN, VAL, dataclasses.replace(CFG, epochs=2), tmp_path / mode, on_epoch_end=interrupt)
    assert all(m.training == (mode == "train") for m in model.modules())


def test_two_stage_fine_tuning_trains_the_head_first_then_everything(tmp_path):
    """The paper's fine-tuning: epoch 1 head only (backbone learning rate 0), then all layers with the
    backbone at its own learning rate."""
    cfg = dataclasses.replace(CFG, epochs=2, freeze_backbone_epochs=1, backbone_lr=1e-4, augment=CFG.augment)
    model = _model()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    lrs = []

    def after_epoch(epoch, row):
        state = model.state_dict()
        backbone = [k for k in start if not k.startswith("head.") and start[k].is_floating_point()
                    and "relative_position_index" not in k]
        moved = [k for k in backbone if not torch.equal(state[k], start[k])]
        lrs.append((epoch, len(moved), not torch.equal(state["head.fc.weight"], start["head.fc.weight"])))

    fit(model, TRAIN, VAL, cfg, tmp_path / "two", on_epoch_end=after_epoch)
    (e0, moved0, head0), (e1, moved1, head1) = lrs
    assert (e0, e1) == (0, 1) and head0 and head1
    assert moved0 == 0  # frozen: the backbone did not move in epoch 1
    assert moved1 > 0  # then it trains
    saved = json.loads((tmp_path / "two" / "train_config.json").read_text())
    assert saved["freeze_backbone_epochs"] == 1 and saved["backbone_lr"] == 1e-4


def test_backbone_scale_and_groups():
    from workbench.training.loop import backbone_scale, make_optimizer
    from workbench.training.schedule import set_backbone_scale, set_lr

    cfg = dataclasses.replace(CFG, freeze_backbone_epochs=2, backbone_lr=1e-4)
    assert [backbone_scale(cfg, e) for e in range(3)] == [0.0, 0.0, pytest.approx(0.1)]
    opt = make_optimizer(_model(), cfg)
    assert sorted(g["part"] for g in opt.param_groups) == ["backbone", "backbone", "head", "head"]
    head = sum(p.numel() for g in opt.param_groups if g["part"] == "head" for p in g["params"])
    assert head == 32 * 2 + 2  # test-tiny's head: Linear(32, 2)
    set_backbone_scale(opt, 0.5)
    set_lr(opt, 1e-3)
    assert {g["part"]: g["lr"] for g in opt.param_groups} == {"backbone": 5e-4, "head": 1e-3}
    assert len(make_optimizer(_model(), CFG).param_groups) == 2  # one-stage runs keep the two groups
