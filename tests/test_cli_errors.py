"""Bad command lines fail at parse time with one line naming the option and its valid range; expected
failures print one ``workbench COMMAND: error:`` line (no traceback); outputs never overwrite inputs."""

from __future__ import annotations

import pytest

from workbench.cli import console
from workbench.data.synth import write_cohort


@pytest.mark.parametrize("argv, message", [
    (["explain", "--threshold", "-0.2"], "argument --threshold: threshold '-0.2': -0.2 is out of range; valid: a number >= 0 and <= 1"),
    (["explain", "--threshold", "1.5"], "1.5 is out of range"),
    (["explain", "--threshold", "nan"], "nan is out of range"),
    (["explain", "--threshold", "hgi_sam=inf"], "inf is out of range"),
    (["explain", "--batch-size", "0"], "argument --batch-size: 0 is out of range; valid: an integer >= 1"),
    (["train", "--max-steps", "-1"], "argument --max-steps: -1 is out of range; valid: an integer >= 0"),
    (["train", "--img-size", "0"], "argument --img-size: 0 is out of range; valid: an integer >= 16"),
    (["train", "--weight-decay", "-1"], "argument --weight-decay: -1 is out of range; valid: a number >= 0"),
    (["train", "--threads", "-1"], "argument --threads: -1 is out of range"),
    (["train", "--batch-size", "0"], "argument --batch-size: 0 is out of range"),
    (["train", "--lr", "0"], "argument --lr: 0 is out of range; valid: a number > 0"),
    (["baseline", "--epochs", "0"], "argument --epochs: 0 is out of range"),
    (["synth", "--p-ich", "2"], "argument --p-ich: 2 is out of range"),
    (["evaluate", "--threads", "0"], "argument --threads: 0 is out of range"),
])
def test_out_of_range_options_fail_at_parse_time(argv, message, capsys):
    base = {"explain": ["--checkpoint", "c", "--manifest", "m", "--root", "r", "--out", "o"],
            "train": ["--out", "o"], "baseline": ["--manifest", "m", "--root", "r", "--model", "unet", "--out", "o",
                                                  "--test-fold", "0"],
            "synth": ["--out", "o"], "evaluate": ["--config", "c.yaml"]}[argv[0]]
    with pytest.raises(SystemExit) as exit_info:
        console([argv[0], *base, *argv[1:]])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--methods", "hgi_sam", "gradcam", "hgi_sam"], "--methods repeats hgi_sam; give each method once"),
    (["--threshold", "0.3", "0.4"], "--threshold got 2 shared values [0.3, 0.4]"),
    (["--threshold", "hgi_sam=0.3", "hgi_sam=0.4"], "--threshold sets hgi_sam twice"),
])
def test_repeated_methods_and_thresholds_are_refused(extra, message, capsys):
    assert console(["explain", "--checkpoint", "c", "--manifest", "m", "--root", "r", "--out", "o", *extra]) == 2
    assert f"workbench explain: error: {message}" in capsys.readouterr().err


def test_usage_errors_found_after_parsing_exit_2_with_one_line(tmp_path, capsys):
    assert console(["train", "--out", str(tmp_path / "t")]) == 2  # once SystemExit(message): status 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("workbench train: error: --manifest, --root, --task required (or --recipe NAME")


def test_expected_failures_print_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("WORKBENCH_DEBUG", raising=False)
    code = console(["explain", "--checkpoint", str(tmp_path / "nope"), "--manifest", "m.csv", "--root", ".",
                    "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("workbench explain: error: ") and "nope.json: checkpoint config not found" in err[0]
    monkeypatch.setenv("WORKBENCH_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        console(["explain", "--checkpoint", str(tmp_path / "nope"), "--manifest", "m.csv", "--root", ".",
                 "--out", str(tmp_path / "out")])


def test_manifest_never_overwrites_the_datasets_own_files(tmp_path, capsys):
    root = write_cohort(tmp_path / "c", subjects=2, seed=1, size=32, n_slices=2)
    labels = root / "hemorrhage_diagnosis_raw_ct.csv"
    before = labels.read_bytes()
    code = console(["manifest", "--dataset", "synthetic", "--root", str(root), "--out", str(labels), "--folds", "0"])
    assert code == 1 and "is not a manifest" in capsys.readouterr().err  # 1: a data problem found while running
    assert labels.read_bytes() == before
    out = tmp_path / "m.csv"  # a manifest may replace an older manifest
    assert console(["manifest", "--dataset", "synthetic", "--root", str(root), "--out", str(out), "--folds", "0"]) == 0
    assert console(["manifest", "--dataset", "synthetic", "--root", str(root), "--out", str(out), "--folds", "0"]) == 0


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path, capsys):
    config = tmp_path / "study.yaml"
    config.write_text("manifest: m.csv\nmethods: [hgi_sam\nroot: r\n")
    assert console(["evaluate", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{config}: YAML syntax error at line" in err and "<unicode string>" not in err


def test_repeated_study_methods_and_a_zero_chunk_size_name_the_option():
    from pathlib import Path

    from workbench.data.ingest import scan_headers
    from workbench.protocol.config import ProtocolConfig

    with pytest.raises(ValueError, match="methods repeat hgi_sam; give each method once"):
        ProtocolConfig(manifest="m.csv", root=".", output="o", binary_checkpoint="b", methods=("hgi_sam", "hgi_sam"))
    with pytest.raises(ValueError, match=r"grid must be .* 0 <= start <= stop <= 1"):
        ProtocolConfig(manifest="m.csv", root=".", output="o", binary_checkpoint="b", methods=("hgi_sam",),
                    grid=(-0.5, 2.0, 0.1))
    with pytest.raises(ValueError, match="chunk_size must be >= 1, got workers=1, chunk_size=0"):
        scan_headers(Path("."), ["a.dcm"], key=b"k" * 32, prefix="rsna", chunk_size=0)
