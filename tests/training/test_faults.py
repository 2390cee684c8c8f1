"""Fault injection: a real training process killed at every commit point resumes exactly.

``WORKBENCH_FAULT_AT=N`` makes the N-th commit point of a process (every atomic file rename and every
checkpoint folder rename) end it at once, as ``kill -9`` would, leaving its temporary files behind.
For every N the killed run is resumed and must end with the weights, optimizer counters and metrics of
an uninterrupted run. Corrupted, truncated and NaN weights are refused with the file named.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from toydata import ToySlices

from workbench.models import create_model
from workbench.models.checkpoint import load_model, load_tensors, save_model
from workbench.training import TrainConfig, fit
from workbench.training.state import CHECKPOINTS, read_run_state
from workbench.utils.errors import DataError
from workbench.utils.io import FAULT_ENV

HERE = Path(__file__).resolve().parent
CFG = TrainConfig(epochs=2, batch_size=16, warmup_steps=2, lr=1e-3, eval_batch_size=32, patience=5, monitor="val_auc")
SCRIPT = f"""
import sys, torch
sys.path.insert(0, {str(HERE)!r})
torch.set_num_threads(1)
from toydata import ToySlices
from workbench.models import create_model
from workbench.training import TrainConfig, fit
cfg = TrainConfig.from_dict({CFG.to_dict()!r})
torch.manual_seed(0)
fit(create_model("test-tiny", task="binary"), ToySlices(48, seed=1), ToySlices(24, seed=2), cfg, sys.argv[1],
    resume=len(sys.argv) > 2)
