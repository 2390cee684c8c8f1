"""Study grids: expansion and ids, a parallel run with a failure, resume, aggregation, Dask."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from command_helpers import run_command
from workbench.commands import study as study_command
from workbench.studies.config import expand_runs, load_study, run_id_for
from workbench.studies.grid import run_study
from workbench.studies.table import read_status
from workbench.utils.errors import DataError

STUDIES = Path(__file__).resolve().parents[2] / "studies"
GRID = {"grid": {"SCALE": [1.0, 2.0, 3.0]}, "runs": [{"SCALE": 1.0, "FAIL": True}]}  # 3 + 1 failing = 4 runs


def test_expand_product_list_and_stable_ids(write_study):
    config = load_study(write_study(grid={"SCALE": [1.0, 2.0], "LABEL": ["a", "b"]},
                                    runs=[{"SCALE": 1.0, "LABEL": "a"}, {"N_POINTS": 7}]))
    runs = expand_runs(config)
    assert len(runs) == 5  # 2 x 2 product + 1 new explicit run; the duplicate is dropped
    assert runs[0].parameters == {"N_POINTS": 3, "SCALE": 1.0, "LABEL": "a"}
    assert runs[0].run_id.startswith("label-a_scale-1.0-")
    assert runs[0].run_id == run_id_for({"SCALE": 1.0, "LABEL": "a"}, {"LABEL": "a", "SCALE": 1.0, "N_POINTS": 3})
    assert [r.run_id for r in expand_runs(config)] == [r.run_id for r in runs]  # stable
    assert load_study(write_study()).output.name == "tiny" and len(expand_runs(load_study(write_study()))) == 1


def test_config_errors_name_bad_values(write_study):
    with pytest.raises(ValueError, match="unknown parameter.*SCLAE.*valid choices: SCALE, N_POINTS"):
        expand_runs(load_study(write_study(grid={"SCLAE": [1]})))
    with pytest.raises(DataError, match="unknown key.*grids.*valid keys: name, notebook"):
        load_study(write_study(grids={"SCALE": [1]}))
    with pytest.raises(DataError, match="non-empty lists"):
        load_study(write_study(grid={"SCALE": 1}))


def test_parallel_grid_failure_resume_and_table(write_study):
    config = load_study(write_study(**GRID))
    outcome = run_study(config, workers=2)
    assert len(outcome.ran) == 4 and len(outcome.failed) == 1 and not outcome.skipped
    table = pd.read_csv(outcome.table_path)
    assert list(table.columns[:9]) == ["run_id", "state", "seconds", "error", "SCALE", "N_POINTS", "LABEL", "FAIL",
                                       "OUTPUT_DIR"]
    done = table[table.state == "done"].sort_values("SCALE")
    assert done.total.tolist() == [5.0, 10.0, 15.0] and (done.batch == 1).all()
    failed = table[table.state == "failed"].iloc[0]
    assert failed.run_id == outcome.failed[0] and "ValueError: asked to fail" in failed.error
    assert failed.error.startswith("cell ")
    status = read_status(config.output / "runs" / failed.run_id)
    assert status["error"]["ename"] == "ValueError" and "if FAIL" in status["error"]["source"]
    for run_id in done.run_id:  # OUTPUT_DIR convention: files land in the run's own folder
        assert (config.output / "runs" / run_id / "values.json").is_file()

    notebooks = {r: (config.output / "runs" / r / "tiny_study.ipynb").stat().st_mtime_ns for r in done.run_id}
    again = run_study(config, workers=2)  # resume: the finished runs are skipped, the failed one retried
    assert sorted(again.skipped) == sorted(done.run_id) and again.ran == outcome.failed
    assert {r: (config.output / "runs" / r / "tiny_study.ipynb").stat().st_mtime_ns for r in done.run_id} == notebooks
    assert len(again.table) == 4


def test_dry_run_lists_runs(write_study, capsys):
    assert run_command(study_command, ["--config", str(write_study(**GRID)), "--dry-run"]) == 0
    assert "4 to run, 0 finished" in capsys.readouterr().out


def test_same_grid_on_a_local_dask_cluster(write_study, capsys):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        rc = run_command(study_command, ["--config", str(write_study(**GRID)), "--scheduler", cluster.scheduler_address])
    out = capsys.readouterr().out
    assert rc == 1 and "4 ran, 0 skipped (finished), 1 failed" in out  # exit code 1: a run failed
    table = pd.read_csv(out.split("results: ")[1].strip())
    assert sorted(table.state) == ["done", "done", "done", "failed"]


@pytest.mark.parametrize("path", sorted(STUDIES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_file_in_studies_is_a_notebook_grid(path):
    """studies/ holds papermill grids only; the K-fold protocol's configs live in protocols/."""
    config = load_study(path)
    assert expand_runs(config) and config.notebook.is_file()


@pytest.mark.parametrize("path", sorted((STUDIES.parent / "protocols").glob("*.yaml")), ids=lambda p: p.name)
def test_every_file_in_protocols_is_a_protocol_config(path):
    from workbench.protocol import load_protocol_config

    cfg = load_protocol_config(path)
    assert cfg.methods and "notebook" not in (yaml.safe_load(path.read_text()) or {})
