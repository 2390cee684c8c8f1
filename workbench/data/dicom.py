"""DICOM CT slice -> Hounsfield units, with the quirks of RSNA 2019 and CQ500.

Quirks handled (tags as defined in DICOM PS3.3; quirks as found in the RSNA 2019 and CQ500 data):
- WindowCenter / WindowWidth multi-valued or zero-padded strings (``"00036\\00036"``): first value.
- RSNA "bad intercept" slices (PixelRepresentation 0, BitsStored 12, RescaleIntercept > -100):
  add 1000 to the raw values, wrap values >= 4096 by -4096, use intercept -1000.
- PixelPaddingValue (CQ500: BitsStored 14 signed, padding -2000, which naive rescaling turns into
  -3024 HU): padded pixels become air, :data:`AIR_HU`.
- Any slice size (RSNA has a few that are not 512 x 512).
- Truncated pixel data, missing pixel data, Secondary Capture, RGB, multi-frame and non-CT files:
  :class:`~workbench.utils.errors.DataError` naming the file and the problem. The header scan
  (:func:`check_file`) finds all of them without decoding pixels.

Display orientation is the pixel grid as stored (manifest orientation ``dicom``): for the usual
ImageOrientationPatient ``[1,0,0, 0,1,0]`` row 0 is anterior and column 0 the patient's right.
Nothing returned here holds a patient or study identifier.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from workbench.utils.errors import DataError

__all__ = [
    "AIR_HU",
    "first_value",
    "check_ct",
    "check_file",
    "raw_to_hu",
    "has_bad_intercept",
    "read_dicom_slice",
    "load_dicom_hu",
]

AIR_HU = -1024.0
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"  # prefix of every Secondary Capture SOP class
PIXEL_TAGS = {(0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009)}
LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"SQ", b"UT", b"UC", b"UR"}


def first_value(value: Any, default: float | None = None) -> float | None:
    """First number of a possibly multi-valued, zero-padded DICOM value (``"00036\\00036"`` -> 36.0)."""
    if value is None or value == "":
        return default
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        if len(value) == 0:
            return default
        value = value[0]
    text = str(value).strip().split("\\")[0]
    try:
        return float(text)
    except ValueError:
        return default


def _dcmread(source: str | Path | BinaryIO, **kwargs) -> Dataset:
    """pydicom.dcmread without pydicom's warnings (they can quote header values, e.g. bad UIDs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(source, **kwargs)


def check_ct(ds: Dataset, path: str | Path) -> None:
    """Raise DataError unless ``ds`` is a single-frame greyscale CT image (header only)."""
    sop = str(ds.get("SOPClassUID", ""))
    if sop.startswith(SECONDARY_CAPTURE):
        raise DataError(path, f"Secondary Capture image (SOP class {sop}), not a CT slice")
    modality = str(ds.get("Modality", ""))
    if modality != "CT":
        raise DataError(path, f"modality {modality or 'missing'!r} is not CT")
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if samples != 1 or not photometric.startswith("MONOCHROME"):
        raise DataError(
            path, f"colour image (PhotometricInterpretation {photometric!r}, SamplesPerPixel {samples}); "
            "expected greyscale MONOCHROME1/MONOCHROME2 CT"
        )
    frames = int(first_value(ds.get("NumberOfFrames"), 1) or 1)
    if frames != 1:
        raise DataError(path, f"multi-frame image ({frames} frames); expected one slice per file")
    for name in ("Rows", "Columns", "BitsAllocated"):
        if not ds.get(name):
            raise DataError(path, f"header lacks {name}")
    for name in ("RescaleIntercept", "RescaleSlope"):
        value = ds.get(name)
        if value not in (None, "") and first_value(value) is None:
            raise DataError(path, f"{name} {str(value)[:20]!r} is not a number; HU cannot be computed")
    _check_orientation(ds.get("ImageOrientationPatient"), path)


