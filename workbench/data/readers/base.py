"""What every dataset reader returns, and the registry ``workbench manifest --dataset`` uses.

A reader scans a data root and returns one manifest row per slice (see
``data_manifests/README.md``) plus the items it skipped and why. Readers never raise on one bad
item unless ``strict=True``: they record a :class:`Skipped` and go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

from workbench.data.labels import LABEL_COLUMNS, SUBTYPES
from workbench.utils.errors import DataError, choice_error

__all__ = [
    "Skipped",
    "ScanResult",
    "Reader",
    "READERS",
    "register_reader",
    "get_reader",
    "make_row",
    "record_or_raise",
    "ORIENTATIONS",
    "relative",
]

ORIENTATIONS = ("las", "affine", "dicom")


@dataclass(frozen=True)
class Skipped:
    """An item a reader left out: the file (relative to the root where possible) and why."""

    path: str
    reason: str


@dataclass
class ScanResult:
    """Manifest rows (without ``fold``) and skipped items of one reader run."""

    rows: list[dict] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


class Reader(Protocol):
    def __call__(self, root: Path, *, strict: bool = False, **options) -> ScanResult: ...


READERS: dict[str, Reader] = {}


def register_reader(name: str) -> Callable[[Reader], Reader]:
    """Decorator: register ``fn`` as the reader for ``--dataset name``."""

    def deco(fn: Reader) -> Reader:
        READERS[name] = fn
        return fn

    return deco


def load_builtin_readers() -> None:
    """Import every module of :mod:`workbench.data.readers` so each registers its reader."""
    import importlib
    import pkgutil

    import workbench.data.readers as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_") and info.name != "base":
            importlib.import_module(f"{pkg.__name__}.{info.name}")


def get_reader(name: str) -> Reader:
    """The reader registered under ``name``; a ValueError lists the valid names otherwise."""
    load_builtin_readers()
    if name not in READERS:
        raise choice_error("dataset", name, sorted(READERS))
    return READERS[name]


def record_or_raise(result: ScanResult, error: DataError, strict: bool) -> None:
    """Raise ``error`` when ``strict``; otherwise record it as a skipped item."""
    if strict:
        raise error
    result.skipped.append(Skipped(path=error.path, reason=error.problem))


def make_row(
    *,
    subject_id: str,
    dataset: str,
    volume_id: str,
    image_path: str | Path,
    slice_index: int,
    orientation: str,
    labels: Mapping[str, int] | Sequence[int],
    spacing: Sequence[float],
    mask_path: str | Path = "",
    label_path: str | Path = "",
    has_mask: bool = False,
    label_source: str = "slice",
) -> dict:
    """One manifest row (all columns but ``fold``).

    ``labels``: a mapping with the five subtypes (``any`` derived when absent) or a sequence in
    ``LABEL_COLUMNS`` order. ``spacing``: (row, col, slice) in mm.
    """
    if orientation not in ORIENTATIONS:
        raise choice_error("orientation", orientation, ORIENTATIONS)
    if isinstance(labels, Mapping):
        lab = {k: int(bool(labels.get(k, 0))) for k in SUBTYPES}
        lab["any"] = int(bool(labels.get("any", max(lab.values()))))
    else:
        if len(labels) != len(LABEL_COLUMNS):
            raise ValueError(f"labels need {len(LABEL_COLUMNS)} values ({', '.join(LABEL_COLUMNS)}), got {len(labels)}")
        lab = {k: int(bool(v)) for k, v in zip(LABEL_COLUMNS, labels)}
    row = {
        "subject_id": str(subject_id),
        "dataset": dataset,
        "volume_id": str(volume_id),
        "image_path": Path(image_path).as_posix(),
        "slice_index": int(slice_index),
        "orientation": orientation,
        "mask_path": Path(mask_path).as_posix() if str(mask_path) else "",
        "label_path": Path(label_path).as_posix() if str(label_path) else "",
    }
    row.update({k: lab[k] for k in LABEL_COLUMNS})
    row["label_source"] = label_source
    row["has_mask"] = int(bool(has_mask))
    row["spacing_row"], row["spacing_col"], row["spacing_slice"] = (float(s) for s in spacing)
    return row


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` as a POSIX string (the path itself when not below root)."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()

