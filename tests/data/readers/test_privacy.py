"""No identifier from a DICOM header reaches a manifest, skipped report, cache, log, stderr or error.

The writers put invented names, ids, birth dates, accession numbers, institutions and UIDs in
every header; this test collects them back from the files and greps every output for them.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from workbench.commands import manifest as command
from workbench.data.dicom import read_dicom_slice
from workbench.data.readers.base import get_reader
from workbench.utils.errors import DataError

IDENTIFIERS = (
    "PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "InstitutionName",
    "ReferringPhysicianName", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
)  # fmt: skip


def _identifiers(root: Path) -> set[str]:
    values: set[str] = set()
    for path in root.rglob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        values |= {str(ds.get(name, "")) for name in IDENTIFIERS}
    values.discard("")
    assert len(values) > 10
    return values


@pytest.mark.parametrize("dataset", ["rsna", "cq500"])
def test_no_identifier_in_any_output(dataset, request, tmp_path, capfd, caplog):
    root = request.getfixturevalue(f"{dataset}_root")
    secrets = _identifiers(root)
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "out"
    argv = ["--dataset", dataset, "--root", str(root), "--out", str(out / "manifest.csv"), "--folds", "0",
            "--option", "workers=2", "--option", "chunk_size=5", "--option", f"cache_dir={out / 'cache'}"]  # fmt: skip
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    assert command.run(parser.parse_args(argv)) == 0  # what `workbench manifest ...` runs
    texts = [p.read_text() for p in out.rglob("*") if p.is_file()]
    assert len(texts) >= 3  # manifest, skipped report, checkpoint chunks
    manifest = pd.read_csv(out / "manifest.csv")
    if dataset == "rsna":
        with pytest.raises(DataError) as info:
            get_reader(dataset)(root, strict=True)
        texts.append(str(info.value))
    texts += [str(read_dicom_slice(root / rel)[1]) for rel in manifest["image_path"][:5]]
    captured = capfd.readouterr()
    texts += [captured.out, captured.err, caplog.text]
    leaks = sorted(s for s in secrets if any(s in text for text in texts))
    assert leaks == []
