"""Truncated NIfTI files are skipped and reported at manifest time by every NIfTI reader, never written
into a manifest (where training would find them later) and never aborting the whole scan."""

from __future__ import annotations

import pytest

from workbench.data.manifest import build_manifest
from workbench.data.synth import write_layouts


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    return write_layouts(tmp_path_factory.mktemp("layouts"), ["physionet", "bhsd"], subjects=3, seed=5, size=32,
                         n_slices=4)


def _truncate(path, keep=0.6):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("what", ["ct_scans", "masks"])
def test_physionet_skips_a_truncated_scan_or_mask(layouts, what, tmp_path):
    import shutil

    root = tmp_path / "physionet"
    shutil.copytree(layouts["physionet"], root)
    _truncate(root / what / "002.nii")
    frame, skipped = build_manifest("physionet", root, n_folds=0)
    assert frame["volume_id"].nunique() == 2 and not frame["image_path"].str.contains("002").any()
    assert len(skipped) == 1 and "002.nii" in str(skipped[0].path)
    assert "cannot read voxel data" in skipped[0].reason or "not a readable NIfTI" in skipped[0].reason


def test_bhsd_skips_a_truncated_compressed_image(layouts, tmp_path):
    import shutil

    root = tmp_path / "bhsd"
    shutil.copytree(layouts["bhsd"], root)
    images = sorted(p for p in root.rglob("*.nii.gz") if "ground truths" not in str(p))
    _truncate(images[1])
    frame, skipped = build_manifest("bhsd", root, n_folds=0)
    assert frame["volume_id"].nunique() == 2
    assert len(skipped) == 1 and images[1].name in str(skipped[0].path)