def _check_orientation(value: Any, path: str | Path) -> None:
    """ImageOrientationPatient, when present: two unit, orthogonal direction cosines (6 numbers)."""
    if value is None or value == "":
        return
    try:
        cosines = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(path, "ImageOrientationPatient holds non-numbers") from None
    if cosines.shape != (6,):
        raise DataError(path, f"ImageOrientationPatient has {cosines.size} values; expected 6")
    row, col = cosines[:3], cosines[3:]
    norms = (np.linalg.norm(row), np.linalg.norm(col))
    if not all(0.9 < n < 1.1 for n in norms) or abs(float(row @ col)) > 0.1:
        raise DataError(path, f"degenerate ImageOrientationPatient {cosines.round(3).tolist()} (direction cosines "
                              "must be unit length and orthogonal)")


def _expected_bytes(ds: Dataset) -> int:
    return int(ds.Rows) * int(ds.Columns) * int(ds.BitsAllocated) // 8


def _check_pixel_element(fp: BinaryIO, ds: Dataset, path: str | Path, size: int) -> None:
    """With ``fp`` just before the pixel data element: raise DataError if it is absent or short."""
    start = fp.tell()
    head = fp.read(12)
    if len(head) < 8:
        raise DataError(path, "no pixel data element (the file ends after the header)")
    implicit, little = ds.original_encoding
    endian = "<" if little in (True, None) else ">"
    group, elem = struct.unpack(endian + "HH", head[:4])
    if (group, elem) not in PIXEL_TAGS:
        raise DataError(path, f"no pixel data element (next element is ({group:04X},{elem:04X}))")
    if implicit:
        length, header_len = struct.unpack(endian + "I", head[4:8])[0], 8
    elif head[4:6] in LONG_VRS:
        length, header_len = struct.unpack(endian + "I", head[8:12])[0], 12
    else:
        length, header_len = struct.unpack(endian + "H", head[6:8])[0], 8
    if length == 0xFFFFFFFF:  # encapsulated (compressed): the codec checks it when decoding
        return
    available = size - start - header_len
    if available < length:
        raise DataError(path, f"truncated pixel data: {max(available, 0)} of {length} declared bytes present")
    expected = _expected_bytes(ds)
    if length < expected:
        raise DataError(
            path, f"pixel data too short: {length} bytes for {ds.Rows}x{ds.Columns} at "
            f"{ds.BitsAllocated} bits (expected {expected})"
        )
    if length > expected + 1:  # one padding byte keeps an element even-length
        raise DataError(path, f"pixel data holds {length} bytes but Rows x Columns ({ds.Rows}x{ds.Columns}) at "
                              f"{ds.BitsAllocated} bits need {expected}: the header does not describe the image")


def check_file(path: str | Path) -> Dataset:
    """Header-only read of ``path`` (pixels are not loaded) with every check of this module.

    Returns the header Dataset (without PixelData); raises DataError naming the file for an
    unreadable file, a non-CT image, or missing / truncated pixel data.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fp:
            ds = _dcmread(fp, stop_before_pixels=True)
            check_ct(ds, path)
            _check_pixel_element(fp, ds, path, size)
    except DataError:
        raise
    except Exception as exc:  # pydicom raises many types; none of their messages quote identifiers
        raise DataError(path, f"not a readable DICOM file ({type(exc).__name__}: {str(exc)[:160]})") from None
    return ds



def has_bad_intercept(ds: Dataset) -> bool:
    """True for RSNA's mis-scaled slices: PixelRepresentation 0, BitsStored 12, intercept > -100."""
    return (
        int(ds.get("PixelRepresentation", 0)) == 0
        and int(ds.get("BitsStored", 16)) == 12
        and first_value(ds.get("RescaleIntercept"), 0.0) > -100
    )


def _padding_mask(raw: np.ndarray, ds: Dataset) -> np.ndarray | None:
    """Pixels equal to PixelPaddingValue (or inside [value, PixelPaddingRangeLimit]); None if no padding."""
    value = first_value(ds.get("PixelPaddingValue"))
    if value is None:
        return None
    limit = first_value(ds.get("PixelPaddingRangeLimit"), value)
    low, high = min(value, limit), max(value, limit)
    return (raw >= low) & (raw <= high)


