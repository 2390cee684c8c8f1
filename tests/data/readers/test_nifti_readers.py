"""BHSD and INSTANCE readers on generated files stored in unusual axis orders: the affine rules."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from workbench.data.label_volumes import volume_slice_labels
from workbench.data.labels import LABEL_COLUMNS
from workbench.data.orientation import las_slice_to_display, to_las
from workbench.data.readers.base import get_reader
from workbench.data.writers import toy_subjects, write_bhsd, write_instance
from workbench.utils.errors import DataError

SPACING = (0.4, 0.6, 5.0)  # anisotropic in-plane: catches swapped row / col spacings


@pytest.fixture(scope="module")
def aniso_subjects():
    return toy_subjects(2, shape=(5, 24, 20), spacing=SPACING, seed=1)


def _display_slice(path, z: int) -> np.ndarray:
    """What a Dataset does for orientation 'affine': reorient to (L, A, S), take slice z, rot90."""
    image = nib.load(path)
    las, _ = to_las(np.asanyarray(image.dataobj), image.affine)
    return las_slice_to_display(las[:, :, z])


@pytest.mark.parametrize("axcodes", [("R", "A", "S"), ("R", "P", "I"), ("A", "L", "S")])
def test_bhsd_rows_follow_the_affine(tmp_path, aniso_subjects, axcodes):
    write_bhsd(aniso_subjects, tmp_path, axcodes=axcodes)
    result = get_reader("bhsd")(tmp_path)
    assert result.skipped == [] and len(result.rows) == 10
    for subject in aniso_subjects:
        rows = [r for r in result.rows if r["subject_id"] == f"bhsd-{subject.subject_id}"]
        expected = volume_slice_labels(subject.labels)
        for row in rows:
            z = row["slice_index"]
            assert [row[c] for c in LABEL_COLUMNS] == expected[z].tolist()
            assert (row["spacing_row"], row["spacing_col"], row["spacing_slice"]) == pytest.approx(SPACING)
            assert row["orientation"] == "affine" and row["has_mask"] == 1
            assert row["label_path"] == row["mask_path"] == f"label_192/ground truths/{subject.subject_id}.nii.gz"
            np.testing.assert_array_equal(_display_slice(tmp_path / row["image_path"], z), subject.hu[z])
    assert get_reader("bhsd")(tmp_path / "label_192").rows[0]["image_path"] == "images/toy-000.nii.gz"


def test_instance_binary_labels(tmp_path, aniso_subjects):
    write_instance(aniso_subjects, tmp_path, axcodes=("L", "P", "I"))
    result = get_reader("instance")(tmp_path)
    assert result.skipped == [] and len(result.rows) == 10
    subject = aniso_subjects[0]
    rows = sorted((r for r in result.rows if r["subject_id"] == "instance-toy-000"), key=lambda r: r["slice_index"])
    assert [r["any"] for r in rows] == (subject.labels > 0).any(axis=(1, 2)).astype(int).tolist()
    assert all(r[c] == 0 for r in rows for c in LABEL_COLUMNS[1:])
    assert rows[0]["label_path"] == "" and rows[0]["mask_path"] == "train/label/toy-000.nii.gz"


def test_bad_pairs_are_skipped(tmp_path, aniso_subjects):
    write_bhsd(aniso_subjects, tmp_path)
    base = tmp_path / "label_192"
    gt = base / "ground truths"
    image = nib.load(gt / "toy-000.nii.gz")
    nib.save(nib.Nifti1Image(np.full(image.shape, 7, np.uint8), image.affine), gt / "toy-000.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros((3, 3, 3), np.uint8), image.affine), gt / "toy-001.nii.gz")
    nib.save(image, base / "images" / "toy-002.nii.gz")  # no label of that name
    (gt / "toy-003.nii.gz").write_bytes(b"")  # a label without an image
    result = get_reader("bhsd")(tmp_path)
    reasons = {s.path: s.reason for s in result.skipped}
    assert result.rows == []
    assert "label values [7] outside 0-5" in reasons["label_192/ground truths/toy-000.nii.gz"]
    assert "does not match image shape" in reasons["label_192/ground truths/toy-001.nii.gz"]
    assert "no label file" in reasons["label_192/images/toy-002.nii.gz"]
    assert "no image" in reasons["label_192/ground truths/toy-003.nii.gz"]
    with pytest.raises(DataError, match="no image of the same name"):
        get_reader("bhsd")(tmp_path, strict=True)


def test_missing_folders_and_options(tmp_path):
    with pytest.raises(DataError, match="folder not found"):
        get_reader("instance")(tmp_path)
    with pytest.raises(ValueError, match="reader option"):
        get_reader("bhsd")(tmp_path, workers=2)


def test_rows_load_through_the_dataset_loader(tmp_path, aniso_subjects):
    slices = pytest.importorskip("workbench.data.slices")
    write_bhsd(aniso_subjects, tmp_path, axcodes=("R", "P", "I"))
    subject = aniso_subjects[0]
    for row in get_reader("bhsd")(tmp_path).rows[:5]:
        hu, mask, labels = slices.load_row(row, tmp_path)
        z = row["slice_index"]
        np.testing.assert_array_equal(hu, subject.hu[z])
        np.testing.assert_array_equal(labels, subject.labels[z])
        np.testing.assert_array_equal(mask, subject.labels[z] > 0)
