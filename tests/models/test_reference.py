"""The shipped reference classifiers: they load by name, their provenance is complete, their training
seeds never touch an evaluated cohort, and their recorded AUC is reproduced from scratch."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import torch

from workbench.demo.settings import TINY, DemoSettings
from workbench.models import load_model
from workbench.models.reference import REFERENCE_DIR, REFERENCE_NAMES, provenance
from workbench.training.reference import check_cohort_auc
from workbench.training.recipes import RECIPES
from workbench.training.stream import StreamConfig, check_disjoint

ROOT = Path(__file__).resolve().parents[2]


def _bench_constant(script: str, name: str) -> int:
    """The module-level integer ``name = <int>`` of ``bench/<script>.py``, read without running the script."""
    tree = ast.parse((ROOT / "bench" / f"{script}.py").read_text())
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:  # NAME = 1, or A, NAME = 2, 1
            if isinstance(target, ast.Name) and target.id == name:
                return int(ast.literal_eval(node.value))
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                for t, v in zip(target.elts, node.value.elts):
                    if isinstance(t, ast.Name) and t.id == name:
                        return int(ast.literal_eval(v))
    raise AssertionError(f"bench/{script}.py declares no {name} = <int>")


def evaluated_cohort_seeds() -> dict[str, int]:
    """Every synthetic cohort the demo, the study and the benchmarks evaluate on (or train their own on)."""
    seeds = {"demo evaluation": DemoSettings().seed, "demo training": DemoSettings().seed + 1,
             "tiny demo": TINY.seed, "study evaluation": _bench_constant("study_synthetic", "EVAL_SEED"),
             "study training": _bench_constant("study_synthetic", "TRAIN_SEED")}
    for script in ("bench_train", "bench_baselines", "bench_dataset", "bench_finetune"):
        seeds[script] = _bench_constant(script, "COHORT_SEED")
    for recipe in RECIPES.values():
        seeds[f"{recipe.name} validation"] = recipe.val.seed
        seeds[f"{recipe.name} held-out"] = recipe.test.seed
    return seeds


def test_every_bench_script_that_writes_a_cohort_declares_its_seed():
    for path in sorted((ROOT / "bench").glob("*.py")):
        text = path.read_text()
        if re.search(r"write_cohort\(", text) and path.stem not in ("figure_synth",):
            assert re.search(r"^(COHORT_SEED|EVAL_SEED)", text, re.M), f"{path.name} writes a cohort without a seed constant"


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_loads_by_name_with_complete_provenance(name):
    model = load_model(name)
    cfg = model.workbench_config
    assert cfg.task == name.split("-")[1] and not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    record = provenance(name)
    for key in ("command", "git_commit", "training_stream", "steps", "train_seconds", "machine", "heldout", "recipe"):
        assert key in record, f"{name}.provenance.json lacks {key}"
    assert record["command"].startswith(f"workbench train --recipe {name}")
    assert record["machine"]["cpu"] and record["steps"] > 0 and record["train_seconds"] > 0
    assert 0.0 <= record["heldout"]["auc_any"] <= 1.0
    assert record["shipped"]["storage"] == "float16"


def test_shipped_files_are_small_and_the_only_weights_in_git():
    files = sorted(REFERENCE_DIR.glob("reference-*.safetensors"))
    heads = [f for f in files if f.name.endswith(".context.safetensors")]
    assert [f.stem for f in files if f not in heads] == sorted(REFERENCE_NAMES)
    assert [f.name.removesuffix(".context.safetensors") for f in heads] == sorted(REFERENCE_NAMES)
    assert sum(f.stat().st_size for f in files) <= 25 * 2**20
    assert all(f.stat().st_size < 64 * 2**10 for f in heads)  # a few thousand parameters each


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_context_head_ships_and_its_recorded_auc_is_reproduced(name):
    """The scan-context head beside each reference classifier: it loads, it trained on subjects no
    cohort is evaluated on, and its check-cohort AUCs (without and with context) are recomputed."""
    from workbench.models.context import context_path, load_context
    from workbench.training.reference import check_cohort_context_auc

    record = provenance(name)["context"]
    head = load_context(name)
    assert head is not None and context_path(name).name == record["file"]
    assert record["training_cohort"]["seed"] not in evaluated_cohort_seeds().values()
    for what in ("validation", "heldout"):
        assert record["scores"][what]["cohort"]["seed"] != record["training_cohort"]["seed"]
    check = record["check_cohort"]
    got = check_cohort_context_auc(load_model(name), head, check["seed"], check["subjects"], check["size"],
                                   check["slices_per_subject"])
    assert got["slices"] == check["slices"]
    assert got["auc_slice"] == pytest.approx(check["auc_slice"], abs=0.01)
    assert got["auc_context"] == pytest.approx(check["auc_context"], abs=0.01)


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_training_seeds_are_disjoint_from_every_evaluated_cohort(name):
    record = provenance(name)
    stream = StreamConfig.from_dict(record["training_stream"]["stream"])
    first, last = record["training_stream"]["subjects_used"]
    assert first == stream.first_index and last >= first
    for what, seed in evaluated_cohort_seeds().items():
        check_disjoint(stream, {what: (seed, range(100_000))})  # raises on a shared (seed, subject)


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_recorded_auc_is_reproduced_on_the_check_cohort(name):
    record = provenance(name)
    check = record["shipped"]["check_cohort"]
    got = check_cohort_auc(load_model(name), check["seed"], check["subjects"], check["size"], check["slices_per_subject"])
    assert got["slices"] == check["slices"] == check["subjects"] * check["slices_per_subject"]
    assert got["positives"] == check["positives"]
    assert got["auc_any"] == pytest.approx(check["auc_any"], abs=0.01)
    # the small cohort is a sample of the full held-out cohort: same ballpark
    assert got["auc_any"] == pytest.approx(record["heldout"]["auc_any"], abs=0.1)


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_shipped_explain_defaults_come_from_the_validation_cohort(name):
    from workbench.api import DEFAULT_METHODS
    from workbench.models.reference import explain_defaults

    record = provenance(name)
    defaults = explain_defaults(name)
    assert set(defaults["methods"]) == set(DEFAULT_METHODS)
    for m in defaults["methods"].values():
        assert 0.0 <= m["gate"] <= 1.0 and 0.0 <= m["threshold"] <= 1.0
    assert defaults["cohort"]["seed"] == record["validation_cohort"]["seed"] != record["heldout_cohort"]["seed"]
    assert defaults["subjects"] == record["validation_cohort"]["subjects"]


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_held_out_intervals_are_recorded_around_the_shipped_aucs(name):
    """``bench/bench_heldout_ci.py --record``: the shipped weights' AUC and its subject-bootstrap interval."""
    held, shipped = provenance(name)["heldout"], provenance(name)["context"]["scores"]["heldout"]  # shipped: float16
    low, high = held["auc_any_ci"]
    assert shipped["auc_slice"] == pytest.approx(held["auc_any"], abs=0.005)  # float16 rounding only
    assert low < shipped["auc_slice"] < high and high - low > 0.05  # 40 subjects: a wide interval
    assert shipped["auc_context_ci"][0] < shipped["auc_context"] < shipped["auc_context_ci"][1]


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_provenance_is_strict_json(name):
    def refuse(constant):
        raise AssertionError(f"{name}.provenance.json holds {constant}: not JSON that every reader accepts")

    json.loads((REFERENCE_DIR / f"{name}.provenance.json").read_text(), parse_constant=refuse)
