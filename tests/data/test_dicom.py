"""DICOM -> HU: every quirk and every bad-file kind, on hand-built slices.

The real CQ500 slice from pydicom-data is tested in ``readers/test_rsna.py`` (read as a one-slice
RSNA-layout dataset).
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.multival import MultiValue
from pydicom.uid import SecondaryCaptureImageStorage
from pydicom.valuerep import DSfloat

from workbench.data.dicom import AIR_HU, check_file, first_value, load_dicom_hu, read_dicom_slice
from workbench.data.dicom_series import order_slices, slice_normal, slice_step
from workbench.data.writers._dicom import ct_slice, encode, fake_identity, fov_mask, save_dicom, uid
from workbench.utils.errors import DataError


def _slice(hu: np.ndarray, style: str = "rsna", padding=None, **kwargs):
    """A CT dataset holding ``hu`` (H, W) in ``style``; kwargs go to ct_slice."""
    uids = {n: uid(n) for n in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")}
    ds = ct_slice(encode(hu, style, padding), style=style, identity=fake_identity(np.random.default_rng(0), "ID_1"),
                  uids=uids, position=(0, 0, 0), padding=padding is not None, **kwargs)  # fmt: skip
    return ds


def _hu(shape=(20, 28), seed=0) -> np.ndarray:
    """(H, W) int16 HU between -1000 and 2000."""
    return np.random.default_rng(seed).integers(-1000, 2000, size=shape).astype(np.int16)


@pytest.mark.parametrize(
    "value, expected",
    [("00036", 36.0), (["00036", "00036"], 36.0), (MultiValue(DSfloat, ["40", "80"]), 40.0), ("40\\80", 40.0),
     (" 7 ", 7.0), (None, None), ("", None), ([], None), ("abc", None)],
)  # fmt: skip
def test_first_value(value, expected):
    assert first_value(value) == expected


def test_multivalued_zero_padded_window_and_non_square_slice(tmp_path):
    hu = _hu((20, 28))  # not 512 x 512, not square
    path = save_dicom(_slice(hu, window=(["00036", "00036"], ["00080", "00080"])), tmp_path / "a.dcm")
    out, meta = read_dicom_slice(path)
    assert out.dtype == np.float32 and out.shape == (20, 28)
    np.testing.assert_array_equal(out, hu.astype(np.float32))
    assert meta["window"] == (36.0, 80.0) and (meta["rows"], meta["cols"]) == (20, 28)
    assert not meta["bad_intercept_fixed"]


def test_bad_intercept_fix_by_hand(tmp_path):
    # stored 3096 -> +1000 = 4096 -> wrap 0 -> -1000 HU; 0 -> 1000 -> 0 HU; 4095 -> 5095 -> 999 -> -1 HU
    raw = np.array([[3096, 0], [100, 4095]], dtype=np.uint16)
    ds = _slice(np.zeros((2, 2), np.int16), style="rsna_bad_intercept")
    ds.PixelData = raw.tobytes()
    out, meta = read_dicom_slice(save_dicom(ds, tmp_path / "bad.dcm"))
    np.testing.assert_array_equal(out, [[-1000.0, 0.0], [100.0, -1.0]])
    assert meta["bad_intercept_fixed"] and meta["rescale_intercept"] == -1000.0


def test_bad_intercept_round_trip(tmp_path):
    hu = _hu()
    out, _ = read_dicom_slice(save_dicom(_slice(hu, style="rsna_bad_intercept"), tmp_path / "bad.dcm"))
    np.testing.assert_array_equal(out, np.clip(hu, -1000, 3095))


def test_cq500_padding_becomes_air(tmp_path):
    hu = _hu((24, 24))
    pad = fov_mask(hu.shape)
    out, meta = read_dicom_slice(save_dicom(_slice(hu, style="cq500", padding=pad), tmp_path / "cq.dcm"))
    assert meta["bits_stored"] == 14 and meta["pixel_representation"] == 1 and meta["padding_value"] == -2000
    assert meta["n_padded"] == int(pad.sum()) > 0
    np.testing.assert_array_equal(out[pad], AIR_HU)
    np.testing.assert_array_equal(out[~pad], hu[~pad])


def _bad(ds, kind: str):
    if kind == "secondary capture":
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
        ds.Modality = "OT"
    elif kind == "rgb":
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = bytes(ds.Rows * ds.Columns * 3)
    elif kind == "non-CT":
        ds.Modality = "MR"
    elif kind == "no pixels":
        del ds.PixelData
    elif kind == "short pixels":
        ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    elif kind == "rows too small":  # the pixel data holds more rows than the header says
        ds.Rows = ds.Rows - 4
    elif kind == "zero orientation":
        ds.ImageOrientationPatient = [0, 0, 0, 0, 0, 0]
    elif kind == "text intercept":  # a DS element refuses text; a mis-typed (LO) element is how it happens
        del ds.RescaleIntercept
        ds.add_new((0x0028, 0x1052), "LO", "abc")
    return ds


@pytest.mark.parametrize(
    "kind, message",
    [("secondary capture", "Secondary Capture"), ("rgb", "colour image"), ("non-CT", "modality 'MR' is not CT"),
     ("no pixels", "no pixel data"), ("short pixels", "pixel data too short|truncated pixel data"),
     ("rows too small", "the header does not describe the image"),
     ("zero orientation", "degenerate ImageOrientationPatient"), ("text intercept", "RescaleIntercept 'abc' is not a number")],
)  # fmt: skip
def test_bad_files_rejected_with_file_and_reason(tmp_path, kind, message, monkeypatch):
    from pydicom import config

    monkeypatch.setattr(config.settings, "writing_validation_mode", config.IGNORE)  # write what a bad scanner writes
    monkeypatch.setattr(config.settings, "reading_validation_mode", config.IGNORE)
    path = save_dicom(_bad(_slice(_hu()), kind), tmp_path / "x.dcm")
    for fn in (check_file, read_dicom_slice, load_dicom_hu):
        with pytest.raises(DataError, match=message) as info:
            fn(path)
        assert info.value.path == str(path)


def test_truncated_and_garbage_files(tmp_path):
    truncated = save_dicom(_slice(_hu()), tmp_path / "t.dcm", truncate_bytes=10)
    with pytest.raises(DataError, match="truncated pixel data") as info:
        load_dicom_hu(truncated)
    assert str(truncated) in str(info.value)
    garbage = tmp_path / "g.dcm"
    garbage.write_bytes(b"not a dicom file at all" * 10)
    for fn in (check_file, load_dicom_hu):
        with pytest.raises(DataError, match="not a readable DICOM file"):
            fn(garbage)


def test_slice_normal_and_ordering_with_tilt():
    np.testing.assert_allclose(slice_normal([1, 0, 0, 0, 1, 0]), [0, 0, 1])
    with pytest.raises(ValueError, match="parallel"):
        slice_normal([1, 0, 0, 1, 0, 0])
    t = np.deg2rad(20)
    iop = [1, 0, 0, 0, np.cos(t), np.sin(t)]  # gantry tilt: normal (0, -sin t, cos t)
    z = np.array([10.0, -5.0, 0.0, 5.0])  # table positions, shuffled
    order, proj = order_slices(np.c_[np.zeros(4), np.zeros(4), z], iop)
    assert order.tolist() == [1, 2, 3, 0]
    assert slice_step(proj) == pytest.approx(5.0 * np.cos(t))
    assert slice_step([3.0], fallback=2.5) == 2.5

