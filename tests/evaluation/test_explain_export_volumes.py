"""``workbench explain``: NIfTI maps / masks over the source scans (affine, shape, voxel positions), tables, errors."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch

import command_helpers
from workbench.commands import explain
from workbench.data.dataset import resize_crop
from workbench.data.manifest import read_manifest, write_manifest
from workbench.data.slices import load_row
from workbench.evaluation.explain_export import ExportConfig, _to_source, export_explanations
from workbench.data.dataset import crop_geometry
from workbench.evaluation.resample import uncrop
from workbench.evaluation.source_volume import write_source_volume

SIZE = 32


def _one_volume(manifest: Path, tmp_path: Path, n: int = 1) -> tuple[Path, pd.DataFrame]:
    frame = read_manifest(manifest)
    by_lesion = frame.groupby("volume_id")["any"].sum().sort_values(ascending=False, kind="stable")
    keep = frame[frame["volume_id"].isin(by_lesion.index[:n])]  # the n volumes with the most ICH slices
    path = tmp_path / "m.csv"
    write_manifest(keep, path)
    return path, keep


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


def _model_masks(frame: pd.DataFrame, root: Path) -> torch.Tensor:
    """Lesion masks in model space (n, S, S), resampled like the IMAGES (bilinear, > 0.5), i.e. in the
    geometry the maps live in. (SliceDataset's masks use torch 'nearest', whose floor indexing shifts
    them by up to half a pixel when downsampling, which would blur this round trip.)"""
    masks = [torch.from_numpy(load_row(row, root)[1].astype(np.float32))[None] for _, row in frame.iterrows()]
    return torch.stack([resize_crop(m, SIZE, 1.1, "bilinear")[0] > 0.5 for m in masks]).float()


def test_export_writes_maps_with_the_source_affine_and_tables(study_cohort, study_classifiers, tmp_path):
    manifest, root = study_cohort
    path, frame = _one_volume(manifest, tmp_path, n=2)
    cfg = ExportConfig(checkpoint=str(study_classifiers["binary"]), manifest=str(path), root=str(root),
                       out=str(tmp_path / "x"), methods=("hgi_sam", "rollout"), thresholds=(("rollout", 0.4),))
    result = export_explanations(cfg)
    assert len(result.files) == 2 * 2 * 2  # volumes x methods x (map, mask)
    for vol in frame["volume_id"].unique():
        src = nib.load(str(root / frame.loc[frame["volume_id"] == vol, "image_path"].iloc[0]))
        for kind in ("map", "mask"):
            out = nib.load(str(tmp_path / "x" / "maps" / f"{vol}_hgi_sam_{kind}.nii.gz"))
            assert out.shape == src.shape
            assert np.allclose(out.affine, src.affine) and np.allclose(out.header.get_zooms(), src.header.get_zooms())
    probs = pd.read_csv(tmp_path / "x" / "probabilities.csv")
    assert len(probs) == len(frame) and probs["prob"].between(0, 1).all()
    volumes = pd.read_csv(tmp_path / "x" / "volumes.csv").set_index(["volume_id", "method"])
    assert volumes.loc[(frame["volume_id"].iloc[0], "rollout"), "threshold"] == 0.4
    assert volumes.loc[(frame["volume_id"].iloc[0], "hgi_sam"), "threshold"] == 0.05  # released constant
    first = frame.iloc[0]
    row = volumes.loc[(first["volume_id"], "hgi_sam")]
    spacing = first["spacing_row"] * first["spacing_col"] * first["spacing_slice"]
    assert row["volume_ml"] == pytest.approx(row["voxels"] * spacing / 1000)
    mask = np.asarray(nib.load(str(tmp_path / "x" / "maps" / f"{first['volume_id']}_hgi_sam_mask.nii.gz")).dataobj)
    assert mask.sum() == row["voxels"]


def test_a_map_that_is_a_function_of_position_lands_on_the_right_pixels():
    h, w = 40, 52
    geo = crop_geometry(h, w, SIZE)
    rows = torch.arange(SIZE, dtype=torch.float32)[:, None].expand(SIZE, SIZE)  # model-space row index
    back = uncrop(rows[None] + 1.0, geo)[0].numpy()  # +1 so the zero border is distinguishable
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    expected = (r + 0.5) * geo.nh / h - 0.5 - geo.top + 1.0  # source row centre in model coordinates (+1)
    model_col = (c + 0.5) * geo.nw / w - 0.5 - geo.left
    inside = (expected > 1.5) & (expected < SIZE - 0.5) & (model_col > 0.5) & (model_col < SIZE - 1.5)
    assert np.abs(back[inside] - expected[inside]).max() < 0.6
    assert back[:, 0].max() == 0 and geo.left > 0  # the cropped border (outside the model's view) stays 0


def test_mask_round_trip_las_orientation(study_cohort, tmp_path):
    manifest, root = study_cohort
    _, frame = _one_volume(manifest, tmp_path)
    first = frame.iloc[0]
    src = nib.load(str(root / first["mask_path"]))
    shape = (src.shape[2], src.shape[1], src.shape[0])  # display (Z, H, W)
    display = _to_source(_model_masks(frame, root), frame, shape, SIZE, 1.1)
    write_source_volume(tmp_path / "m.nii.gz", display > 0.5, first, root, np.uint8)
    out = np.asarray(nib.load(str(tmp_path / "m.nii.gz")).dataobj) > 0
    truth = np.asarray(src.dataobj) > 0
    assert out.shape == truth.shape and truth.sum() > 0
    assert _dice(out, truth) > 0.85


def test_mask_round_trip_affine_orientation(study_cohort, tmp_path):
    """A scan stored as (P, S, R) with its affine: the export goes back to that storage order."""
    manifest, root = study_cohort
    _, frame = _one_volume(manifest, tmp_path)
    first = frame.iloc[0]
    ornt = nib.orientations.ornt_transform(nib.orientations.axcodes2ornt(("L", "A", "S")),
                                           nib.orientations.axcodes2ornt(("P", "S", "R")))
    for col in ("image_path", "mask_path"):
        img = nib.load(str(root / first[col]))
        data = nib.orientations.apply_orientation(np.asarray(img.dataobj), ornt)
        aff = img.affine @ nib.orientations.inv_ornt_aff(ornt, img.shape)
        (tmp_path / "psr").mkdir(exist_ok=True)
        nib.save(nib.Nifti1Image(data, aff), str(tmp_path / "psr" / f"{col}.nii"))
    frame = frame.assign(image_path="psr/image_path.nii", mask_path="psr/mask_path.nii", label_path="",
                         orientation="affine")
    stored = nib.load(str(tmp_path / "psr" / "mask_path.nii"))
    assert nib.aff2axcodes(stored.affine) == ("P", "S", "R")
    las = nib.load(str(root / first["mask_path"]))
    shape = (las.shape[2], las.shape[1], las.shape[0])
    display = _to_source(_model_masks(frame, tmp_path), frame, shape, SIZE, 1.1)
    write_source_volume(tmp_path / "m.nii.gz", display > 0.5, frame.iloc[0], tmp_path, np.uint8)
    out = nib.load(str(tmp_path / "m.nii.gz"))
    assert np.allclose(out.affine, stored.affine)
    truth = np.asarray(stored.dataobj) > 0
    assert out.shape == truth.shape and _dice(np.asarray(out.dataobj) > 0, truth) > 0.85


def test_bad_inputs_name_the_problem(study_cohort, study_classifiers, tmp_path):
    manifest, root = study_cohort
    with pytest.raises(ValueError, match="unknown explanation method 'hgi'.*hgi_sam"):
        ExportConfig(checkpoint="c", manifest=str(manifest), root=str(root), out="o", methods=("hgi",))
    cfg = ExportConfig(checkpoint=str(tmp_path / "none"), manifest=str(manifest), root=str(root), out=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="none"):
        export_explanations(cfg)
    cfg = ExportConfig(checkpoint=str(study_classifiers["binary"]), manifest=str(manifest), root=str(root),
                       out=str(tmp_path), methods=("grad_rollout",))
    with pytest.raises(ValueError, match="no threshold for 'grad_rollout': the checkpoint carries no calibrated one"):
        export_explanations(cfg)
    with pytest.raises(SystemExit):
        command_helpers.run_command(explain, ["--checkpoint", "c", "--manifest", "m", "--root", "r", "--out", "o",
                                              "--threshold", "hgi_sam=high"])


def test_explain_cli(study_cohort, study_classifiers, tmp_path, capsys):
    manifest, root = study_cohort
    path, _ = _one_volume(manifest, tmp_path)
    argv = ["--checkpoint", str(study_classifiers["multilabel"]), "--manifest", str(path), "--root", str(root),
            "--methods", "swin_sam", "gradcam", "--out", str(tmp_path / "o"), "--threshold", "gradcam=0.5"]
    assert command_helpers.run_command(explain, argv) == 0
    assert "4 NIfTI files" in capsys.readouterr().out
    volumes = pd.read_csv(tmp_path / "o" / "volumes.csv").set_index("method")
    assert volumes.loc["swin_sam", "threshold"] == 0.11 and volumes.loc["gradcam", "threshold"] == 0.5


def test_dicom_rows_get_the_series_affine(study_classifiers, tmp_path, monkeypatch):
    """A DICOM series (synthetic RSNA layout): voxel (0, 0, k) of the export sits at slice k's ImagePositionPatient."""
    import pydicom

    from workbench.data.manifest import build_manifest
    from workbench.data.synth.cohort import write_layouts

    monkeypatch.setenv("WORKBENCH_ID_KEY", "0123456789abcdef-test")
    root = write_layouts(tmp_path, ["rsna"], subjects=1, seed=1, size=48, n_slices=4)["rsna"]
    frame = build_manifest("rsna", root, n_folds=0)[0].sort_values("slice_index")
    write_manifest(frame, tmp_path / "m.csv")
    cfg = ExportConfig(checkpoint=str(study_classifiers["binary"]), manifest=str(tmp_path / "m.csv"), root=str(root),
                       out=str(tmp_path / "x"))
    img = nib.load(str(export_explanations(cfg).files[0]))
    assert img.shape == (48, 48, len(frame))  # (columns, rows, slices)
    for k, rel in enumerate(frame["image_path"]):
        ds = pydicom.dcmread(str(root / rel), stop_before_pixels=True)
        lps = np.array([float(v) for v in ds.ImagePositionPatient])
        assert np.allclose(img.affine @ [0, 0, k, 1], [-lps[0], -lps[1], lps[2], 1], atol=1e-3)