def raw_to_hu(raw: np.ndarray, ds: Dataset) -> tuple[np.ndarray, dict]:
    """Stored values (H, W) -> HU float32 (H, W), and what was applied (slope, intercept, fixes)."""
    raw = raw.astype(np.int32)
    padded = _padding_mask(raw, ds)
    slope = first_value(ds.get("RescaleSlope"), 1.0)
    intercept = first_value(ds.get("RescaleIntercept"), 0.0)
    bad = has_bad_intercept(ds)
    if bad:
        raw = raw + 1000
        raw[raw >= 4096] -= 4096
        intercept = -1000.0
    hu = raw.astype(np.float32) * np.float32(slope) + np.float32(intercept)
    n_padded = 0
    if padded is not None:
        n_padded = int(padded.sum())
        hu[padded] = AIR_HU
    info = {"rescale_slope": slope, "rescale_intercept": intercept, "bad_intercept_fixed": bad, "n_padded": n_padded}
    return hu, info


def _technical_meta(ds: Dataset) -> dict:
    """Header fields safe to expose: geometry and acquisition, never an identifier."""
    spacing = ds.get("PixelSpacing") or [1.0, 1.0]
    position = ds.get("ImagePositionPatient")
    orientation = ds.get("ImageOrientationPatient")
    return {
        "rows": int(ds.Rows),
        "cols": int(ds.Columns),
        "pixel_spacing": (float(spacing[0]), float(spacing[1])),
        "slice_thickness": first_value(ds.get("SliceThickness")),
        "position": tuple(float(v) for v in position) if position else None,
        "orientation": tuple(float(v) for v in orientation) if orientation else None,
        "window": (first_value(ds.get("WindowCenter")), first_value(ds.get("WindowWidth"))),
        "bits_stored": int(ds.get("BitsStored", ds.BitsAllocated)),
        "pixel_representation": int(ds.get("PixelRepresentation", 0)),
        "padding_value": first_value(ds.get("PixelPaddingValue")),
        "kernel": str(ds.get("ConvolutionKernel", "")),
        "modality": str(ds.get("Modality", "")),
    }


def _check_pixels_read(ds: Dataset, path: str | Path) -> None:
    """After a full read: PixelData present and, for native (uncompressed) data, long enough."""
    if "PixelData" not in ds:
        raise DataError(path, "no pixel data element")
    syntax = getattr(ds.file_meta, "TransferSyntaxUID", None)
    expected = _expected_bytes(ds)
    if not (syntax is not None and syntax.is_compressed):
        if len(ds.PixelData) < expected:
            raise DataError(path, f"truncated pixel data: {len(ds.PixelData)} of {expected} bytes present")
        if len(ds.PixelData) > expected + 1:
            raise DataError(path, f"pixel data holds {len(ds.PixelData)} bytes but Rows x Columns ({ds.Rows}x{ds.Columns}) "
                                  f"need {expected}: the header does not describe the image")


def read_dicom_slice(path: str | Path) -> tuple[np.ndarray, dict]:
    """One CT slice -> (HU float32 (H, W) in display orientation, metadata without identifiers).

    One read of the file. Raises DataError naming the file for unreadable, non-CT, truncated or
    pixel-less files.
    """
    try:
        ds = _dcmread(path)
    except Exception as exc:
        raise DataError(path, f"not a readable DICOM file ({type(exc).__name__}: {str(exc)[:160]})") from None
    check_ct(ds, path)
    _check_pixels_read(ds, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = ds.pixel_array
    except Exception as exc:
        raise DataError(path, f"cannot decode pixel data ({type(exc).__name__}: {str(exc)[:160]})") from None
    if raw.ndim != 2:
        raise DataError(path, f"pixel array has shape {raw.shape}; expected one (rows, columns) slice")
    hu, applied = raw_to_hu(raw, ds)
    meta = _technical_meta(ds)
    meta.update(applied)
    return hu, meta


def load_dicom_hu(path: str | Path) -> np.ndarray:
    """HU float32 (H, W) of one slice: what the Dataset calls for manifest rows of orientation ``dicom``."""
    return read_dicom_slice(path)[0]
