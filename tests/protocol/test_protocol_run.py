"""End-to-end study on a tiny cohort: tables, resume, saved config, nested thresholds that ignore the test fold."""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch

from workbench.data.manifest import read_manifest
from workbench.protocol.run import load_protocol, run_protocol
from workbench.protocol.config import ProtocolConfig, load_protocol_config
from workbench.evaluation.auc_bootstrap import bootstrap_auc
from workbench.evaluation.thresholds import FIXED_THRESHOLDS

WEAK = ("swin_sam_binary", "swin_sam_multilabel", "swin_gradcam", "hgi_sam", "rollout", "grad_rollout", "hgi_gradcam", "hgi_sam_multilabel")


def _config(cohort, classifiers, out: Path, **kw) -> ProtocolConfig:
    manifest, root = cohort
    base = dict(manifest=str(manifest), root=str(root), output=str(out), binary_checkpoint=str(classifiers["binary"]),
                multilabel_checkpoint=str(classifiers["multilabel"]), size=32, batch_size=32, methods=WEAK + ("unet",),
                baseline_epochs=1, baseline_max_steps=1, baseline_batch_size=8, bootstrap_resamples=50, threads=1)
    return ProtocolConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def study(study_cohort, study_classifiers, tmp_path_factory):
    cfg = _config(study_cohort, study_classifiers, tmp_path_factory.mktemp("study") / "out")
    return cfg, run_protocol(cfg)


def test_study_writes_every_table(study, study_cohort):
    cfg, result = study
    out = Path(cfg.output)
    for name in ("slices.csv", "folds.csv", "summary.csv", "summary.md", "curves.csv", "timing.csv", "config.yaml"):
        assert (out / name).is_file(), name
    frame = read_manifest(study_cohort[0])
    slices = result.slices
    assert len(slices) == len(frame) * len(cfg.methods)
    assert set(slices["method"]) == set(cfg.methods)
    lesion = slices["has_lesion"].astype(bool)
    assert slices.loc[~lesion, "dice"].isna().all() and slices.loc[lesion, "dice"].between(0, 1).all()
    assert (slices["iou"].fillna(0) <= slices["dice"].fillna(0) + 1e-12).all()
    assert ((slices["pred_pixels"] > cfg.min_pixels) == slices["detected"]).all()
    assert slices["prob"].between(0, 1).all()
    # one threshold per fold and method, recorded in folds.csv and applied in slices.csv
    per_fold = slices.groupby(["method", "fold"])["threshold"].nunique()
    assert (per_fold == 1).all()
    folds = result.folds.set_index(["method", "fold"])
    assert len(folds) == len(cfg.methods) * 3
    applied = slices.groupby(["method", "fold"])["threshold"].first()
    assert np.allclose(folds.loc[applied.index, "threshold"], applied)
    assert (folds.loc["unet", "threshold"] == 0.5).all() and (folds.loc["hgi_sam", "mode"] == "nested").all()
    summary = result.summary.set_index("method")
    assert set(summary.index) == set(cfg.methods) | {"classifier_binary", "classifier_multilabel"}
    row = summary.loc["hgi_sam"]
    hgi = slices[(slices["method"] == "hgi_sam") & lesion]
    assert math.isclose(row["dice_mean"], hgi["dice"].mean()) and row["n_lesion_slices"] == len(hgi)
    assert row["dice_ci_low"] <= row["dice_mean"] <= row["dice_ci_high"]
    assert "+-" in (out / "summary.md").read_text()
    # detection AUC: the subject bootstrap of bootstrap_auc on the slices the row scored (the study's seed)
    every = slices[slices["method"] == "hgi_sam"]
    ci = bootstrap_auc({"p": every["prob"]}, every["label_any"], every["subject_id"].astype(str),
                       generator=torch.Generator().manual_seed(cfg.seed), n_resamples=cfg.bootstrap_resamples).aucs["p"]
    assert (row["det_auc_ci_low"], row["det_auc_ci_high"]) == pytest.approx((ci.low, ci.high))
    assert ci.estimate == pytest.approx(row["det_auc"]) and ci.n_groups == every["subject_id"].nunique()
    assert "ROC-AUC 95% CI" in (out / "summary.md").read_text()
    curves = result.curves
    assert set(curves["fold"]) == {-1, 0, 1, 2} and len(curves) == len(cfg.methods) * 4 * curves["threshold"].nunique()
    # gated masks: a slice below its fold's gate has an empty mask; above it, the mask at the gated threshold
    below = slices["prob"] < slices["gate"]
    assert (slices.loc[below, "gated_pred_pixels"] == 0).all() and (~slices.loc[below, "gated_detected"]).all()
    same = ~below & np.isclose(slices["gated_threshold"], slices["threshold"])
    assert (slices.loc[same, "gated_pred_pixels"] == slices.loc[same, "pred_pixels"]).all()
    assert (slices.loc[slices["method"] == "unet", "gate"] == 0).all()
    assert (slices.groupby(["method", "fold"])["gate"].nunique() == 1).all()
    assert {"gated_volume_dice_mean", "gated_det_specificity", "gated_fp_ml_clean_median"} <= set(result.summary)
    assert "Gated masks on whole scans" in (out / "summary.md").read_text()


