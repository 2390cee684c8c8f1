"""CQ500 reader on generated files: reads majority vote, series selection, tilt, padding, skips."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from workbench.data.dicom import AIR_HU, load_dicom_hu
from workbench.data.label_volumes import slice_labels
from workbench.data.labels import LABEL_COLUMNS
from workbench.data.readers.base import get_reader
from workbench.data.readers.cq500 import read_cq500_reads
from workbench.data.writers.cq500 import READ_FIELDS, TILT_DEG
from workbench.utils.errors import DataError


def _folders(result) -> set[str]:
    return {r["image_path"].split("/")[2] for r in result.rows}


def test_reads_majority_vote(tmp_path):
    row = {"name": "CQ500-CT-7", "Category": "B1"}
    for reader, ich, sdh in (("R1", 1, 1), ("R2", 1, 0), ("R3", 0, 1)):  # ICH 2/3, SDH 2/3, IPH 1/3
        row.update({f"{reader}:{f}": 0 for f in READ_FIELDS})
        row.update({f"{reader}:ICH": ich, f"{reader}:SDH": sdh, f"{reader}:IPH": int(reader == "R1")})
    pd.DataFrame([row]).to_csv(tmp_path / "reads.csv", index=False)
    assert len(pd.read_csv(tmp_path / "reads.csv").columns) == 44
    votes = read_cq500_reads(tmp_path / "reads.csv")
    assert votes.loc[7].to_dict() == dict(zip(LABEL_COLUMNS, [1, 0, 0, 0, 0, 1]))
    pd.DataFrame([{**row, "name": "study seven"}]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match="CQ500-CT-<N>"):
        read_cq500_reads(tmp_path / "bad.csv")


def test_default_plain_series_with_study_labels(cq500_root, subjects):
    result = get_reader("cq500")(cq500_root)
    assert result.skipped == []
    assert _folders(result) == {"CT PLAIN THIN", "CT PLAIN THICK"}  # no bone series
    frame = pd.DataFrame(result.rows)
    assert (frame["label_source"] == "study").all() and frame["subject_id"].nunique() == len(subjects)
    for row in result.rows:
        n = int(row["image_path"].split(" ")[0].removeprefix("CQ500CT"))
        assert [row[c] for c in LABEL_COLUMNS] == slice_labels(subjects[n].labels)


def test_series_order_tilt_and_padding(cq500_root, subjects):
    result = get_reader("cq500")(cq500_root, thickness=10)
    assert _folders(result) == {"CT PLAIN THICK"}
    for row in result.rows:
        n = int(row["image_path"].split(" ")[0].removeprefix("CQ500CT"))
        hu = load_dicom_hu(cq500_root / row["image_path"])
        pair = subjects[n].hu[2 * row["slice_index"] : 2 * row["slice_index"] + 2].mean(axis=0).round()
        assert hu[0, 0] == AIR_HU  # padded corner: air, not -3024
        np.testing.assert_array_equal(hu[16], pair[16])  # the middle row is inside the field of view
        tilt = np.deg2rad(TILT_DEG if n % 2 else 0.0)
        assert row["spacing_slice"] == pytest.approx(10.0 * np.cos(tilt), abs=1e-3)


@pytest.mark.parametrize(
    "options, folders",
    [({"series": "thinnest"}, {"CT PLAIN THIN"}), ({"series": "all"}, {"CT PLAIN THIN", "CT PLAIN THICK", "CT BONE"}),
     ({"series": "non-bone", "thickness": 5}, {"CT PLAIN THIN"})],
)  # fmt: skip
def test_series_selection(cq500_root, options, folders):
    result = get_reader("cq500")(cq500_root, **options)
    assert _folders(result) == folders
    assert pd.DataFrame(result.rows).groupby("subject_id")["volume_id"].nunique().eq(len(folders)).all()


def test_no_matching_series_or_reads_row_skips_study(cq500_root, tmp_path):
    result = get_reader("cq500")(cq500_root, thickness=2)
    assert result.rows == [] and len(result.skipped) == 3
    assert "no series matches series='plain', thickness=2" in result.skipped[0].reason
    assert "'CT BONE' (5 mm, bone)" in result.skipped[0].reason
    root = tmp_path / "cq"
    shutil.copytree(cq500_root, root)
    reads = pd.read_csv(root / "reads.csv")
    reads[reads["name"] != "CQ500-CT-1"].to_csv(root / "reads.csv", index=False)
    result = get_reader("cq500")(root)
    assert [(s.path, s.reason) for s in result.skipped] == [("CQ500CT1 CQ500CT1", "no row for study number 1 in reads.csv")]
    with pytest.raises(DataError, match="no row for study number 1"):
        get_reader("cq500")(root, strict=True)


def test_bad_series_option(cq500_root):
    with pytest.raises(ValueError, match="valid choices: plain, non-bone, thinnest, all"):
        get_reader("cq500")(cq500_root, series="soft")