"""
TIMING = ("train_seconds", "images_per_s", "seconds")


def _killed_run(out: Path, fault_at: int) -> int:
    """The training in a real process that ends itself at its ``fault_at``-th commit point."""
    env = {**{k: v for k, v in os.environ.items() if k != FAULT_ENV}, FAULT_ENV: str(fault_at)}
    return subprocess.run([sys.executable, "-c", SCRIPT, str(out)], env=env, capture_output=True, text=True,
                          timeout=300).returncode


def _run(out: Path, resume: bool = False) -> None:
    """The same training in this process (one torch thread, as in the subprocess)."""
    torch.manual_seed(0)
    fit(create_model("test-tiny", task="binary"), ToySlices(48, seed=1), ToySlices(24, seed=2), CFG, out, resume=resume)


def _final(out: Path) -> tuple[dict, pd.DataFrame, int]:
    metrics = pd.read_csv(out / "metrics.csv").drop(columns=list(TIMING))
    return load_tensors(out / "last.safetensors"), metrics, read_run_state(out / "last").step


@pytest.mark.slow
def test_kill_at_every_commit_point_then_resume_ends_identical(tmp_path):
    _run(tmp_path / "straight")
    weights, metrics, step = _final(tmp_path / "straight")
    best = load_tensors(tmp_path / "straight" / "best.safetensors")
    k = 0
    while True:
        k += 1
        out = tmp_path / f"kill{k}"
        code = _killed_run(out, fault_at=k)
        if code == 0:  # fewer than k commit points: every one was tried
            break
        assert code == 86, f"commit point {k}: exit {code}"
        _run(out, resume=(out / "train_config.json").is_file())  # killed before anything started: a plain rerun
        assert not list((out / CHECKPOINTS).glob(".step-*")), "a killed checkpoint write left its folder"
        got_weights, got_metrics, got_step = _final(out)
        assert got_step == step, f"commit point {k}"
        assert all(torch.equal(weights[n], got_weights[n]) for n in weights), f"commit point {k}: weights differ"
        pd.testing.assert_frame_equal(metrics, got_metrics, obj=f"metrics after a kill at commit point {k}")
        got_best = load_tensors(out / "best.safetensors")
        assert all(torch.equal(best[n], got_best[n]) for n in best), f"commit point {k}: best differs"
    assert k > 10, f"only {k - 1} commit points in a 2-epoch run?"


def _trained(tmp_path) -> Path:
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=2, batch_size=16, warmup_steps=2, eval_batch_size=32)
    fit(create_model("test-tiny", task="binary"), ToySlices(32, seed=1), ToySlices(16, seed=2), cfg, tmp_path / "run")
    return tmp_path / "run"


def test_a_corrupt_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
    run = _trained(tmp_path)
    folders = sorted((run / CHECKPOINTS).glob("step-*"))
    assert len(folders) == 2
    newest = folders[-1] / "last.safetensors"
    newest.write_bytes(newest.read_bytes()[:100])  # truncated
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=3, batch_size=16, warmup_steps=2, eval_batch_size=32)
    with pytest.raises(ValueError, match="epochs"):  # a changed config is still refused first
        fit(create_model("test-tiny", task="binary"), ToySlices(32, seed=1), ToySlices(16, seed=2), cfg, run, resume=True)
    cfg = TrainConfig(epochs=2, batch_size=16, warmup_steps=2, eval_batch_size=32)
    result = fit(create_model("test-tiny", task="binary"), ToySlices(32, seed=1), ToySlices(16, seed=2), cfg, run,
                 resume=True)
    err = capsys.readouterr().err
    assert f"resumed from {folders[0].name}" in err and "unreadable safetensors file" in err
    assert result.epochs_run == 2  # the second epoch was redone from the first one's checkpoint


@pytest.mark.parametrize("damage", ["nan", "truncate", "empty", "flip-header", "flip-data"])
def test_damaged_weights_are_refused_with_the_file_named(tmp_path, damage):
    torch.manual_seed(0)
    model = create_model("test-tiny", task="binary")
    weights, _ = save_model(model, tmp_path / "m")
    if damage == "nan":
        state = model.state_dict()
        state["head.fc.weight"][0, 0] = float("nan")
        from workbench.models.checkpoint import save_tensors

        save_tensors(weights, state)
    elif damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:-1000])
    elif damage == "empty":
        weights.write_bytes(b"")
    else:  # a flipped byte inside the JSON header, or in the middle of the tensor data
        data = bytearray(weights.read_bytes())
        data[20 if damage == "flip-header" else len(data) // 2] ^= 0x01
        weights.write_bytes(bytes(data))
    with pytest.raises(DataError, match=str(weights).replace(".", r"\.")):
        load_model(tmp_path / "m")


def test_a_bad_architecture_is_refused_naming_the_config(tmp_path):
    import json

    torch.manual_seed(0)
    _, cfg_path = save_model(create_model("test-tiny", task="binary"), tmp_path / "m")
    cfg = json.loads(cfg_path.read_text())
    cfg["arch"]["embed_dim"] = -5
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(DataError, match=r"m\.json: not a valid checkpoint config .*embed_dim"):
        load_model(tmp_path / "m")
    cfg["arch"]["embed_dim"] = 24  # valid, but not the shape of the saved weights
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(DataError, match=r"m\.safetensors: weights do not fit"):
        load_model(tmp_path / "m")


def test_non_finite_probabilities_are_refused_not_written_as_no_bleed():
    from workbench.protocol.config import method_spec
    from workbench.evaluation.maps import weak_maps

    torch.manual_seed(0)
    model = create_model("test-tiny", task="binary").eval()
    with torch.no_grad():
        model.head.fc.bias.fill_(float("nan"))  # as corrupted weights loaded without the file checks would
    with pytest.raises(FloatingPointError, match="non-finite P\\(ICH\\) on 2 of 2 slices"):
        weak_maps(model, torch.rand(2, 3, 32, 32), None, {"hgi_sam": method_spec("hgi_sam").variant})


def test_a_full_disk_names_the_file_and_replaces_nothing(tmp_path, monkeypatch):
    import errno

    from workbench.utils.io import write_text_atomic

    dest = tmp_path / "metrics.csv"
    dest.write_text("old\n")

    def full(self, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError, match=r"metrics\.csv: no space left on the device while writing it"):
        write_text_atomic(dest, "new\n")
    monkeypatch.undo()
    assert dest.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]


def test_stale_temporary_files_of_a_killed_writer_are_cleaned(tmp_path):
    import time

    from workbench.utils.io import write_text_atomic

    stale = tmp_path / ".metrics.abc123.tmp.csv"  # what a kill during write_csv_atomic leaves
    stale.write_text("partial")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    fresh = tmp_path / ".metrics.def456.tmp.csv"  # another writer's, still young: kept
    fresh.write_text("in progress")
    write_text_atomic(tmp_path / "metrics.csv", "a,b\n")
    assert not stale.exists() and fresh.exists()


def test_a_full_disk_at_every_commit_point_of_a_run_then_resume_ends_identical(tmp_path, monkeypatch):
    from workbench.utils.io import FAULT_KIND_ENV, reset_faults

    _run(tmp_path / "straight")
    weights, metrics, step = _final(tmp_path / "straight")
    k = 0
    while True:
        k += 1
        out = tmp_path / f"full{k}"
        monkeypatch.setenv(FAULT_ENV, str(k))
        monkeypatch.setenv(FAULT_KIND_ENV, "enospc")
        reset_faults()
        try:
            _run(out)
        except OSError as err:
            assert "no space left on the device" in str(err) and str(out) in str(err), f"commit point {k}: {err}"
        else:
            break  # fewer than k commit points: every one was tried
        finally:
            monkeypatch.delenv(FAULT_ENV)
        _run(out, resume=(out / "train_config.json").is_file())  # nothing started: the user reruns plainly
        got_weights, got_metrics, got_step = _final(out)
        assert got_step == step and all(torch.equal(weights[n], got_weights[n]) for n in weights), f"commit point {k}"
        pd.testing.assert_frame_equal(metrics, got_metrics, obj=f"metrics after a full disk at commit point {k}")
        leftovers = [p.name for p in out.rglob("*.tmp*")]
        assert not leftovers, f"commit point {k}: temporary files left: {leftovers}"
    assert k > 10