def test_rerun_skips_finished_work_and_load_study_reads_it(study):
    cfg, first = study
    again = run_protocol(cfg)
    assert again.computed == ()
    pd.testing.assert_frame_equal(again.slices, first.slices)
    loaded = load_protocol(cfg.output)
    assert loaded.config == cfg.resolved()
    pd.testing.assert_frame_equal(loaded.summary.drop(columns="thresholds"), first.summary.drop(columns="thresholds"),
                                  check_dtype=False)
    assert len(loaded.slices) == len(first.slices)


def test_a_changed_setting_recomputes_only_what_it_touches(study, tmp_path):
    cfg, _ = study
    out = tmp_path / "copy"
    shutil.copytree(cfg.output, out)
    result = run_protocol(dataclasses.replace(cfg, output=str(out), min_pixels=5, methods=("hgi_sam",)))
    assert sorted(result.computed) == ["fold0/hgi_sam", "fold1/hgi_sam", "fold2/hgi_sam"]


def test_a_finished_baseline_trained_with_other_settings_is_not_reused(study, tmp_path):
    cfg, _ = study
    out = tmp_path / "copy"
    shutil.copytree(cfg.output, out)
    with pytest.raises(ValueError, match="unet/fold0 holds a finished baseline trained with other settings"):
        run_protocol(dataclasses.replace(cfg, output=str(out), baseline_batch_size=4))


def test_a_fold_subset_run_caches_rows_a_full_run_can_reuse(study_cohort, study_classifiers, tmp_path):
    """Cached rows are manifest row numbers, so statistics from a run over folds (1, 2) land on the right
    slices of a later run over every fold (regression: they were positions in the subset)."""
    kw = dict(methods=("hgi_sam",))
    run_protocol(_config(study_cohort, study_classifiers, tmp_path / "a", folds=(1, 2), **kw))
    resumed = run_protocol(_config(study_cohort, study_classifiers, tmp_path / "a", **kw))
    assert resumed.computed == ("fold0/hgi_sam",)
    fresh = run_protocol(_config(study_cohort, study_classifiers, tmp_path / "b", **kw))
    pd.testing.assert_frame_equal(resumed.slices, fresh.slices)


def _perturb_fold(manifest: Path, root: Path, fold: int, dest: Path) -> Path:
    """Copy of the cohort whose masks of ``fold``'s subjects are shifted by 9 rows (a different truth)."""
    shutil.copytree(root, dest)
    frame = read_manifest(manifest)
    for rel in frame.loc[frame["fold"] == fold, "mask_path"].unique():
        img = nib.load(str(dest / rel))
        data = np.roll(np.asarray(img.dataobj), 9, axis=1)
        nib.save(nib.Nifti1Image(data, img.affine, img.header), str(dest / rel))
    return dest


