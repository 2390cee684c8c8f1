"""bench/bench_finetune.py's continuations: a fine-tune started from an earlier run skips that run's subjects
and is placed on one step axis with the runs before it."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import bench_finetune as bf  # noqa: E402
from workbench.models.reference import provenance  # noqa: E402
from workbench.training.recipes import RECIPES  # noqa: E402

BASE = RECIPES["reference-binary"]


def _run(folder, init, steps, best_step, subjects=(40000, 45335)):
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"recipe": {"init": init}}))
    (folder / "reference.json").write_text(json.dumps({"best_step": best_step,
                                                       "training_stream": {"subjects_used": list(subjects)}}))
    pd.DataFrame({"step": steps, "heldout_auc": 0.8, "heldout_auc_ge100px": 0.9}).to_csv(folder / "heldout.csv", index=False)
    return folder


def test_a_continuation_starts_past_the_subjects_of_the_run_it_continues(tmp_path):
    run = _run(tmp_path / "reference-binary-control", "reference-binary", [400], 400)
    shipped = bf.variant_recipe(BASE, "control", 800, 1e-4)
    assert shipped.init == "reference-binary" and shipped.stream.first_index == bf.FIRST_SUBJECT
    assert bf.first_subject("reference-binary") == bf.FIRST_SUBJECT
    more = bf.variant_recipe(BASE, "control", 800, 1e-4, init=str(run / "last"))
    assert more.init == str(run / "last") and more.stream.first_index == 45336
    assert more.train.epochs == 2 and more.stream.easy_hu == 0.0
    early = _run(tmp_path / "early", "reference-binary", [400], 400, subjects=(100, 900))
    assert bf.first_subject(str(early / "best")) == bf.FIRST_SUBJECT  # never before the fine-tunes' range
    with pytest.raises(ValueError, match="reference.json"):  # an unfinished run or a typo: its subjects are unknown
        bf.first_subject(str(tmp_path / "elsewhere" / "last"))


def test_the_curve_chain_places_each_fine_tune_at_the_step_whose_weights_it_took(tmp_path):
    shipped = provenance("reference-binary")
    start = shipped["best_step"]
    _run(tmp_path / "first", "reference-binary", [400, 800, 1200], best_step=800)
    _run(tmp_path / "second", str(tmp_path / "first" / "best"), [400, 800], best_step=400)
    _run(tmp_path / "third", str(tmp_path / "second" / "last"), [400], best_step=400)
    frames, starts = bf.curve_chain(tmp_path / "third", "reference-binary")
    assert len(frames) == 4 and frames[0]["step"].max() == start  # from scratch up to the shipped weights
    assert list(frames[0]["step"]) == [r["step"] for r in shipped["learning_curve"] if r["step"] <= start]
    assert starts == [start, start + 800, start + 800 + 800]  # first's best step, then second's last
    assert list(frames[1]["step"]) == [start + 400, start + 800, start + 1200]
    assert list(frames[2]["step"]) == [start + 1200, start + 1600]
    assert list(frames[3]["step"]) == [start + 2000]
    _run(tmp_path / "stray", str(tmp_path / "first" / "step-3"), [400], best_step=400)
    with pytest.raises(ValueError, match="step-3"):
        bf.curve_chain(tmp_path / "stray", "reference-binary")


def test_the_start_row_is_the_checkpoint_the_continuation_took(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "transfer.json").write_text(json.dumps({"best_step": 2400, "heldout_auc": 0.844, "train_seconds": 60.0,
                                                   "last": {"step": 4000, "heldout_auc": 0.8446}}))
    assert bf.start_scores(str(run / "last")) == {"step": 4000, "heldout_auc": 0.8446, "best_step": 4000}
    assert bf.start_scores(str(run / "best")) == {"best_step": 2400, "heldout_auc": 0.844}


def test_the_adjacent_variant_changes_the_input_recipe_not_the_architecture():
    recipe = bf.variant_recipe(BASE, "adjacent", 800, 1e-4)
    assert recipe.inputs == {"adjacent_slices": 1} and recipe.overrides == BASE.overrides
    assert recipe.init == "reference-binary" and recipe.name == "reference-binary-ft-adjacent"
    assert bf.variant_recipe(BASE, "avgmax", 800, 1e-4).inputs == {}
