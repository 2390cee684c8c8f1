"""bench/bench_heldout_ci.py end to end on stand-in scores: every row, the paired column, the forest plot."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import bench_heldout_ci as bhc  # noqa: E402
import common  # noqa: E402
from workbench.models.factory import create_model  # noqa: E402


def test_mirrored_flips_only_the_image_left_right():
    item = {"image": torch.arange(6.0).reshape(1, 2, 3), "labels": torch.tensor([1.0])}
    out = bhc.Mirrored([item])[0]
    assert out["image"].tolist() == [[[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]] and out["labels"] is item["labels"]


def test_main_writes_every_classifier_with_its_paired_difference(tmp_path, monkeypatch):
    g = np.random.default_rng(0)
    subjects, per = 10, 8
    frame = pd.DataFrame({"subject_id": np.repeat([f"s{i}" for i in range(subjects)], per),
                          "any": (g.random(subjects * per) < 0.3).astype(float)})
    y = frame["any"].to_numpy()
    frame["subdural"] = y * (np.arange(y.size) % 2)

    class Slices:  # the shipped classifiers' dataset; an extra checkpoint reads it at its own input recipe
        recipes = []

        def with_inputs(self, size=None, **recipe):
            self.recipes.append({"size": size, **recipe})
            return self

    dataset = Slices()

    def shipped(name, spec, data_dir, flip):
        assert spec.seed == bhc.RECIPES[bhc.REFERENCE].test.seed and spec.subjects == 10
        base = y + g.normal(0, 1, y.size)
        out = {name: base, f"{name} + context head": base + 0.5 * y}
        if name == "reference-multilabel":
            out["reference-multilabel: subdural"] = frame["subdural"].to_numpy() * 3.0  # perfect on its subtype
        return ({**out, f"{name}, flip-averaged": base} if flip else out), frame, dataset

    monkeypatch.setattr(bhc, "shipped_scores", shipped)
    px = np.where(y > 0, np.resize([5, 50, 200, 500], y.size), 0)  # every size stratum holds positives
    monkeypatch.setattr(bhc, "lesion_strata", lambda ds: (px, None, np.where(y > 0, g.uniform(0, 30, y.size), np.nan)))
    seen = {}
    real = bhc.bootstrap_auc

    def spy(scores, labels, groups, **kw):
        seen[len(labels)] = (scores, labels, groups)
        return real(scores, labels, groups, **kw)

    monkeypatch.setattr(bhc, "bootstrap_auc", spy)
    monkeypatch.setattr(bhc, "load_model", lambda path: create_model("test-tiny", task="binary"))
    monkeypatch.setattr(bhc, "ich_probabilities", lambda model, ds: y * 2.0 if ds is dataset else None)  # perfect
    monkeypatch.setattr(bhc, "RESULTS", tmp_path)
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    assert bhc.main(["--subjects", "10", "--resamples", "200", "--checkpoint", "perfect=some/run/best"]) == 0
    text = (tmp_path / "heldout_ci_n10.md").read_text()
    assert (tmp_path / "heldout_ci_n10.png").stat().st_size > 0
    first, strata = text.split("### By lesion size and contrast")
    rows = {line.split(" | ")[0].strip("| `"): line for line in first.splitlines() if line.startswith("| ")}
    for label in ("reference-binary", "reference-binary + context head", "reference-binary, flip-averaged",
                  "reference-multilabel (any)", "binary and multilabel averaged", "perfect"):
        assert label in rows, label
    assert "1.000 [1.000, 1.000]" in rows["perfect"]  # the perfect ranking, in every resample
    assert rows["reference-binary"].count("[") == 2  # its AUCs, no difference to itself
    perfect = next(line for line in strata.splitlines() if line.startswith("| perfect"))
    assert perfect.count("1.000") == 9  # every stratum and both ceilings
    assert "(10 subjects: the first 10 of the recipes' 40;" in text
    tiny = create_model("test-tiny", task="binary").workbench_config
    assert dataset.recipes == [{"size": tiny.arch.img_size, **tiny.input_kwargs()}]  # the extra one's own recipe
    sdh = frame["subdural"] > 0
    assert f"| subdural | {int(sdh.sum())} | {frame.loc[sdh, 'subject_id'].nunique()} | 1.000 [1.000, 1.000] |" in text
    assert "reference-multilabel: subdural" not in first  # subtypes have their own table, not a row above
    # the large-bleed subset: positives of >= 100 px and every negative, scored by the same resampling
    large = (y < 0.5) | (px >= 100)
    scores, labels, groups = seen[int(large.sum())]
    assert np.array_equal(labels, y[large]) and np.array_equal(groups, frame["subject_id"].to_numpy()[large])
    want = real(scores, labels, groups, generator=torch.Generator().manual_seed(0), n_resamples=200,
                reference="reference-binary").differences["reference-binary + context head - reference-binary"]
    assert want.format(signed=True) in rows["reference-binary + context head"].split(" | ")[4]
    with pytest.raises(SystemExit, match="LABEL=STEM"):
        bhc.main(["--checkpoint", "no-label"])
    with pytest.raises(SystemExit, match="is taken"):
        bhc.main(["--checkpoint", "reference-binary=some/run/best"])
