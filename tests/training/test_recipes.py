"""A recipe end to end on tiny sizes: cohorts, stream training, held-out curve, provenance, export, load."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from workbench.evaluation.auc_bootstrap import auc_interval, bootstrap_auc
from workbench.models.checkpoint import load_model
from workbench.training.context import cohort_probabilities
from workbench.training.heldout import PARTITION
from workbench.training.reference import check_cohort_auc, export_reference, record_heldout_intervals
from workbench.training.recipes import RECIPES, CohortSpec, check_same_recipe, get_recipe, run_recipe
from workbench.utils.errors import DataError

TINY = dataclasses.replace(
    RECIPES["reference-binary"], name="reference-binary", preset="test-tiny",
    stream=dataclasses.replace(RECIPES["reference-binary"].stream, seed=51, source_size=64, n_slices=6,
                               subjects_per_chunk=2, batch_size=8, easy_hold_steps=2, easy_anneal_steps=2),
    train=dataclasses.replace(RECIPES["reference-binary"].train, epochs=2, steps_per_epoch=3, batch_size=8,
                              warmup_steps=1, num_workers=0, precision="fp32"),
    val=CohortSpec(52, 3, size=64, slices=6), test=CohortSpec(53, 4, size=64, slices=6))


def test_recipe_trains_records_and_ships(tmp_path, monkeypatch):
    import workbench.models.reference as reference

    record = run_recipe(TINY, tmp_path / "run", tmp_path / "data", command="workbench train --recipe reference-binary")
    assert record["steps"] == 6 and record["training_stream"]["subjects_used"] == [0, 7]  # 48 slices = 4 chunks of 2 subjects
    assert record["validation_cohort"]["seed"] == 52 and record["heldout"]["slices"] == 24
    assert set(record["heldout"]["by_source_px"]) == {"1-24", "25-99", "100-399", ">=400", ">=100"}
    strata = record["heldout"]["by_contrast"]
    assert {"<5 HU", "5-15 HU", ">=15 HU", ">=15 HU, >=100 px"} <= set(strata)
    assert sum(s["positives"] for k, s in strata.items() if k in PARTITION) == record["heldout"]["positives"]
    # the held-out AUC's subject-bootstrap interval: the best checkpoint's scores, resampled by subject
    frame, probs, _ = cohort_probabilities(load_model(tmp_path / "run" / "best"), TINY.test, tmp_path / "data")
    ci = bootstrap_auc({"any": probs}, frame["any"], frame["subject_id"].astype(str),
                       generator=torch.Generator().manual_seed(0)).aucs["any"]
    assert ci.estimate == pytest.approx(record["heldout"]["auc_any"], abs=1e-6) and ci.n_groups == 4
    assert record["heldout"]["auc_any_ci"] == pytest.approx([ci.low, ci.high], abs=1e-6)
    curve = (tmp_path / "run" / "heldout.csv").read_text().splitlines()
    assert curve[0] == "epoch,step,val_auc,heldout_auc,heldout_auc_ge100px" and len(curve) == 3
    assert json.loads((tmp_path / "run" / "reference.json").read_text())["machine"]["cpu"]
    # the cohorts are reused, and the run resumes as finished
    again = run_recipe(TINY, tmp_path / "run", tmp_path / "data", resume=True)
    assert again["steps"] == 6 and again["heldout"]["auc_any"] == pytest.approx(record["heldout"]["auc_any"])
    # ... but not as another recipe: the trainer's check sees the schedule, this one the stream and the start
    moved = dataclasses.replace(TINY, stream=dataclasses.replace(TINY.stream, first_index=100), note="other words")
    with pytest.raises(ValueError, match=r"another recipe.*stream.*'first_index': 0"):
        run_recipe(moved, tmp_path / "run", tmp_path / "data", resume=True)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["recipe"]["stream"]["first_index"] == 0  # untouched

    monkeypatch.setattr(reference, "REFERENCE_DIR", tmp_path / "shipped")
    path = export_reference(tmp_path / "run", "reference-binary", tmp_path / "shipped")
    shipped = json.loads(path.read_text())
    model = load_model("reference-binary")  # by name, from the (patched) package folder
    check = shipped["shipped"]["check_cohort"]
    assert check_cohort_auc(model, 53, check["subjects"], 64, 6)["auc_any"] == pytest.approx(check["auc_any"], abs=1e-6)
    # launched by a benchmark under another name: the documented command, the launching one kept
    path = export_reference(tmp_path / "run", "reference-binary", tmp_path / "shipped",
                            command="workbench train --recipe reference-binary --out runs/reference-binary")
    again = json.loads(path.read_text())
    assert again["command"].endswith("--out runs/reference-binary") and again["trained_as"] == shipped["command"]
    # the shipped weights' held-out interval, recorded in the provenance (no context head here: none written)
    written = record_heldout_intervals("reference-binary", tmp_path / "data", tmp_path / "shipped")
    frame, probs, _ = cohort_probabilities(load_model("reference-binary"), TINY.test, tmp_path / "data")
    ci = auc_interval(probs, frame["any"], frame["subject_id"].astype(str))
    held = json.loads(path.read_text())["heldout"]
    assert held["auc_any_ci"] == pytest.approx([ci.low, ci.high])
    assert "auc_context_ci" not in written and held["interval"].startswith("95 % subject-bootstrap")


def test_overlapping_seeds_are_refused_before_training(tmp_path):
    clash = dataclasses.replace(TINY, val=CohortSpec(TINY.stream.seed, 2, size=64, slices=6))
    with pytest.raises(DataError, match="overlap the training stream"):
        run_recipe(clash, tmp_path / "run", tmp_path / "data")
    assert not (tmp_path / "run" / "train_config.json").exists()


def test_unknown_recipe_lists_the_valid_ones():
    with pytest.raises(ValueError, match="reference-binary, reference-binary-128px, reference-binary-2.5d, reference-multilabel"):
        get_recipe("reference")


def test_a_fine_tuning_recipe_starts_from_its_init_weights(tmp_path):
    import torch

    from workbench.models.checkpoint import save_model
    from workbench.models.factory import create_model
    from workbench.training.recipes import _start_from

    source = create_model("test-tiny", task="binary")
    save_model(source, tmp_path / "start")
    fresh = create_model("test-tiny", task="binary")
    _start_from(fresh, str(tmp_path / "start"))
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), source.state_dict().values()))
    with pytest.raises(ValueError, match=r"init .*start.* differs .*task binary \(recipe: multilabel\)"):
        _start_from(create_model("test-tiny", task="multilabel"), str(tmp_path / "start"))
    recipe = dataclasses.replace(TINY, init=str(tmp_path / "start"))
    assert recipe.to_dict()["init"] == str(tmp_path / "start") and TINY.to_dict()["init"] == ""



def test_a_2p5d_recipe_trains_on_stacked_slices_and_says_so(tmp_path):
    stacked = dataclasses.replace(TINY, inputs={"adjacent_slices": 1},
                                  train=dataclasses.replace(TINY.train, epochs=1))
    assert stacked.to_dict()["inputs"] == {"adjacent_slices": 1} and "inputs" not in TINY.to_dict()
    record = run_recipe(stacked, tmp_path / "run", tmp_path / "data")
    cfg = load_model(tmp_path / "run" / "best").workbench_config
    assert cfg.adjacent_slices == 1 and cfg.arch.in_chans == 9 and record["heldout"]["slices"] == 24
    assert json.loads((tmp_path / "run" / "run.json").read_text())["recipe"]["inputs"] == {"adjacent_slices": 1}
    with pytest.raises(ValueError, match=r"another recipe; changed: inputs \{'adjacent_slices': 1\} -> \{\}"):
        check_same_recipe(tmp_path / "run", dataclasses.replace(stacked, inputs={}))  # the single-slice recipe


def test_a_cranium_background_cohort_is_written_beside_the_procedural_one(tmp_path):
    from workbench.data import cranium
    from workbench.training.recipes import ensure_cohort

    if not cranium.cranium_available():
        pytest.skip("needs Debian package invesalius-examples (Cranium.inv3)")
    spec = CohortSpec(57, 2, size=64, slices=4)
    root, frame = ensure_cohort(spec, tmp_path, background="cranium")
    assert root.parent.name == f"{spec.name}_cranium" and len(frame) == 8
    assert json.loads((root / "cohort.json").read_text())["arguments"]["background"] == "cranium"
    plain, _ = ensure_cohort(spec, tmp_path)
    assert plain.parent.name == spec.name


def test_a_fine_tuning_recipe_may_change_the_pooling_not_the_weights(tmp_path):
    from workbench.models.checkpoint import save_model
    from workbench.models.factory import create_model
    from workbench.training.recipes import _start_from

    save_model(create_model("test-tiny", task="binary"), tmp_path / "start")
    _start_from(create_model("test-tiny", task="binary", global_pool="avgmax"), str(tmp_path / "start"))
    with pytest.raises(ValueError, match="parameters: .* of other names or shapes"):
        _start_from(create_model("test-tiny", task="binary", embed_dim=24), str(tmp_path / "start"))


def test_run_recipe_starts_from_its_init_before_training(tmp_path, monkeypatch):
    import workbench.training.recipes as recipes

    class Stop(Exception):
        pass

    seen = []

    def start_from(model, source):
        seen.append(source)
        raise Stop

    monkeypatch.setattr(recipes, "_start_from", start_from)
    with pytest.raises(Stop):
        run_recipe(dataclasses.replace(TINY, init="runs/earlier/best"), tmp_path / "run", tmp_path / "data")
    assert seen == ["runs/earlier/best"] and not (tmp_path / "run" / "train_config.json").exists()



def test_the_same_recipe_check_names_each_difference_and_ignores_the_note(tmp_path):
    check_same_recipe(tmp_path, TINY)  # no run.json: nothing to check
    (tmp_path / "run.json").write_text(json.dumps({"recipe": TINY.to_dict()}))
    check_same_recipe(tmp_path, dataclasses.replace(TINY, note="reworded"))
    other = dataclasses.replace(TINY, init="runs/x/last", train=dataclasses.replace(TINY.train, epochs=3))
    with pytest.raises(ValueError, match="another recipe") as err:
        check_same_recipe(tmp_path, other)
    assert "init '' -> 'runs/x/last'" in str(err.value) and "train" in str(err.value) and "stream" not in str(err.value)
    old = {k: v for k, v in TINY.to_dict().items() if k != "init"}  # recorded before the field existed
    (tmp_path / "run.json").write_text(json.dumps({"recipe": old}))
    check_same_recipe(tmp_path, TINY)