def test_a_failed_export_leaves_nothing_a_rerun_would_trust(study_cohort, study_classifiers, tmp_path, monkeypatch):
    import workbench.evaluation.explain_export as export_mod

    manifest, root = study_cohort
    path, _ = _one_volume(manifest, tmp_path, n=2)
    cfg = ExportConfig(checkpoint=str(study_classifiers["binary"]), manifest=str(path), root=str(root),
                       out=str(tmp_path / "x"), methods=("hgi_sam",))
    first = export_explanations(cfg)
    before = sorted(p.name for p in (first.out_dir / "maps").iterdir())
    calls = {"n": 0}
    real = export_mod.write_source_volume

    def failing(*args, **kw):  # the second volume of the rerun fails (a full disk, a kill...)
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError("No space left on device")
        return real(*args, **kw)

    monkeypatch.setattr(export_mod, "write_source_volume", failing)
    with pytest.raises(OSError):
        export_explanations(dataclasses_replace(cfg, methods=("hgi_sam", "gradcam")))
    # the earlier export is untouched (no mix of old and new maps); the partial folder is cleaned next time
    assert sorted(p.name for p in (first.out_dir / "maps").iterdir()) == before
    monkeypatch.setattr(export_mod, "write_source_volume", real)
    again = export_explanations(dataclasses_replace(cfg, methods=("gradcam",)))
    assert all("gradcam" in p.name for p in (again.out_dir / "maps").iterdir())
    assert not list(tmp_path.glob(".x.partial-*")) and not list(tmp_path.glob(".x.old-*"))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(Exception, match="not an earlier `workbench explain` output"):
        export_explanations(dataclasses_replace(cfg, out=str(tmp_path / "mine")))
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def dataclasses_replace(cfg, **kw):
    import dataclasses

    return dataclasses.replace(cfg, **kw)


