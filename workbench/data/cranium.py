"""Reader of the real head CT shipped by Debian's ``invesalius-examples`` package.

``Cranium.inv3`` is a gzip tar holding ``main.plist`` (matrix file name, dtype, shape, spacing)
and the raw matrix: 108 x 256 x 256 int16 HU, 0.957 x 0.957 x 1.5 mm, no hemorrhage. The file's
rows run anterior at the bottom, so the reader flips rows to give the workbench's display
orientation (see :mod:`workbench.data.orientation`). The file is read from the tar in memory;
nothing is extracted to disk. GPL-2; install at test time, never commit it.
"""

from __future__ import annotations

import plistlib
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

__all__ = ["CRANIUM_PATH", "INSTALL_HINT", "cranium_available", "load_cranium"]

CRANIUM_PATH = Path("/usr/share/doc/invesalius-examples/examples/Cranium.inv3")
INSTALL_HINT = "install it with `apt-get install invesalius-examples`"


def cranium_available(path: str | Path = CRANIUM_PATH) -> bool:
    """True when the Cranium example file exists."""
    return Path(path).is_file()


def _member(tar: tarfile.TarFile, name: str, path: Path) -> bytes:
    """Bytes of the tar member whose base name is ``name`` (members sit in a temp folder)."""
    for info in tar.getmembers():
        if info.isfile() and PurePosixPath(info.name).name == name:
            handle = tar.extractfile(info)
            if handle is not None:
                return handle.read()
    raise ValueError(f"{path}: no member {name!r} in the InVesalius project")


def load_cranium(path: str | Path = CRANIUM_PATH) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Read the Cranium head CT.

    Returns ``(hu, spacing)``: ``hu`` is (Z, H, W) int16 HU in display orientation (row 0
    anterior, column 0 patient right, z inferior -> superior); ``spacing`` is
    ``(row_mm, col_mm, slice_mm)``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: Cranium head CT not found; {INSTALL_HINT}")
    with tarfile.open(path, mode="r:gz") as tar:
        meta = plistlib.loads(_member(tar, "main.plist", path))
        matrix = meta.get("matrix", {})
        try:
            name, dtype, shape = matrix["filename"], np.dtype(matrix["dtype"]), tuple(matrix["shape"])
        except KeyError as exc:
            raise ValueError(f"{path}: main.plist lacks matrix field {exc.args[0]!r}") from None
        raw = _member(tar, PurePosixPath(name).name, path)
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path}: matrix {name!r} has {len(raw)} bytes, expected {expected} for {shape} {dtype}")
    volume = np.frombuffer(raw, dtype=dtype).reshape(shape)
    hu = np.ascontiguousarray(volume[:, ::-1, :]).astype(np.int16, copy=False)  # anterior at the top
    sx, sy, sz = (float(s) for s in meta["spacing"])  # (column, row, slice) in InVesalius order
    return hu, (sy, sx, sz)
