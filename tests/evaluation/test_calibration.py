"""Explain defaults: calibrated on validation subjects, recorded beside the checkpoint, used by
``workbench explain`` unless overridden; gated masks are empty where P(ICH) is below the gate."""

from __future__ import annotations

import json
import shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from workbench.api import DEFAULT_METHODS
from workbench.data.dataset import SliceDataset
from workbench.data.manifest import read_manifest
from workbench.evaluation.calibration import calibrate
from workbench.evaluation.explain_export import ExportConfig, export_explanations
from workbench.models import load_model
from workbench.models.reference import explain_defaults, provenance_path


def test_calibrate_chooses_a_gate_and_threshold_per_method(study_cohort, study_classifiers):
    manifest, root = study_cohort
    model = load_model(study_classifiers["binary"])
    ds = SliceDataset(read_manifest(manifest), root, size=32, **model.workbench_config.input_kwargs())
    out = calibrate(model, ds, ("hgi_sam", "gradcam"), batch_size=8)
    assert set(out["methods"]) == {"hgi_sam", "gradcam"} and out["slices"] == len(ds) and out["subjects"] == 9
    for m in out["methods"].values():
        assert 0.0 <= m["gate"] <= 1.0 and 0.0 <= m["threshold"] <= 1.0 and 0.0 <= m["volume_score"] <= 1.0
    assert set(DEFAULT_METHODS) >= set(out["methods"])


def _with_defaults(stem, tmp_path, defaults):
    """A copy of checkpoint ``stem`` whose provenance carries ``defaults`` as explain defaults."""
    dest = tmp_path / "calibrated" / "best"
    dest.parent.mkdir(parents=True)
    for suffix in (".json", ".safetensors"):
        shutil.copy(stem.with_suffix(suffix), dest.with_suffix(suffix))
    provenance_path(dest).write_text(json.dumps({"explain_defaults": {"methods": defaults}}))
    return dest


def test_explain_uses_the_calibrated_gate_and_threshold_unless_given(study_cohort, study_classifiers, tmp_path):
    manifest, root = study_cohort
    frame = read_manifest(manifest)
    one = frame[frame["volume_id"] == frame["volume_id"].iloc[0]]
    path = tmp_path / "one.csv"
    one.to_csv(path, index=False)
    base = export_explanations(ExportConfig(str(study_classifiers["binary"]), str(path), str(root), str(tmp_path / "a"),
                                            methods=("hgi_sam",)))
    probs = base.probabilities["prob"].to_numpy()
    gate = float(np.median(probs))  # half the slices below it
    stem = _with_defaults(study_classifiers["binary"], tmp_path, {"hgi_sam": {"gate": gate, "threshold": 0.3}})
    assert explain_defaults(stem)["methods"]["hgi_sam"]["threshold"] == 0.3
    cal = export_explanations(ExportConfig(str(stem), str(path), str(root), str(tmp_path / "b"), methods=("hgi_sam",)))
    vol = cal.volumes.iloc[0]
    assert (vol["threshold"], vol["threshold_source"], vol["gate"], vol["gate_source"]) == (0.3, "calibrated", gate,
                                                                                            "calibrated")
    mask = np.asarray(nib.load(str(tmp_path / "b" / "maps" / f"{one['volume_id'].iloc[0]}_hgi_sam_mask.nii.gz")).dataobj)
    table = cal.probabilities
    below = table["prob"].to_numpy() < gate
    assert below.any() and (table.loc[below, "pred_voxels_hgi_sam"] == 0).all()  # gated slices are empty
    assert int(mask.sum()) == int(table["pred_voxels_hgi_sam"].sum()) == vol["voxels"]
    given = export_explanations(ExportConfig(str(stem), str(path), str(root), str(tmp_path / "c"), methods=("hgi_sam",),
                                             gate=0.0, threshold=0.3)).volumes.iloc[0]
    assert (given["gate"], given["gate_source"], given["threshold_source"]) == (0.0, "given", "given")
    assert given["voxels"] >= vol["voxels"]  # the same threshold without the gate keeps every slice's pixels
    plain = base.volumes.iloc[0]  # no provenance: released constant, no gate
    assert (plain["threshold"], plain["threshold_source"], plain["gate"]) == (0.05, "released constant", 0.0)
    with pytest.raises(ValueError, match="gate 1.5 is not a probability"):
        ExportConfig(str(stem), str(path), str(root), str(tmp_path / "d"), gate=1.5)
    assert isinstance(cal.volumes, pd.DataFrame)


