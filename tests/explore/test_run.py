"""resolve_run: demo folders, training runs, overrides and the errors that name what is wrong."""

from __future__ import annotations

import pytest

from workbench.explore.run import load_run, resolve_run
from workbench.models import ich_index


def test_demo_folder_resolves_model_and_evaluation_cohort(tiny_run):
    paths = resolve_run(tiny_run["demo"], "multilabel")
    assert paths.model == tiny_run["demo"] / "models" / "multilabel"
    assert paths.manifest.resolve() == tiny_run["manifest"].resolve() and paths.root.resolve() == tiny_run["root"].resolve()


def test_training_run_uses_its_own_manifest_unless_overridden(tiny_run, tmp_path):
    assert resolve_run(tiny_run["run"]).manifest == tiny_run["manifest"]
    other = tmp_path / "m.csv"
    other.write_text(tiny_run["manifest"].read_text())
    assert resolve_run(tiny_run["run"], manifest=other).manifest == other


def test_errors_name_the_folder_and_the_choices(tiny_run, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*make demo"):
        resolve_run(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="neither a demo folder"):
        resolve_run(tmp_path)
    with pytest.raises(ValueError, match="unknown model 'nope'.*binary, multilabel"):
        resolve_run(tiny_run["demo"], "nope")


def test_load_run_matches_model_input_and_targets(tiny_run):
    model, ds = load_run(tiny_run["demo"], "binary")
    assert ds.size == model.workbench_config.arch.img_size == 32 and ich_index(model) == 1
    assert ich_index(load_run(tiny_run["demo"], "multilabel")[0]) == 0  # the "any" logit
