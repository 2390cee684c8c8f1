"""End to end on a generated cohort: synth -> manifest -> ``workbench train`` -> load -> same outputs."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from workbench.capture import check_unfused
from workbench.cli import main
from workbench.data.dataset import SliceDataset
from workbench.models import create_model, load_model
from workbench.training import TrainConfig, fit, prepare_splits
from workbench.training.cache import CachedImages
from workbench.training.loop import evaluate
from workbench.utils.errors import DataError


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """6 synthetic subjects of 8 slices at 48 px, manifest with 3 subject-wise folds."""
    out = tmp_path_factory.mktemp("cohort")
    assert main(["synth", "--out", str(out), "--subjects", "6", "--size", "48", "--slices", "8", "--seed", "3"]) == 0
    manifest = out / "manifest.csv"
    assert main(["manifest", "--dataset", "synthetic", "--root", str(out / "physionet"), "--out", str(manifest),
                 "--folds", "3", "--seed", "0"]) == 0
    return manifest, out / "physionet"


def _one_epoch(manifest, root, run, *extra: str) -> list[str]:
    """``workbench train`` argv: one epoch of test-tiny on ``manifest``, fold 0 validating, plus ``extra``."""
    return ["train", "--manifest", str(manifest), "--root", str(root), "--task", "binary", "--preset", "test-tiny",
            "--out", str(run), "--val-fold", "0", "--epochs", "1", "--batch-size", "4", "--warmup-steps", "1",
            "--device", "cpu", *extra]


def test_cli_train_then_load_gives_the_logged_validation_loss(cohort, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_PROGRESS", "0")
    manifest, root = cohort
    run = tmp_path / "run"
    argv = ["train", "--manifest", str(manifest), "--root", str(root), "--task", "binary", "--preset", "test-tiny",
            "--out", str(run), "--val-fold", "0", "--epochs", "2", "--batch-size", "4", "--warmup-steps", "2",
            "--device", "cpu"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] > 0 and summary["last"]["epoch"] == 2
    metrics = pd.read_csv(run / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2]
    model = load_model(run / "last")
    check_unfused(model)  # the explainability layer can capture this model's attention
    splits = prepare_splits(manifest, root, val_fold=0)
    val = SliceDataset(splits.val, root, size=32, brain_mask=False)
    loss, probs, _ = evaluate(model, val, TrainConfig(), torch.device("cpu"))
    assert loss == pytest.approx(metrics["val_loss"].iloc[-1], rel=1e-5)
    run_info = json.loads((run / "run.json").read_text())
    assert run_info["val_fold"] == 0 and run_info["world_size"] == 1
    assert set(splits.val["subject_id"]).isdisjoint(splits.train["subject_id"])
    assert main(argv + ["--resume"]) == 0  # already finished: resuming is a no-op
    assert len(pd.read_csv(run / "metrics.csv")) == 2


def test_cli_input_recipe_and_precision_reach_the_model_config_and_validation(cohort, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PROGRESS", "0")
    manifest, root = cohort
    run = tmp_path / "strip"
    assert main(_one_epoch(manifest, root, run, "--windows", "brain", "subdural", "stroke", "--input-mask", "brain",
                           "--input-margin-mm", "4", "--precision", "bf16")) == 0
    model = load_model(run / "last")
    recipe = model.workbench_config.input_kwargs()
    assert recipe == {"windows": ("brain", "subdural", "stroke"), "input_mask": "brain", "input_margin_mm": 4.0}
    assert json.loads((run / "run.json").read_text())["precision"] == "bf16"
    assert json.loads((run / "train_config.json").read_text())["precision"] == "bf16"
    # the logged validation loss is the model's loss on the skull-stripped stroke-window input, in bf16
    val = SliceDataset(prepare_splits(manifest, root, val_fold=0).val, root, size=32, brain_mask=False, **recipe)
    logged = pd.read_csv(run / "metrics.csv")["val_loss"].iloc[-1]
    assert evaluate(model, val, TrainConfig(precision="bf16"), torch.device("cpu"))[0] == pytest.approx(logged, rel=1e-5)
    plain = SliceDataset(prepare_splits(manifest, root, val_fold=0).val, root, size=32, brain_mask=False)
    assert evaluate(model, plain, TrainConfig(precision="bf16"), torch.device("cpu"))[0] != pytest.approx(logged, rel=1e-3)


def test_cli_trains_a_2p5d_model_whose_validation_reads_the_neighbours(cohort, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PROGRESS", "0")
    manifest, root = cohort
    run = tmp_path / "stacked"
    assert main(_one_epoch(manifest, root, run, "--adjacent-slices", "1", "--adjacent-mm", "10", "--precision", "fp32")) == 0
    model = load_model(run / "last")
    recipe = model.workbench_config.input_kwargs()
    assert recipe["adjacent_slices"] == 1 and recipe["adjacent_mm"] == 10.0 and model.workbench_config.arch.in_chans == 9
    val = SliceDataset(prepare_splits(manifest, root, val_fold=0).val, root, size=32, brain_mask=False, **recipe)
    assert val[0]["image"].shape == (9, 32, 32)
    logged = pd.read_csv(run / "metrics.csv")["val_loss"].iloc[-1]
    assert evaluate(model, val, TrainConfig(), torch.device("cpu"))[0] == pytest.approx(logged, rel=1e-5)


def test_api_train_multilabel_and_reload_same_logits(cohort, tmp_path):
    manifest, root = cohort
    splits = prepare_splits(manifest, root, val_fold=1)
    train = CachedImages(SliceDataset(splits.train, root, size=32, brain_mask=False))
    torch.manual_seed(0)
    model = create_model("test-tiny", task="multilabel")
    fit(model, train, None, TrainConfig(task="multilabel", epochs=1, batch_size=4, warmup_steps=1), tmp_path / "ml")
    x = torch.stack([train[i]["image"] for i in range(4)])  # (4, 3, 32, 32)
    model.eval()
    assert torch.equal(model(x), load_model(tmp_path / "ml" / "last")(x))


def test_cached_images_match_the_dataset(cohort):
    manifest, root = cohort
    ds = SliceDataset(manifest, root, size=32, brain_mask=False)
    cached = CachedImages(ds)
    for i in (0, len(ds) - 1):
        assert (cached[i]["image"] - ds[i]["image"]).abs().max() <= 0.5 / 255 + 1e-6
        assert torch.equal(cached[i]["labels"], ds[i]["labels"])


def test_cli_bad_input_fails_before_training(cohort, tmp_path):
    manifest, root = cohort
    frame = pd.read_csv(manifest)
    frame.loc[0, "image_path"] = "ct_scans/missing.nii"
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    with pytest.raises(DataError, match=r"bad\.csv: 1 of \d+ image_path files do not exist.*missing\.nii"):
        main(["train", "--manifest", str(bad), "--root", str(root), "--task", "binary", "--preset", "test-tiny",
              "--out", str(tmp_path / "never")])
    assert not (tmp_path / "never").exists()


def test_cached_masks_and_missing_keys(cohort):
    manifest, root = cohort
    ds = SliceDataset(manifest, root, size=32)
    cached = CachedImages(ds, keys=("image", "mask"))
    i = int(ds.frame["any"].to_numpy().argmax())  # an ICH slice: its mask is not empty
    assert torch.equal(cached[i]["mask"], ds[i]["mask"]) and cached[i]["mask"].sum() > 0
    with pytest.raises(KeyError, match=r"no \['weights'\]"):
        CachedImages(ds, keys=("image", "weights"))