def test_min_component_ml_drops_small_3d_components_of_the_gated_masks(study_cohort, study_classifiers, tmp_path):
    """Independent check: scipy's 26-connected labelling of the unfiltered mask NIfTI, components below
    the volume dropped (voxel volume from the file's zooms)."""
    from scipy import ndimage

    manifest, root = study_cohort
    path, frame = _one_volume(manifest, tmp_path)
    vol = frame["volume_id"].iloc[0]
    masks = {}
    for name, min_ml in (("all", 0.0), ("big", 5.0)):  # components here: ~2.6 and ~145 mL
        cfg = ExportConfig(checkpoint=str(study_classifiers["binary"]), manifest=str(path), root=str(root),
                           out=str(tmp_path / name), methods=("hgi_sam",), threshold=0.3, gate=0.0, min_component_ml=min_ml)
        export_explanations(cfg)
        image = nib.load(str(tmp_path / name / "maps" / f"{vol}_hgi_sam_mask.nii.gz"))
        masks[name] = np.asarray(image.dataobj).astype(bool)
        voxel_ml = float(np.prod(image.header.get_zooms()[:3])) / 1000
        assert pd.read_csv(tmp_path / name / "volumes.csv")["min_component_ml"].tolist() == [min_ml]
    labels, n = ndimage.label(masks["all"], structure=np.ones((3, 3, 3)))
    sizes = np.bincount(labels.ravel()) * voxel_ml
    want = np.isin(labels, [k for k in range(1, n + 1) if sizes[k] >= 5.0])
    assert n > 1 and np.array_equal(masks["big"], want) and masks["big"].sum() < masks["all"].sum()
    with pytest.raises(ValueError, match="min_component_ml -1 must be >= 0"):
        ExportConfig(checkpoint="c", manifest=str(path), root=str(root), out="o", min_component_ml=-1)