def test_calibration_with_an_identity_context_head_matches_the_slice_gates(study_cohort, study_classifiers):
    from workbench.models.context import ContextHead

    manifest, root = study_cohort
    model = load_model(study_classifiers["binary"])
    ds = SliceDataset(read_manifest(manifest), root, size=32, **model.workbench_config.input_kwargs())
    plain = calibrate(model, ds, ("hgi_sam",), batch_size=8)
    ident = calibrate(model, ds, ("hgi_sam",), batch_size=8, context=ContextHead())  # untrained: the identity
    assert (plain["gate_probability"], ident["gate_probability"]) == ("slice", "context")
    assert ident["methods"]["hgi_sam"]["gate"] == pytest.approx(plain["methods"]["hgi_sam"]["gate"])
    assert ident["methods"]["hgi_sam"]["threshold"] == pytest.approx(plain["methods"]["hgi_sam"]["threshold"])


def test_explain_gates_on_the_context_probability_when_the_checkpoint_carries_a_head(study_cohort, study_classifiers,
                                                                                    tmp_path):
    import torch

    from workbench.models.context import ContextHead, context_path, context_probabilities, save_context

    manifest, root = study_cohort
    frame = read_manifest(manifest)
    one = frame[frame["volume_id"] == frame["volume_id"].iloc[0]]
    path = tmp_path / "one.csv"
    one.to_csv(path, index=False)
    stem = _with_defaults(study_classifiers["binary"], tmp_path, {"hgi_sam": {"gate": 0.5, "threshold": 0.3}})
    torch.manual_seed(1)
    head = ContextHead()
    torch.nn.init.normal_(head.net[-1].weight, std=2.0)
    save_context(head, context_path(stem))
    record = json.loads(provenance_path(stem).read_text())
    base = export_explanations(ExportConfig(str(stem), str(path), str(root), str(tmp_path / "a"), methods=("hgi_sam",),
                                            gate=0.0))
    table = base.probabilities
    want = context_probabilities(head, table["prob"], table["volume_id"], table["slice_index"])
    assert np.allclose(table["prob_context"], want) and not np.allclose(want, table["prob"], atol=1e-3)
    gate = float(np.median(want))
    record["explain_defaults"] = {"gate_probability": "context", "methods": {"hgi_sam": {"gate": gate, "threshold": 0.3}}}
    provenance_path(stem).write_text(json.dumps(record))
    cal = export_explanations(ExportConfig(str(stem), str(path), str(root), str(tmp_path / "b"), methods=("hgi_sam",)))
    assert cal.volumes.iloc[0]["gate_probability"] == "context"
    below = cal.probabilities["prob_context"].to_numpy() < gate
    assert below.any() and (cal.probabilities.loc[below, "pred_voxels_hgi_sam"] == 0).all()
    assert (cal.probabilities.loc[~below, "pred_voxels_hgi_sam"] == base.probabilities.loc[~below, "pred_voxels_hgi_sam"]).all()
    sliced = export_explanations(ExportConfig(str(stem), str(path), str(root), str(tmp_path / "c"), methods=("hgi_sam",),
                                              gate=gate, gate_probability="slice"))
    assert sliced.volumes.iloc[0]["gate_probability"] == "slice"
    below_slice = sliced.probabilities["prob"].to_numpy() < gate
    assert (sliced.probabilities.loc[below_slice, "pred_voxels_hgi_sam"] == 0).all()
    assert (below_slice != below).any()  # the two probabilities gate different slices here
    thin = one.assign(spacing_slice=2.5)  # a thin-slice series: the 5 mm head does not apply
    thin_path = tmp_path / "thin.csv"
    thin.to_csv(thin_path, index=False)
    off = export_explanations(ExportConfig(str(stem), str(thin_path), str(root), str(tmp_path / "e"), methods=("hgi_sam",),
                                           gate=gate, gate_probability="context"))
    assert off.probabilities["prob_context"].isna().all() and off.volumes.iloc[0]["gate_probability"] == "slice"
    below_prob = off.probabilities["prob"].to_numpy() < gate
    assert (off.probabilities.loc[below_prob, "pred_voxels_hgi_sam"] == 0).all()
