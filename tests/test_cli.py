"""The acceptance path from a shell: ``workbench synth`` then ``workbench manifest``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from workbench.data.manifest import read_manifest


def sh(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("workbench")
    env = dict(os.environ, WORKBENCH_PROGRESS="1")
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=300)


def test_synth_then_manifest_from_a_shell(tmp_path: Path):
    out = tmp_path / "cohort"
    r = sh("synth", "--out", str(out), "--subjects", "4", "--seed", "1", "--size", "96", "--slices", "8", cwd=tmp_path)
    assert "physionet" in r.stdout
    assert "100%" in r.stderr  # a progress bar ran
    root = out / "physionet"
    assert sorted(p.name for p in (root / "ct_scans").iterdir()) == ["001.nii", "002.nii", "003.nii", "004.nii"]
    m = tmp_path / "m.csv"
    r = sh("manifest", "--dataset", "physionet", "--root", str(root), "--out", str(m), "--folds", "2", cwd=tmp_path)
    assert "32 slices, 4 subjects" in r.stdout and "100%" in r.stderr
    frame = read_manifest(m)
    assert len(frame) == 32 and sorted(frame["fold"].unique()) == [0, 1]
    assert pd.read_csv(tmp_path / "m.skipped.csv").empty
    # the same cohort as the synthetic dataset also carries the subtype label volumes
    r = sh("manifest", "--dataset", "synthetic", "--root", str(root), "--out", str(tmp_path / "s.csv"), "--folds", "2", cwd=tmp_path)
    assert (read_manifest(tmp_path / "s.csv")["label_path"] != "").all()


def test_bad_dataset_name_lists_choices(tmp_path: Path):
    exe = Path(sys.executable).with_name("workbench")
    r = subprocess.run([str(exe), "manifest", "--dataset", "nope", "--root", ".", "--out", "x.csv"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode != 0 and "physionet" in r.stderr and "synthetic" in r.stderr


def test_demo_data_step_writes_both_cohorts_when_it_trains(tmp_path: Path):
    r = sh("demo", "--train", "--until", "data", "--out", str(tmp_path / "demo"), "--subjects", "5", "--train-subjects", "3",
           "--size", "64", "--train-size", "48", "--slices", "6", "--folds", "2", cwd=tmp_path)
    assert "manifest" in r.stdout and "1/5 synthetic cohorts" in r.stdout
    frame = read_manifest(tmp_path / "demo" / "data" / "eval" / "manifest.csv")
    assert len(frame) == 30 and frame["subject_id"].nunique() == 5
    train = read_manifest(tmp_path / "demo" / "data" / "train" / "manifest.csv")
    assert train["subject_id"].nunique() == 3  # another seed: the classifiers never see evaluation subjects
    r = sh("demo", "--train", "--until", "data", "--out", str(tmp_path / "demo"), "--subjects", "5", "--train-subjects", "3",
           "--size", "64", "--train-size", "48", "--slices", "6", "--folds", "2", cwd=tmp_path)
    assert "done before, skipped" in r.stdout


def test_demo_explains_the_shipped_reference_classifiers_by_default(tmp_path: Path):
    import json

    from workbench.models import load_model
    from workbench.models.context import load_context
    from workbench.models.reference import explain_defaults, provenance

    r = sh("demo", "--until", "train", "--out", str(tmp_path / "demo"), "--subjects", "3", "--size", "64",
           "--slices", "4", "--folds", "2", cwd=tmp_path)
    assert not (tmp_path / "demo" / "data" / "train").exists()  # no training cohort, no training
    state = json.loads((tmp_path / "demo" / "demo.json").read_text())
    for task in ("binary", "multilabel"):
        record = provenance(f"reference-{task}")
        assert f"reference-{task}, trained by `{record['command']}`" in r.stdout
        low, high = record["heldout"]["auc_any_ci"]
        assert f"held-out ROC-AUC {record['heldout']['auc_any']:.3f} [95 % CI {low:.3f}-{high:.3f}]" in r.stdout
        folder = tmp_path / "demo" / state["models"][task]
        assert json.loads((folder / "best.provenance.json").read_text()) == record
        assert explain_defaults(folder) == record["explain_defaults"]  # `workbench explain` on the copy is gated
        assert load_context(folder) is not None  # and reads the scan-context head
        assert load_model(folder).workbench_config.task == task
        assert state["reference"][task]["heldout_auc"] == record["heldout"]["auc_any"]


def test_demo_redoes_its_steps_when_the_shipped_classifiers_change(tmp_path: Path):
    """An update that ships new reference weights used to leave a demo folder explaining the old
    copies ("done before, skipped" with the old held-out AUC); the steps record the weights'
    fingerprints and redo from the classifiers on when they differ."""
    import json

    args = ("demo", "--until", "train", "--out", str(tmp_path / "demo"), "--subjects", "3", "--size", "64",
            "--slices", "4", "--folds", "2")
    sh(*args, cwd=tmp_path)
    path = tmp_path / "demo" / "demo.json"
    state = json.loads(path.read_text())
    assert state["steps"]["data"]["inputs"] == {} and set(state["steps"]["train:binary"]["inputs"]) == {
        "reference-binary", "reference-multilabel"}
    again = sh(*args, cwd=tmp_path).stdout
    assert again.count("done before, skipped") == 3
    state["steps"]["train:binary"]["inputs"]["reference-multilabel"] = "sha256:an-older-release"
    path.write_text(json.dumps(state))
    r = sh(*args, cwd=tmp_path).stdout
    assert "train:binary: redone, the shipped reference-multilabel changed" in r
    assert r.count("done before, skipped") == 2  # the data and the multilabel step stand


def test_a_redone_studies_step_reruns_the_grids_it_had_finished(tmp_path: Path, monkeypatch):
    """The notebook grids skip runs they finished; when the demo redoes the step because the shipped
    classifiers changed, the grids are forced, or their notebooks would explain the old weights."""
    from workbench.demo import steps
    from workbench.demo.settings import DemoSettings

    seen = []
    monkeypatch.setattr(steps, "_study_configs", lambda state: [_Config()])
    monkeypatch.setattr("workbench.studies.grid.run_study",
                        lambda config, executor=None, force=False: seen.append(force) or _Outcome())
    state = steps._State(tmp_path, DemoSettings())
    steps._studies(state)
    state.redone.add("studies")
    steps._studies(state)
    assert seen == [False, True]


class _Outcome:
    ran, skipped, failed, table_path = (), (), (), "results.csv"


class _Config:
    name = "explore"


def test_demo_redoes_the_study_when_the_methods_change(tmp_path: Path, monkeypatch, capsys):
    """An update that adds a method (the study's or explain's) used to leave a finished demo folder
    without it: the steps from the comparison study on record the method set and redo when it changes;
    the classifier steps do not depend on it."""
    from workbench.demo import steps
    from workbench.demo.settings import DemoSettings

    state = steps._State(tmp_path, DemoSettings())
    for step in ("train:binary", "evaluate", "studies"):
        state.finish(step, step.split(":")[0], 1.0)
    assert "methods" in state.data["steps"]["evaluate"]["inputs"]
    assert "methods" not in state.data["steps"]["train:binary"]["inputs"]
    assert all(state.done(step, step.split(":")[0]) for step in ("train:binary", "evaluate", "studies"))
    monkeypatch.setattr("workbench.protocol.config.WEAK_METHODS", {"hgi_sam": None})  # a release with other methods
    assert state.done("train:binary", "train")
    assert not state.done("evaluate", "evaluate") and not state.done("studies", "studies")
    assert "evaluate: redone, the methods changed since it ran" in capsys.readouterr().out


def test_demo_redoes_the_notebook_studies_when_a_notebook_changes(tmp_path: Path, monkeypatch, capsys):
    """An edited notebook used to leave a finished demo folder showing reports of the old notebook
    ("done before, skipped"): the studies and reports record the notebooks' cells and redo when they
    change; outputs saved by JupyterLab do not count, the evaluate step does not depend on them."""
    import json

    from workbench.demo import steps
    from workbench.demo.settings import DemoSettings

    checkout = tmp_path / "checkout"
    (checkout / "notebooks").mkdir(parents=True)
    (checkout / "studies").mkdir()
    nb = {"cells": [{"cell_type": "code", "source": ["x = 1\n", "x"], "outputs": [], "metadata": {}}], "metadata": {}}
    path = checkout / "notebooks" / "a.ipynb"
    path.write_text(json.dumps(nb))
    first = steps._notebooks_fingerprint(checkout)
    nb["cells"][0]["outputs"] = [{"output_type": "execute_result", "data": {"text/plain": "1"}}]
    nb["metadata"] = {"kernelspec": {"name": "python3"}}
    path.write_text(json.dumps(nb))
    assert steps._notebooks_fingerprint(checkout) == first  # run and saved: the same notebook
    nb["cells"][0]["source"] = ["x = 2\n", "x"]
    path.write_text(json.dumps(nb))
    edited = steps._notebooks_fingerprint(checkout)
    assert edited != first
    (checkout / "studies" / "grid.yaml").write_text("name: grid\n")
    assert steps._notebooks_fingerprint(checkout) != edited  # a study grid is an input too

    state = steps._State(tmp_path / "demo", DemoSettings())
    for step in ("evaluate", "studies", "reports"):
        state.finish(step, step, 1.0)
    assert "notebooks" in state.data["steps"]["studies"]["inputs"] and "notebooks" not in state.data["steps"]["evaluate"]["inputs"]
    monkeypatch.setattr(steps, "_notebooks_fingerprint", lambda root=None: "an-edited-notebook")
    assert state.done("evaluate", "evaluate")
    assert not state.done("studies", "studies") and not state.done("reports", "reports")
    assert "studies: redone, the notebooks changed since it ran" in capsys.readouterr().out
    assert "studies" in state.redone  # so the grids are forced, not skipped as finished
