"""Per-fold training on a synthetic cohort: splits, files, reload, resume, CLI, input errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from workbench.baselines import (BaselineTrainConfig, baseline_splits, evaluate_slices, load_baseline,
                                 predict_baseline, train_baseline)
from workbench.baselines.train import load_split_data
from workbench.cli import main
from workbench.data.manifest import read_manifest
from workbench.utils.errors import DataError

TINY = {"channels": (4, 8, 16, 32), "batch_size": 8, "warmup_steps": 2}


@pytest.mark.parametrize("test_fold", [0, 1, 2])
def test_no_test_fold_subject_in_training_or_validation(cohort, test_fold):
    manifest, root = cohort
    split = baseline_splits(manifest, root, test_fold)
    test_subjects = set(read_manifest(manifest).query("fold == @test_fold")["subject_id"])
    assert split.val_fold == (test_fold + 1) % 3
    train, val = set(split.train["subject_id"]), set(split.val["subject_id"])
    assert test_subjects and train and val
    assert not (test_subjects & train) and not (test_subjects & val) and not (train & val)
    assert (split.train["has_mask"] == 1).all() and test_fold not in set(split.train["fold"])


def test_train_save_load_gives_identical_predictions(cohort, tmp_path):
    manifest, root = cohort
    out = tmp_path / "unet"
    result = train_baseline(manifest, root, "unet", 0, out, epochs=2, size=32, **TINY)
    names = {p.name for p in out.iterdir()}
    assert {"best.safetensors", "best.json", "last.safetensors", "last_state.json", "metrics.csv",
            "train_config.json", "splits.json", "run.json"} <= names
    assert not any(n.endswith((".pt", ".pth", ".pkl", ".pickle")) for n in names)
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2] and result.epochs_run == 2
    assert {"train_loss", "val_loss", "val_dice", "val_iou", "val_detection_accuracy"} <= set(metrics.columns)
    splits = json.loads((out / "splits.json").read_text())
    assert not set(splits["train"] + splits["val"]) & set(read_manifest(manifest).query("fold == 0")["subject_id"])
    assert BaselineTrainConfig.load(out / "train_config.json").channels == (4, 8, 16, 32)
    loaded = load_baseline(out)  # the run folder means its best checkpoint
    images = torch.rand(3, 3, 32, 32)
    assert torch.equal(predict_baseline(result.model, images), predict_baseline(loaded, images))
    val = load_split_data(result.split.val, root, 32, "val")
    table = evaluate_slices(loaded, val, BaselineTrainConfig())
    assert len(table) == len(result.split.val)
    best = metrics.loc[metrics["epoch"] == result.best_epoch, "val_dice"].iloc[0]
    assert table["dice"].mean() == pytest.approx(best, nan_ok=True)


def test_swin_unetr_trains_and_reloads(cohort, tmp_path):
    manifest, root = cohort
    result = train_baseline(manifest, root, "swin_unetr", 1, tmp_path / "swin", epochs=1, size=64, batch_size=4,
                            max_steps=1)
    assert result.steps == 1
    images = torch.rand(2, 3, 64, 64)
    assert torch.equal(predict_baseline(result.model, images),
                       predict_baseline(load_baseline(tmp_path / "swin" / "best"), images))


def test_interrupted_run_resumes_to_the_same_weights(cohort, tmp_path):
    manifest, root = cohort
    full = train_baseline(manifest, root, "unet", 2, tmp_path / "full", epochs=3, size=32, **TINY)
    steps_per_epoch = full.steps // 3
    cut = train_baseline(manifest, root, "unet", 2, tmp_path / "cut", epochs=3, size=32, max_steps=steps_per_epoch,
                         **TINY)
    assert cut.epochs_run == 1
    with pytest.raises(FileExistsError, match="already holds a run"):
        train_baseline(manifest, root, "unet", 2, tmp_path / "cut", epochs=3, size=32, **TINY)
    with pytest.raises(ValueError, match="changed: lr None -> 0.01"):
        train_baseline(manifest, root, "unet", 2, tmp_path / "cut", epochs=3, size=32, resume=True, lr=0.01, **TINY)
    resumed = train_baseline(manifest, root, "unet", 2, tmp_path / "cut", epochs=3, size=32, resume=True, **TINY)
    assert resumed.steps == full.steps and resumed.epochs_run == 3
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert len(pd.read_csv(tmp_path / "cut" / "metrics.csv")) == 3


def test_cli_baseline(cohort, tmp_path, capsys):
    manifest, root = cohort
    argv = ["baseline", "--manifest", str(manifest), "--root", str(root), "--model", "unet", "--test-fold", "1",
            "--out", str(tmp_path / "cli"), "--epochs", "1", "--size", "32", "--channels", "4", "8", "16", "32",
            "--batch-size", "8", "--device", "cpu"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["test_fold"], summary["val_fold"], summary["epochs_run"]) == (1, 2, 1)


def test_manifest_without_masks_is_a_clear_error(cohort, tmp_path):
    manifest, root = cohort
    frame = read_manifest(manifest).assign(has_mask=0, mask_path="")
    with pytest.raises(DataError, match="no rows with has_mask = 1 among 48: the fully supervised baselines train"):
        train_baseline(frame, root, "unet", 0, tmp_path / "x", epochs=1, size=32)
    assert not (tmp_path / "x").exists()  # nothing written before the inputs are checked


@pytest.mark.parametrize("kwargs, message", [
    ({"test_fold": 7}, r"test fold 7 is not in the manifest; folds present: \[0, 1, 2\]"),
    ({"test_fold": 0, "val_fold": 0}, r"validation fold 0 must be a masked fold other than the test fold 0; "
                                      r"valid: \[1, 2\]"),
])
def test_bad_folds_name_the_valid_ones(cohort, kwargs, message):
    manifest, root = cohort
    with pytest.raises(DataError, match=message):
        baseline_splits(manifest, root, **kwargs)


def test_bad_names_and_sizes_fail_before_training(cohort, tmp_path):
    manifest, root = cohort
    with pytest.raises(ValueError, match="unknown baseline 'vnet'; valid choices: unet, swin_unetr"):
        train_baseline(manifest, root, "vnet", 0, tmp_path / "a")
    with pytest.raises(ValueError, match="multiples of 32 and >= 64; got 40"):
        train_baseline(manifest, root, "swin_unetr", 0, tmp_path / "b", size=40)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train_baseline(manifest, root, "unet", 0, tmp_path / "c", size=32, resume=True, **TINY)


def test_early_stopping_counts_patience_after_min_epochs(cohort, tmp_path):
    """A frozen model (lr 1e-12) never improves after epoch 1: with min_epochs 2 and patience 1 the
    run stops after epoch 3, not 2, and keeps epoch 1 as the best."""
    manifest, root = cohort
    result = train_baseline(manifest, root, "unet", 0, tmp_path / "es", epochs=6, size=32, lr=1e-12, patience=1,
                            min_epochs=2, **TINY)
    assert (result.epochs_run, result.best_epoch, result.stopped_early) == (3, 1, True)


def test_bf16_training_runs_convolutions_in_bfloat16_with_fp32_weights(cohort, tmp_path):
    manifest, root = cohort
    seen = []

    def hook(module, _inputs, out):
        if isinstance(module, torch.nn.Conv2d):
            seen.append(out.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(hook)  # the model is built inside
    try:
        result = train_baseline(manifest, root, "unet", 0, tmp_path / "bf16", epochs=1, size=32, max_steps=2,
                                precision="bf16", **TINY)
    finally:
        handle.remove()
    assert seen and set(seen) == {torch.bfloat16}  # training and validation passes ran under autocast
    assert all(p.dtype == torch.float32 for p in result.model.parameters())
    assert BaselineTrainConfig.load(tmp_path / "bf16" / "train_config.json").precision == "bf16"
    with pytest.raises(ValueError, match="precision 'fp8'"):
        BaselineTrainConfig(precision="fp8")


def test_an_interrupted_run_leaves_the_model_in_the_mode_it_was_given(cohort, tmp_path, monkeypatch):
    """The run fails in its first validation, after a training step (train mode): the model it was
    given in eval mode is left in eval mode."""
    import workbench.baselines.train as train_module

    manifest, root = cohort
    create, built = train_module.create_baseline, []

    def create_in_eval_mode(*args, **kwargs):
        built.append(create(*args, **kwargs).eval())
        return built[-1]

    def failing_validation(*args, **kwargs):
        assert built[-1].training  # the core trained it
        raise RuntimeError("validation failed")

    monkeypatch.setattr(train_module, "create_baseline", create_in_eval_mode)
    monkeypatch.setattr(train_module, "evaluate_slices", failing_validation)
    with pytest.raises(RuntimeError, match="validation failed"):
        train_baseline(manifest, root, "unet", 0, tmp_path / "x", epochs=2, size=32, max_steps=1, **TINY)
    assert built and not any(m.training for m in built[0].modules())