def test_nested_threshold_of_a_fold_ignores_that_folds_data(study_cohort, study_classifiers, tmp_path):
    manifest, root = study_cohort
    kw = dict(methods=("swin_sam_binary", "hgi_sam"))
    base = run_protocol(_config(study_cohort, study_classifiers, tmp_path / "a", **kw))
    moved = _perturb_fold(manifest, root, 0, tmp_path / "moved")
    pert = run_protocol(_config((manifest, moved), study_classifiers, tmp_path / "b", **kw))
    a, b = base.folds.set_index(["method", "fold"]), pert.folds.set_index(["method", "fold"])
    for method in kw["methods"]:
        assert a.loc[(method, 0), "threshold"] == b.loc[(method, 0), "threshold"]
        assert a.loc[(method, 0), "train_mean_dice"] == b.loc[(method, 0), "train_mean_dice"]
        assert a.loc[(method, 0), "gate"] == b.loc[(method, 0), "gate"]  # the gate is nested too
        assert a.loc[(method, 0), "gated_threshold"] == b.loc[(method, 0), "gated_threshold"]
    # the perturbation did reach the scores of fold 0 (and only those)
    sa, sb = base.slices, pert.slices
    f0 = (sa["fold"] == 0) & sa["has_lesion"]
    assert not np.allclose(sa.loc[f0, "dice"].fillna(-1), sb.loc[f0, "dice"].fillna(-1))
    for method in kw["methods"]:
        assert a.loc[(method, 1), "train_folds"] == "0 2"


def test_fixed_mode_uses_released_constants_where_they_exist(study_cohort, study_classifiers, tmp_path):
    result = run_protocol(_config(study_cohort, study_classifiers, tmp_path / "f", threshold_mode="fixed",
                               methods=("hgi_sam", "rollout")))
    folds = result.folds.set_index(["method", "fold"])
    assert (folds.loc["hgi_sam", "threshold"] == FIXED_THRESHOLDS["hgi_sam"]).all()
    assert (folds.loc["hgi_sam", "mode"] == "fixed").all() and (folds.loc["rollout", "mode"] == "nested").all()


def test_yaml_config_resolves_relative_paths(study_cohort, study_classifiers, tmp_path):
    manifest, root = study_cohort
    path = tmp_path / "s.yaml"
    path.write_text(f"manifest: {manifest}\nroot: {root}\noutput: out\nbinary_checkpoint: {study_classifiers['binary']}\n"
                    "methods: [hgi_sam]\nsize: 32\n")
    cfg = load_protocol_config(path)
    assert cfg.output == str((tmp_path / "out").resolve()) and cfg.methods == ("hgi_sam",)


def test_a_skull_stripped_classifier_is_fed_its_own_input_recipe(study_cohort, tmp_path):
    import torch

    from workbench.data.dataset import SliceDataset
    from workbench.models import create_model, save_model

    manifest, root = study_cohort
    torch.manual_seed(1)
    model = create_model("test-tiny", task="binary", windows=("brain", "subdural", "stroke"), input_mask="brain").eval()
    save_model(model, tmp_path / "strip" / "best")
    cfg = _config(study_cohort, {"binary": tmp_path / "strip" / "best", "multilabel": tmp_path / "strip" / "best"},
                  tmp_path / "out", methods=("swin_sam_binary",))
    result = run_protocol(cfg)
    slices = result.slices
    got = slices.set_index(["subject_id", "slice_index"])["prob"]

    def probs(**inputs):
        ds = SliceDataset(manifest, root, size=32, brain_mask=False, **inputs)
        with torch.no_grad():
            p = torch.softmax(model(torch.stack([ds[i]["image"] for i in range(len(ds))])), 1)[:, 1]
        return pd.Series(p.numpy(), index=pd.MultiIndex.from_frame(ds.frame[["subject_id", "slice_index"]]))

    own, plain = probs(**model.workbench_config.input_kwargs()), probs()
    assert np.abs(got - own.loc[got.index]).max() < 2e-3  # uint8 caching only
    assert np.abs(got - plain.loc[got.index]).max() > 1e-2  # the plain windows would have given other answers

    # the method gallery re-computes the map from the model's own input, not from the display dataset's
    from workbench.protocol.config import method_spec
    from workbench.evaluation.maps import weak_maps
    from workbench.explore.compare import extremes, gallery_panels

    picks = extremes(slices, "swin_sam_binary", k=1).head(1)
    (panel,) = gallery_panels(result, picks)
    pick = picks.iloc[0]

    def heat(**inputs):
        ds = SliceDataset(manifest, root, size=32, brain_mask=cfg.brain_mask, **inputs)
        at = np.flatnonzero((ds.frame["subject_id"].astype(str) == str(pick.subject_id)).to_numpy()
                            & (ds.frame["slice_index"] == pick.slice_index).to_numpy())[0]
        item = ds[int(at)]
        spec = {"swin_sam_binary": method_spec("swin_sam_binary").variant}
        return weak_maps(model, item["image"][None], item["brain_mask"][None] if cfg.brain_mask else None,
                         spec)[0]["swin_sam_binary"][0].detach()

    assert torch.allclose(panel.heat, heat(**model.workbench_config.input_kwargs()), atol=1e-5)
    assert not torch.allclose(panel.heat, heat(), atol=1e-3)