def test_a_phantom_trained_checkpoint_on_real_data_says_so(study_cohort, study_classifiers, tmp_path, capsys):
    """Checkpoints whose provenance records training on the procedural phantom (the reference classifiers)
    call most normal slices of a real head CT hemorrhage: explain says so once when the manifest is not
    synthetic, and stays quiet on synthetic data or without such a provenance."""
    import json
    import shutil

    from workbench.models.reference import phantom_only

    manifest, root = study_cohort
    path, frame = _one_volume(manifest, tmp_path)
    stem = tmp_path / "clf" / "best"
    stem.parent.mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copyfile(f"{study_classifiers['binary']}{suffix}", f"{stem}{suffix}")
    real = tmp_path / "real.csv"
    write_manifest(frame.assign(dataset="physionet"), real)

    def warned(manifest_path: Path, out: str) -> bool:
        cfg = ExportConfig(checkpoint=str(stem), manifest=str(manifest_path), root=str(root), out=str(tmp_path / out),
                           methods=("swin_sam",), threshold=0.5)
        export_explanations(cfg)
        return "trained on synthetic phantoms only" in capsys.readouterr().err

    assert not phantom_only(stem) and not warned(real, "a")  # no provenance: nothing known
    stem.with_name("best.provenance.json").write_text(json.dumps({"training_stream": {"stream": {"background": "procedural"}}}))
    assert phantom_only(stem) and phantom_only("reference-binary")
    assert warned(real, "b") and not warned(path, "c")


def test_a_2p5d_checkpoint_explains_like_the_slice_model_it_was_inflated_from(study_cohort, study_classifiers, tmp_path):
    """Inflated with its neighbours' weights at zero, a 2.5D model computes what its source did, so the whole
    export (its datasets stacking each volume's slices, the capture, the prior reading the slice's own
    channels) must give the source's probabilities and maps."""
    from workbench.models import load_model, save_model
    from workbench.models.inflate import inflate_to_stack

    manifest, root = study_cohort
    path, _ = _one_volume(manifest, tmp_path, n=2)
    save_model(inflate_to_stack(load_model(study_classifiers["binary"]), 1), tmp_path / "stacked" / "best")
    runs = {}
    for name, stem in (("slice", study_classifiers["binary"]), ("stacked", tmp_path / "stacked" / "best")):
        export_explanations(ExportConfig(checkpoint=str(stem), manifest=str(path), root=str(root), out=str(tmp_path / "out" / name),
                                         methods=("hgi_sam", "gradcam", "blood_refine"), thresholds=(("blood_refine", 0.3),)))
        runs[name] = pd.read_csv(tmp_path / "out" / name / "probabilities.csv")
    assert runs["stacked"]["prob"].to_numpy() == pytest.approx(runs["slice"]["prob"].to_numpy(), abs=1e-5)
    for f in sorted((tmp_path / "out" / "slice" / "maps").glob("*_map.nii.gz")):
        a, b = (np.asarray(nib.load(str(tmp_path / "out" / n / "maps" / f.name)).dataobj) for n in ("slice", "stacked"))
        assert np.abs(a - b).max() < 1e-3, f.name
