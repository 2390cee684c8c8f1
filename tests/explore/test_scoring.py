"""Cohort scoring: fold-nested thresholds, per-subtype Dice, per-head energy, ablation variants."""

from __future__ import annotations

import pytest
import torch

from workbench.evaluation import select_thresholds
from workbench.explore.ablations import DEFAULT, ablation_variants, factor_of
from workbench.explore.run import load_run
from workbench.explore.scoring import combine, detection_frame, head_energy, lesion_rows, score_variants


@pytest.fixture(scope="module")
def scored(tiny_run):
    model, ds = load_run(tiny_run["demo"], "binary")
    rows = lesion_rows(ds)
    variants = {"hgi": ("hgi_sam", {}), "swin": ("swin_sam", {"stages": (1,)})}
    return model, ds, rows, score_variants(model, ds, rows, variants, batch_size=5)


def test_nested_dice_uses_thresholds_chosen_on_the_other_folds(scored):
    _, ds, rows, s = scored
    folds = torch.tensor(s.slices["fold"].to_numpy(copy=True))
    chosen = select_thresholds(s.curves["hgi"], folds, s.grid)
    assert s.thresholds["hgi"] == {k: v.threshold for k, v in chosen.items()}
    for i, f in enumerate(folds.tolist()):
        q = int(torch.argmin((s.grid - chosen[f].threshold).abs()))
        torch.testing.assert_close(s.dice["hgi"][i], s.curves["hgi"][i, q], equal_nan=True)
    assert len(rows) == len(s.slices) and (ds.frame.loc[rows, "has_mask"] == 1).all()


def test_tables(scored):
    _, ds, rows, s = scored
    summary = s.summary()
    lesion_left = int((~torch.isnan(s.dice["hgi"])).sum())  # a tiny lesion may vanish at 32 px: NaN, not counted
    assert list(summary["variant"]) == ["hgi", "swin"] and (summary["n"] == lesion_left).all() and lesion_left > 0
    curve = s.curve_frame()
    assert len(curve) == 2 * len(s.grid)
    sub = s.per_subtype()
    carrying = torch.tensor(ds.frame.loc[rows, "intraparenchymal"].to_numpy() == 1)
    expected = int((carrying & ~torch.isnan(s.dice["hgi"])).sum())
    assert int(sub[(sub.variant == "hgi") & (sub.subtype == "intraparenchymal")]["n"].iloc[0]) == expected
    both = combine({"one": s, "two": s})
    assert set(both.dice) == {"one/hgi", "one/swin", "two/hgi", "two/swin"}


def test_detection_frame_covers_every_slice(scored):
    model, ds, _, _ = scored
    det = detection_frame(model, ds, batch_size=7)
    assert list(det["row"]) == list(range(len(ds))) and list(det["any"]) == list(ds.frame["any"])
    with torch.no_grad():  # P(ICH) by hand: softmax of the two logits, class 1, slice by slice
        want = [float(torch.softmax(model(ds[i]["image"][None]), 1)[0, 1]) for i in range(len(ds))]
    assert det["prob"].to_numpy() == pytest.approx(want, abs=1e-5)


def test_head_energy_one_row_per_head(scored):
    model, ds, rows, _ = scored
    heads = head_energy(model, ds, rows[:3], batch_size=3)
    assert len(heads) == 2 * 1 + 2 * 2  # test-tiny: depths (2, 2), heads (1, 2)
    assert heads["energy"].between(0, 1).all() and (heads["alpha"] > 0).all() and (heads["enrichment"] > 0).all()
    assert set(heads.loc[heads.stage == 2, "alpha_rank"]) == {1, 2}


def test_ablation_variants():
    v = ablation_variants(4, "probs", top_k=3)
    assert v[DEFAULT] == ("hgi_sam", {"gradient": "probs", "stages": (1, 2, 3)})
    assert v["heads top-3"][1]["heads"] == "topk" and "stages 1,2,3,4" in v and "stages 1,2,3" not in v
    assert [factor_of(n) for n in ("stages 1", "heads none", "pairs mean", DEFAULT, "Swin-SAM (reference)")] == [
        "stages", "heads", "pairs", "default", "reference"]
    with pytest.raises(ValueError, match="num_stages must be >= 1"):
        ablation_variants(0)
