"""Build and save CT Image Storage slices for the RSNA and CQ500 layout writers.

:func:`encode` turns HU into stored values for one of the header styles real data uses
(:data:`STYLES`); :func:`ct_slice` assembles a full CT header around them; :func:`fake_identity`
gives realistic but invented patient identifiers (the readers must keep them out of manifests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from workbench.utils.errors import choice_error
from workbench.utils.io import atomic_path

__all__ = ["STYLES", "uid", "fake_identity", "encode", "ct_slice", "save_dicom", "fov_mask"]

# name: (BitsStored, PixelRepresentation, RescaleIntercept)
STYLES: dict[str, tuple[int, int, float]] = {
    "rsna": (12, 0, -1024.0),  # unsigned 12 bit, the common RSNA header
    "rsna_bad_intercept": (12, 0, 0.0),  # needs the +1000 / wrap 4096 / intercept -1000 fix
    "cq500": (14, 1, -1024.0),  # signed 14 bit with PixelPaddingValue -2000
}
SURNAMES = ("SMITH", "GARCIA", "NGUYEN", "MUELLER", "ROSSI", "KOWALSKI", "TANAKA", "OKAFOR")
GIVEN = ("ANNA", "JAMES", "MEI", "OMAR", "LUCIA", "PIOTR", "KENJI", "ADA")


def uid(*parts) -> str:
    """A valid, deterministic DICOM UID derived from ``parts``."""
    return generate_uid(entropy_srcs=[str(p) for p in parts])


def fake_identity(rng: np.random.Generator, patient_id: str) -> dict[str, str]:
    """Invented identifiers of the kinds real headers carry (name, id, birth date, accession...)."""
    year, month, day = rng.integers(1930, 2000), rng.integers(1, 13), rng.integers(1, 29)
    return {
        "PatientName": f"{rng.choice(SURNAMES)}^{rng.choice(GIVEN)}{rng.integers(10, 99)}",
        "PatientID": patient_id,
        "PatientBirthDate": f"{year:04d}{month:02d}{day:02d}",
        "PatientSex": str(rng.choice(["F", "M"])),
        "AccessionNumber": f"ACC{rng.integers(10**7, 10**8)}",
        "InstitutionName": f"St {rng.choice(SURNAMES).title()} Hospital {rng.integers(100, 999)}",
        "ReferringPhysicianName": f"{rng.choice(SURNAMES)}^DR{rng.integers(100, 999)}",
    }


def fov_mask(shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool, True outside the inscribed circle: the padded corners of a CT reconstruction."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy - (h - 1) / 2) / (h / 2)) ** 2 + ((xx - (w - 1) / 2) / (w / 2)) ** 2 > 1.0


def encode(hu: np.ndarray, style: str, padding: np.ndarray | None = None) -> np.ndarray:
    """HU (H, W) -> stored values (H, W) for ``style``; ``padding`` pixels get -2000 (cq500 only)."""
    if style not in STYLES:
        raise choice_error("DICOM style", style, STYLES)
    bits, signed, intercept = STYLES[style]
    hu = np.asarray(hu, dtype=np.int32)
    if style == "rsna_bad_intercept":
        raw = np.mod(np.clip(hu, -1000, 3095), 4096)  # the inverse of the RSNA fix
    else:
        lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        raw = np.clip(hu - intercept, lo, hi)
    if padding is not None:
        raw = np.where(padding, -2000, raw)
    return raw.astype(np.int16 if signed else np.uint16)


def ct_slice(
    raw: np.ndarray,
    *,
    style: str,
    identity: Mapping[str, str],
    uids: Mapping[str, str],
    position: Sequence[float],
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    pixel_spacing: Sequence[float] = (0.5, 0.5),
    thickness: float = 5.0,
    window: tuple = ("40", "80"),
    kernel: str = "STANDARD",
    description: str = "",
    instance_number: int | None = None,
    padding: bool = False,
) -> Dataset:
    """A CT Image Storage dataset holding ``raw`` (H, W) stored values (see :func:`encode`).

    uids: StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID, FrameOfReferenceUID.
    window: (center, width), each a string, a number or a list (multi-valued, as RSNA has).
    """
    bits, signed, intercept = STYLES[style]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = uids["SOPInstanceUID"]
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    for name, value in {**identity, **uids}.items():
        setattr(ds, name, value)
    ds.SeriesDescription = description
    ds.ConvolutionKernel = kernel
    ds.SliceThickness = f"{thickness:.6g}"
    ds.ImagePositionPatient = [f"{v:.6g}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.6g}" for v in orientation]
    ds.PixelSpacing = [f"{v:.6g}" for v in pixel_spacing]
    if instance_number is not None:
        ds.InstanceNumber = int(instance_number)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = (int(n) for n in raw.shape)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits, bits - 1
    ds.PixelRepresentation = signed
    if padding:
        ds.PixelPaddingValue = -2000
    ds.WindowCenter, ds.WindowWidth = window
    ds.RescaleIntercept = f"{intercept:g}"
    ds.RescaleSlope = "1"
    ds.PixelData = np.ascontiguousarray(raw).tobytes()
    return ds


def save_dicom(ds: Dataset, path: Path, truncate_bytes: int = 0) -> Path:
    """Write ``ds`` atomically; ``truncate_bytes`` > 0 cuts that many bytes off the end (a corrupt file)."""
    with atomic_path(path) as tmp:
        pydicom.dcmwrite(tmp, ds, enforce_file_format=True)
        if truncate_bytes:
            size = tmp.stat().st_size
            with open(tmp, "r+b") as fh:
                fh.truncate(max(size - truncate_bytes, 0))
    return Path(path)