def test_a_regenerated_cohort_at_the_same_paths_is_not_served_from_the_cache(study_classifiers, tmp_path):
    """The cache key holds content fingerprints of the manifest, the scans and the weights, not paths."""
    from workbench.data.manifest import build_manifest, write_manifest
    from workbench.data.synth import write_cohort

    def cohort(seed):
        root = write_cohort(tmp_path / "cohort", subjects=6, seed=seed, size=48, n_slices=4, p_ich=0.8)
        write_manifest(build_manifest("synthetic", root, n_folds=2)[0], tmp_path / "manifest.csv")
        return tmp_path / "manifest.csv", root

    cfg = _config(cohort(11), study_classifiers, tmp_path / "out", methods=("hgi_sam",))
    first = run_protocol(cfg)
    assert run_protocol(cfg).computed == ()  # unchanged inputs: all from the cache
    shutil.rmtree(tmp_path / "cohort")
    cohort(12)  # other scans, same paths, same manifest name
    again = run_protocol(cfg)
    assert len(again.computed) == 2, "a regenerated cohort must be recomputed"
    assert not again.slices["prob"].equals(first.slices["prob"])


def test_a_classifier_of_another_input_size_is_fed_its_own_size(study_cohort, study_classifiers, tmp_path):
    """Regression: every classifier was fed the protocol's size; a 48 px model now reads 48 px slices and
    its maps are resampled to the protocol's 32 px, where all methods are scored."""
    import torch

    from workbench.data.dataset import SliceDataset
    from workbench.explore.compare import extremes, gallery_panels
    from workbench.models import create_model, load_model, save_model

    manifest, root = study_cohort
    torch.manual_seed(2)
    save_model(create_model("test-tiny", task="binary", img_size=48), tmp_path / "big" / "best")
    cfg = _config(study_cohort, {"binary": tmp_path / "big" / "best", "multilabel": study_classifiers["multilabel"]},
                  tmp_path / "out", methods=("hgi_sam", "swin_sam_multilabel"))
    result = run_protocol(cfg)
    model = load_model(tmp_path / "big" / "best")
    ds = SliceDataset(manifest, root, size=48, brain_mask=False)
    with torch.no_grad():
        want = torch.softmax(model(torch.stack([ds[i]["image"] for i in range(len(ds))])), 1)[:, 1]
    want = pd.Series(want.numpy(), index=pd.MultiIndex.from_frame(ds.frame[["subject_id", "slice_index"]]))
    hgi = result.slices[result.slices["method"] == "hgi_sam"].set_index(["subject_id", "slice_index"])["prob"]
    assert np.abs(hgi - want.loc[hgi.index]).max() < 2e-3  # P(ICH) from the model's own 48 px input
    lesion = result.slices[result.slices["has_lesion"]]
    assert lesion["lesion_pixels"].max() <= 32 * 32 and lesion.groupby("method")["dice"].count().min() > 0
    (panel,) = gallery_panels(result, extremes(result.slices, "hgi_sam", k=1).head(1))
    assert tuple(panel.heat.shape) == (48, 48) == tuple(panel.image.shape[:2])


