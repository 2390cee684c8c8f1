"""bench/bench_finetune.py's continuation: a fine-tune started from an earlier run skips that run's subjects."""

import json
import sys

import pandas as pd
import pytest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import bench_finetune as bf  # noqa: E402
from workbench.models.reference import provenance  # noqa: E402
from workbench.training.recipes import RECIPES  # noqa: E402


def test_a_continuation_starts_past_the_subjects_of_the_run_it_continues(tmp_path):
    run = tmp_path / "reference-binary-control"
    run.mkdir()
    (run / "reference.json").write_text(json.dumps({"training_stream": {"subjects_used": [40000, 45335]}}))
    base = RECIPES["reference-binary"]
    shipped = bf.variant_recipe(base, "control", 800, 1e-4)
    assert shipped.init == "reference-binary" and shipped.stream.first_index == bf.FIRST_SUBJECT
    more = bf.variant_recipe(base, "control", 800, 1e-4, init=str(run / "last"))
    assert more.init == str(run / "last") and more.stream.first_index == 45336
    assert bf.first_subject(str(tmp_path / "elsewhere" / "last")) == bf.FIRST_SUBJECT  # no run record: the default
    assert more.train.epochs == 2 and more.stream.easy_hu == 0.0


def _run(folder, init, steps, best_step):
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"recipe": {"init": init}}))
    (folder / "reference.json").write_text(json.dumps({"best_step": best_step}))
    pd.DataFrame({"step": steps, "heldout_auc": 0.8, "heldout_auc_ge100px": 0.9}).to_csv(folder / "heldout.csv", index=False)


def test_the_curve_chain_places_each_fine_tune_at_the_step_whose_weights_it_took(tmp_path):
    shipped = provenance("reference-binary")
    _run(tmp_path / "first", "reference-binary", [400, 800, 1200], best_step=800)
    _run(tmp_path / "from_last", str(tmp_path / "first" / "last"), [400, 800], best_step=400)
    _run(tmp_path / "from_best", str(tmp_path / "first" / "best"), [400], best_step=400)
    frames, starts = bf.curve_chain(tmp_path / "from_last", "reference-binary")
    assert len(frames) == 3 and list(frames[0]["step"]) == [r["step"] for r in shipped["learning_curve"]]
    assert starts == [shipped["best_step"], shipped["best_step"] + 1200]  # the shipped weights are its best step
    assert list(frames[2]["step"]) == [shipped["best_step"] + 1200 + 400, shipped["best_step"] + 1200 + 800]
    assert bf.curve_chain(tmp_path / "from_best", "reference-binary")[1] == [shipped["best_step"], shipped["best_step"] + 800]
    _run(tmp_path / "stray", str(tmp_path / "first" / "step-3"), [400], best_step=400)
    with pytest.raises(ValueError, match="step-3"):
        bf.curve_chain(tmp_path / "stray", "reference-binary")
