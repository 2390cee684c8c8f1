"""bench/bench_adjacent.py's report: the 2.5D run's curve beside the shipped run's, step by step, and the strata."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import bench_adjacent as ba  # noqa: E402
from workbench.models.reference import provenance  # noqa: E402


def test_the_report_pairs_steps_and_strata(tmp_path, monkeypatch):
    def write_result(name, title, body):
        (tmp_path / f"{name}.md").write_text(body)
        return tmp_path / f"{name}.md"

    monkeypatch.setattr(ba, "RESULTS", tmp_path)
    monkeypatch.setattr(ba, "write_result", write_result)
    run = tmp_path / "run"
    run.mkdir()
    pd.DataFrame({"epoch": [1, 2], "step": [400, 800], "val_auc": [0.7, 0.75], "heldout_auc": [0.8, 0.9],
                  "heldout_auc_ge100px": [0.9, 0.95]}).to_csv(run / "heldout.csv", index=False)
    text = ba.render("binary", run).read_text()
    shipped = {r["step"]: r for r in provenance("reference-binary")["learning_curve"]}
    assert f"| 400 | {shipped[400]['val_auc']:.3f} | {shipped[400]['heldout_auc']:.3f} | 0.700 | **0.800** | " \
           f"{0.8 - shipped[400]['heldout_auc']:+.3f} |" in text
    assert "has not finished: 2 of its epochs" in text and (tmp_path / "adjacent_binary.png").is_file()
    record = json.loads(json.dumps(provenance("reference-binary")))  # a finished run's record: same keys
    record.update(steps=800, train_seconds=3600.0, best_step=800)
    (run / "reference.json").write_text(json.dumps(record))
    text = ba.render("binary", run).read_text()
    h = record["heldout"]
    assert f"| `reference-binary-2.5d` | 800 | **{h['auc_any']:.3f}** | {h['by_source_px']['1-24']['auc']:.3f} |" in text
    assert "800 steps in 1.00 h" in text
    with pytest.raises(SystemExit, match="no heldout.csv"):
        ba.render("binary", tmp_path / "elsewhere")