def test_a_classifier_with_a_scan_context_head_gets_a_context_row_and_gate(study, study_cohort, tmp_path):
    """A context head beside the binary checkpoint: every binary method's rows get ``prob_context`` (its
    P(ICH) read per scan in slice order), the multilabel rows stay NaN, the summary gains a
    ``classifier_binary_context`` row scored on it, and the binary methods' gates read it (``gate_probability``
    context, when asked for); ``gate_probability: slice`` (the default) keeps the slice's own P(ICH) for the
    gates. Without a head nothing changes."""
    import torch

    from workbench.evaluation.gating import select_gate_thresholds
    from workbench.evaluation.ranking import binary_auc
    from workbench.models.context import ContextHead, context_path, context_probabilities, save_context
    from workbench.protocol.config import method_spec
    from workbench.protocol.run import _evaluation_frame, _load_method
    from workbench.protocol.tables import build_tables, protocol_grid

    cfg, result = study
    assert result.slices["prob_context"].isna().all()  # the tiny classifiers carry no head
    assert "classifier_binary_context" not in set(result.summary["method"])
    assert (result.summary.set_index("method").loc["hgi_sam", "gate_probability"]) == "slice"
    stem = tmp_path / "binary" / "best"
    shutil.copytree(Path(cfg.binary_checkpoint).parent, stem.parent)
    torch.manual_seed(0)
    head = ContextHead()
    torch.nn.init.normal_(head.net[-1].weight, std=0.5)
    save_context(head, context_path(stem))
    cfg = dataclasses.replace(cfg, binary_checkpoint=str(stem), gate_probability="context")
    frame, folds = _evaluation_frame(cfg)
    grid = protocol_grid(cfg)
    stats = {m: _load_method(Path(result.out_dir), folds, m) for m in cfg.methods}  # the cache: same weights
    tables = build_tables(cfg, frame, grid, stats)
    slices, summary = tables["slices"], tables["summary"].set_index("method")
    for method, rows in slices.groupby("method"):
        if method_spec(method).model == "binary":
            want = context_probabilities(head, rows["prob"], rows["volume_id"], rows["slice_index"])
            assert np.allclose(rows["prob_context"], want) and not np.allclose(rows["prob_context"], rows["prob"])
            assert summary.loc[method, "gate_probability"] == "context"
        else:
            assert rows["prob_context"].isna().all(), method
            assert summary.loc[method, "gate_probability"] in ("slice", "none")
    row = summary.loc["classifier_binary_context"]
    hgi = slices[slices["method"] == "hgi_sam"]
    assert row["kind"] == "classifier" and row["det_auc_source"] == "probability with scan context"
    assert row["det_auc"] == pytest.approx(binary_auc(hgi["label_any"], hgi["prob_context"]))
    ci = bootstrap_auc({"p": hgi["prob_context"]}, hgi["label_any"], hgi["subject_id"].astype(str),
                       generator=torch.Generator().manual_seed(cfg.seed), n_resamples=cfg.bootstrap_resamples).aucs["p"]
    assert (row["det_auc_ci_low"], row["det_auc_ci_high"]) == pytest.approx((ci.low, ci.high))  # of prob_context
    assert "classifier_multilabel_context" not in summary.index
    # the gates were chosen on the context probability: the same selection run by hand agrees
    st = stats["hgi_sam"]
    fold_of = torch.as_tensor(frame["fold"].to_numpy().copy())[torch.as_tensor(frame.index.get_indexer(st["row"].numpy()))]
    subjects = list(frame.loc[st["row"].numpy(), "subject_id"].astype(str))
    by_hand = select_gate_thresholds(st["inter"], st["pred_n"], st["target_n"], torch.from_numpy(hgi["prob_context"].to_numpy().copy()),
                                     subjects, fold_of, grid)
    assert sorted(hgi.groupby("fold")["gate"].first().items()) == [(k, g.gate) for k, g in sorted(by_hand.items())]
    sliced = build_tables(dataclasses.replace(cfg, gate_probability="slice"), frame, grid, stats)
    assert sliced["summary"].set_index("method").loc["hgi_sam", "gate_probability"] == "slice"
    assert np.allclose(sliced["slices"]["prob_context"].fillna(-1), slices["prob_context"].fillna(-1))
    s_hgi = sliced["slices"][sliced["slices"]["method"] == "hgi_sam"]
    assert hgi.groupby("fold")["gate"].first().tolist() != s_hgi.groupby("fold")["gate"].first().tolist()
    # a thin-slice scan in the cohort: no context probability for its rows, and the gates fall back to P(ICH)
    from workbench.protocol.tables import with_context

    thin = frame.assign(spacing_slice=np.where(frame["volume_id"] == frame["volume_id"].iloc[0], 1.25,
                                               frame["spacing_slice"]))
    got = with_context(cfg, thin, "hgi_sam", st, head)
    rows_thin = torch.as_tensor((thin.loc[st["row"].numpy(), "volume_id"] == frame["volume_id"].iloc[0]).to_numpy())
    assert got["prob_context"][rows_thin].isnan().all() and not got["prob_context"][~rows_thin].isnan().any()
    assert torch.equal(got["gate_prob"], st["prob"].double())
