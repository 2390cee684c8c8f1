"""Bad study inputs stop before any work, with messages naming the value and the valid choices."""

from __future__ import annotations

import pytest
import torch

import command_helpers
from workbench.commands import evaluate
from workbench.protocol.config import ProtocolConfig, load_protocol_config
from workbench.protocol.report import mask_rule_metrics
from workbench.protocol.run import load_protocol, run_protocol


def _cfg(cohort, tmp_path, **kw):
    manifest, root = cohort
    return ProtocolConfig(**{"manifest": str(manifest), "root": str(root), "output": str(tmp_path / "out"), "size": 32,
                          **kw})


def test_unknown_method_lists_the_choices(study_cohort, tmp_path):
    with pytest.raises(ValueError, match="unknown study method 'hgi'.*hgi_sam.*swin_unetr"):
        _cfg(study_cohort, tmp_path, methods=("hgi",), binary_checkpoint="x")


def test_devices_are_checked(study_cohort, study_classifiers, tmp_path):
    with pytest.raises(ValueError, match="unknown device 'gpu'; valid choices: auto, cpu, cuda"):
        _cfg(study_cohort, tmp_path, methods=("hgi_sam",), binary_checkpoint=str(study_classifiers["binary"]),
             device="gpu")
    if not torch.cuda.is_available():
        cfg = _cfg(study_cohort, tmp_path, methods=("hgi_sam",), binary_checkpoint=str(study_classifiers["binary"]),
                   device="cuda")
        with pytest.raises(RuntimeError, match="--device cuda asked for, but torch sees no GPU"):
            run_protocol(cfg)


def test_a_method_without_its_checkpoint_is_refused(study_cohort, tmp_path):
    with pytest.raises(ValueError, match="multilabel_checkpoint"):
        _cfg(study_cohort, tmp_path, methods=("swin_sam_multilabel",))


def test_missing_checkpoint_file_is_named(study_cohort, tmp_path):
    cfg = _cfg(study_cohort, tmp_path, methods=("hgi_sam",), binary_checkpoint=str(tmp_path / "nope" / "best"))
    with pytest.raises(FileNotFoundError, match="nope/best"):
        run_protocol(cfg)
    assert not (tmp_path / "out" / "cache").exists()


def test_unknown_fold_and_bad_threshold_mode(study_cohort, study_classifiers, tmp_path):
    with pytest.raises(ValueError, match="folds present"):
        run_protocol(_cfg(study_cohort, tmp_path, methods=("hgi_sam",), binary_checkpoint=str(study_classifiers["binary"]),
                       folds=(0, 7)))
    with pytest.raises(ValueError, match="threshold mode 'best'.*nested, fixed"):
        _cfg(study_cohort, tmp_path, methods=("unet",), threshold_mode="best")


def test_unknown_yaml_key_lists_valid_keys(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("manifest: m.csv\nroot: r\noutput: o\nmethod: [hgi_sam]\n")
    with pytest.raises(ValueError, match="unknown study config key.*'method'.*methods"):
        load_protocol_config(path)
    with pytest.raises(FileNotFoundError, match="not a study output folder"):
        load_protocol(tmp_path)


def test_evaluate_cli_runs_a_yaml_study(study_cohort, study_classifiers, tmp_path, capsys):
    manifest, root = study_cohort
    path = tmp_path / "s.yaml"
    path.write_text(f"manifest: {manifest}\nroot: {root}\noutput: out\nbinary_checkpoint: {study_classifiers['binary']}\n"
                    "methods: [hgi_sam]\nsize: 32\nbootstrap_resamples: 20\n")
    assert command_helpers.run_command(evaluate, ["--config", str(path), "--threshold-mode", "fixed"]) == 0
    assert "| hgi_sam |" in capsys.readouterr().out
    assert (tmp_path / "out" / "summary.csv").is_file()


def test_mask_rule_rates_by_hand():
    detected = torch.tensor([True, True, False, False, True])
    labels = torch.tensor([True, False, False, True, True])
    m = mask_rule_metrics(detected, labels)  # tp 2, fp 1, tn 1, fn 1
    assert m == pytest.approx({"accuracy": 3 / 5, "precision": 2 / 3, "recall": 2 / 3, "f1": 4 / 6,
                               "specificity": 1 / 2})
    assert mask_rule_metrics(torch.tensor([False]), torch.tensor([False]))["precision"] != 0  # NaN, not 0


def test_baseline_epoch_overrides_from_yaml(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("manifest: m.csv\nroot: r\noutput: o\nmethods: [unet, swin_unetr]\nbaseline_epochs: 4\n"
                    "baseline_epoch_overrides: {swin_unetr: 2}\n")
    cfg = load_protocol_config(path)
    assert cfg.epochs_of("swin_unetr") == 2 and cfg.epochs_of("unet") == 4
    assert load_protocol_config(path).to_dict()["baseline_epoch_overrides"] == {"swin_unetr": 2}
    path.write_text("manifest: m.csv\nroot: r\noutput: o\nmethods: [unet]\nbaseline_epoch_overrides: {unet3: 2}\n")
    with pytest.raises(ValueError, match="unknown baseline in baseline_epoch_overrides 'unet3'.*unet, swin_unetr"):
        load_protocol_config(path)
