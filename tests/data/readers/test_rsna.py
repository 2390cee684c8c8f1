"""RSNA reader on generated files: label table, quirks, ordering, bad files, resumable parallel scan."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import workbench.data.ingest as ingest
from workbench.data.dicom import AIR_HU, load_dicom_hu, read_dicom_slice
from workbench.data.label_volumes import volume_slice_labels
from workbench.data.labels import LABEL_COLUMNS
from workbench.data.readers.base import get_reader
from workbench.data.readers.rsna import read_rsna_labels
from workbench.data.writers.rsna import TRUNCATED_ID
from workbench.utils.errors import DataError


def test_label_table_duplicates_rsplit_and_pivot(tmp_path):
    rows = [(f"ID_ab12_{c}", int(c in ("any", "subdural"))) for c in LABEL_COLUMNS]
    rows += [(f"ID_cd34_{c}", 0) for c in LABEL_COLUMNS] + rows[:2]  # two exact duplicates
    pd.DataFrame(rows, columns=["ID", "Label"]).to_csv(tmp_path / "t.csv", index=False)
    wide = read_rsna_labels(tmp_path / "t.csv")
    assert list(wide.columns) == list(LABEL_COLUMNS) and sorted(wide.index) == ["ID_ab12", "ID_cd34"]
    assert wide.loc["ID_ab12"].tolist() == [1, 0, 0, 0, 0, 1] and wide.loc["ID_cd34"].sum() == 0


@pytest.mark.parametrize(
    "rows, message",
    [([("ID_ab_any", 1), ("ID_ab_any", 0)], "different labels"), ([("ID_ab_bleed", 1)], "unknown subtype")],
)
def test_label_table_errors(tmp_path, rows, message):
    pd.DataFrame(rows, columns=["ID", "Label"]).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match=message):
        read_rsna_labels(tmp_path / "t.csv")


def test_reader_orders_slices_labels_and_skips_truncated(rsna_root, subjects):
    result = get_reader("rsna")(rsna_root)
    n_slices = sum(s.hu.shape[0] for s in subjects)
    assert len(result.rows) == n_slices - 1
    assert [(s.path, s.reason.split(":")[0]) for s in result.skipped] == [
        (f"stage_2_train/{TRUNCATED_ID}.dcm", "truncated pixel data")
    ]
    frame = pd.DataFrame(result.rows)
    assert frame["subject_id"].str.fullmatch(r"rsna-[0-9a-f]{16}").all()
    assert frame["volume_id"].nunique() == len(subjects) and (frame["orientation"] == "dicom").all()
    assert frame[["spacing_row", "spacing_col", "spacing_slice"]].drop_duplicates().values.tolist() == [[0.5, 0.5, 5.0]]
    for (_, volume), subject in zip(frame.groupby("volume_id", sort=False), _by_first_slice(frame, subjects, rsna_root)):
        expected = volume_slice_labels(subject.labels)
        for row in volume.itertuples():
            hu = load_dicom_hu(rsna_root / row.image_path)
            z = row.slice_index
            np.testing.assert_array_equal(hu, subject.hu[z][:, : hu.shape[1]])  # incl. bad-intercept slice
            assert [getattr(row, c) for c in LABEL_COLUMNS] == expected[z].tolist()


def _by_first_slice(frame, subjects, root):
    """The subject each volume came from, matched on the HU of its slice 0."""
    out = []
    for _, volume in frame.groupby("volume_id", sort=False):
        first = load_dicom_hu(root / volume.loc[volume["slice_index"] == 0, "image_path"].iloc[0])
        out.append(next(s for s in subjects if np.array_equal(s.hu[0], first)))
    return out


def test_quirks_are_present_in_the_generated_layout(rsna_root):
    metas = [read_dicom_slice(p)[1] for p in sorted((rsna_root / "stage_2_train").glob("*.dcm")) if TRUNCATED_ID not in p.name]
    assert sum(m["bad_intercept_fixed"] for m in metas) == 1
    assert sum((m["rows"], m["cols"]) != (32, 32) for m in metas) == 1
    assert any(m["window"] == (36.0, 80.0) for m in metas)
    table = pd.read_csv(rsna_root / "stage_2_train.csv")
    assert table.duplicated().sum() > 0


def test_strict_stops_at_truncated_file(rsna_root):
    with pytest.raises(DataError, match=f"{TRUNCATED_ID}.dcm: truncated pixel data"):
        get_reader("rsna")(rsna_root, strict=True)


def test_parallel_resumable_scan_matches_serial(rsna_root, tmp_path, monkeypatch):
    serial = get_reader("rsna")(rsna_root)
    cache = tmp_path / "cache"
    parallel = get_reader("rsna")(rsna_root, workers=2, chunk_size=4, cache_dir=str(cache))
    assert parallel.rows == serial.rows and parallel.skipped == serial.skipped
    chunks = sorted(cache.glob("headers-*.csv"))
    assert len(chunks) == 5  # 17 files / 4
    chunks[2].unlink()  # an interrupted run: one chunk missing
    calls = []
    real = ingest.header_record
    monkeypatch.setattr(ingest, "header_record", lambda *a: calls.append(a[1]) or real(*a))
    resumed = get_reader("rsna")(rsna_root, chunk_size=4, cache_dir=str(cache))
    assert resumed.rows == serial.rows and len(calls) == 4
    lines = chunks[1].read_text().splitlines()  # a damaged chunk (rows lost) is rescanned, not trusted
    chunks[1].write_text("\n".join(lines[:-2]) + "\n")
    calls.clear()
    again = get_reader("rsna")(rsna_root, chunk_size=4, cache_dir=str(cache))
    assert again.rows == serial.rows and again.skipped == serial.skipped and len(calls) == 4


def test_keyed_ids_stable_per_key(rsna_root, monkeypatch):
    a = {r["subject_id"] for r in get_reader("rsna")(rsna_root).rows}
    assert a == {r["subject_id"] for r in get_reader("rsna")(rsna_root).rows}
    b = {r["subject_id"] for r in get_reader("rsna")(rsna_root, id_key="another-key-0123456789").rows}
    assert a.isdisjoint(b)
    monkeypatch.delenv("WORKBENCH_ID_KEY")
    with pytest.raises(ValueError, match="at least 16"):
        get_reader("rsna")(rsna_root, id_key="short")


def test_a_per_user_key_is_created_once_and_reused(rsna_root, monkeypatch, tmp_path, capsys):
    import stat

    from workbench.data.pseudonym import user_key_path

    monkeypatch.delenv("WORKBENCH_ID_KEY")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    a = {r["subject_id"] for r in get_reader("rsna")(rsna_root).rows}
    path = user_key_path()
    assert path == tmp_path / "config" / "workbench" / "id_key" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path) in capsys.readouterr().err  # the path is printed once, when the key is made
    key = path.read_text()
    assert a == {r["subject_id"] for r in get_reader("rsna")(rsna_root).rows} and path.read_text() == key
    assert str(path) not in capsys.readouterr().err
    monkeypatch.setenv("WORKBENCH_ID_KEY", "an-override-key-0123456789")  # the environment still wins
    assert a.isdisjoint({r["subject_id"] for r in get_reader("rsna")(rsna_root).rows})


def test_unknown_option_lists_valid_ones(rsna_root):
    with pytest.raises(ValueError, match="valid choices: .*cache_dir.*workers"):
        get_reader("rsna")(rsna_root, worker=2)


@pytest.mark.realct
def test_real_cq500_slice_as_one_slice_rsna_dataset(tmp_path):
    data = pytest.importorskip("pydicom.data")
    try:
        source = data.get_testdata_file("693_UNCR.dcm", download=False)
    except Exception:
        source = None
    if not source:
        pytest.skip("pydicom-data (693_UNCR.dcm) is not installed")
    (tmp_path / "stage_2_train").mkdir()
    shutil.copy(source, tmp_path / "stage_2_train" / "ID_0a1b2c3d4.dcm")
    rows = [(f"ID_0a1b2c3d4_{c}", int(c in ("any", "subdural"))) for c in LABEL_COLUMNS]
    pd.DataFrame(rows, columns=["ID", "Label"]).to_csv(tmp_path / "stage_2_train.csv", index=False)
    result = get_reader("rsna")(tmp_path)
    assert result.skipped == [] and len(result.rows) == 1
    row = result.rows[0]
    assert row["slice_index"] == 0 and row["subdural"] == 1 and row["spacing_slice"] == 5.0
    assert row["spacing_row"] == pytest.approx(0.478516)
    assert "CQ500-CT-310" not in str(row)
    hu, meta = read_dicom_slice(tmp_path / row["image_path"])
    assert hu.shape == (512, 512) and hu.dtype == np.float32
    assert meta["bits_stored"] == 14 and meta["padding_value"] == -2000 and meta["n_padded"] > 0
    assert hu.min() >= AIR_HU and hu.max() < 3100  # padding is air, not -3024 HU
    assert 0 < np.median(hu[192:320, 192:320]) < 60  # brain / chronic subdural range
    assert meta["window"] == (40.0, 100.0) and not {"PatientID", "PatientName"} & set(meta)


def test_rows_load_through_the_dataset_loader(rsna_root):
    slices = pytest.importorskip("workbench.data.slices")
    row = get_reader("rsna")(rsna_root).rows[0]
    hu, mask, labels = slices.load_row(row, rsna_root)
    assert mask is None and labels is None
    np.testing.assert_array_equal(hu, load_dicom_hu(rsna_root / row["image_path"]))
