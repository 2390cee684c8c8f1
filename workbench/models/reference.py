"""The reference classifiers shipped with the package, loadable by name.

``load_model("reference-binary")`` and ``workbench explain --checkpoint reference-binary`` load
``workbench/reference_models/<name>.{safetensors,json}``: a ``cpu-small`` Swin trained by
``workbench train --recipe <name>`` on the synthetic data engine (weights stored as float16, loaded
into float32). Beside each, ``<name>.provenance.json`` records the exact command, git commit,
training seeds, steps, wall time, machine, the held-out AUCs and a small *check cohort* (the first
subjects of the held-out seed) whose AUC a test recomputes from scratch
(:func:`workbench.training.reference.check_cohort_auc`; a training run is shipped by
:func:`workbench.training.reference.export_reference`).
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.utils.errors import choice_error

__all__ = ["REFERENCE_DIR", "REFERENCE_NAMES", "CHECK_SUBJECTS", "reference_stem", "resolve_stem", "provenance",
           "provenance_path", "explain_defaults", "phantom_only", "copy_reference"]

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference_models"
REFERENCE_NAMES: tuple[str, ...] = ("reference-binary", "reference-multilabel")
CHECK_SUBJECTS = 12
"""Subjects of the held-out seed in the check cohort (re-generated and re-scored by the tests)."""


def reference_stem(name: str) -> Path:
    """``REFERENCE_DIR / name`` for a shipped reference name; the error lists the valid names."""
    if name not in REFERENCE_NAMES:
        raise choice_error("reference classifier", name, REFERENCE_NAMES)
    return REFERENCE_DIR / name


def resolve_stem(stem: str | Path) -> Path:
    """A checkpoint stem, run folder or reference name -> a path (names only when no such path exists)."""
    path = Path(stem)
    if str(stem) in REFERENCE_NAMES and not path.exists() and not path.with_suffix(".json").exists():
        named = reference_stem(str(stem))
        if not named.with_name(named.name + ".json").is_file():
            raise FileNotFoundError(f"{named}.json: reference classifier {stem!r} is not shipped in this checkout")
        return named
    return path


def copy_reference(name: str, dest: str | Path) -> Path:
    """Copy the shipped classifier ``name`` to the checkpoint stem ``dest``: ``dest.safetensors``, ``dest.json``,
    its provenance ``dest.provenance.json`` (where :func:`explain_defaults` finds the calibrated gates) and,
    when it has one, its scan-context head ``dest.context.safetensors``; returns ``dest``."""
    import shutil

    stem, dest = reference_stem(name), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".safetensors", ".json", ".provenance.json", ".context.safetensors"):
        source = stem.with_name(stem.name + suffix)
        if suffix != ".context.safetensors" or source.is_file():
            shutil.copyfile(source, dest.with_name(dest.name + suffix))
    return dest


def provenance(name: str) -> dict:
    """The provenance record of a shipped reference classifier."""
    path = REFERENCE_DIR / f"{name}.provenance.json"
    if not path.is_file():
        reference_stem(name)  # unknown name -> the choice error
        raise FileNotFoundError(f"{path}: no provenance for {name!r}")
    return json.loads(path.read_text())


def provenance_path(stem: str | Path) -> Path:
    """``<stem>.provenance.json`` beside a checkpoint stem (a shipped name is resolved first)."""
    path = resolve_stem(stem)
    if (path / "best.json").is_file():  # a run folder
        path = path / "best"
    return path.with_name(path.name + ".provenance.json")


def explain_defaults(stem: str | Path) -> dict | None:
    """The per-method ``{"gate", "threshold"}`` a checkpoint carries in its provenance
    (``explain_defaults.methods``, chosen on its validation subjects), or None when it has none."""
    return _record(stem).get("explain_defaults")


def _record(stem: str | Path) -> dict:
    """The provenance beside a checkpoint stem ({} when it has none)."""
    path = provenance_path(stem)
    return json.loads(path.read_text()) if path.is_file() else {}


def phantom_only(stem: str | Path) -> bool:
    """True when a checkpoint's provenance says it trained on the synthetic stream's procedural phantoms only
    (the reference classifiers): on a real scan its P(ICH), gates and volumes are not to be trusted (a normal
    real head reads as hemorrhage; ``docs/guide/training.md``, "Real anatomy"). ``workbench explain`` warns
    when such a checkpoint meets a manifest row whose ``dataset`` is not ``synthetic`` (a synthetic cohort on
    the real Cranium background is labelled ``synthetic`` and gets no warning: its docs say as much)."""
    stream = _record(stem).get("training_stream", {}).get("stream", {})
    return stream.get("background") == "procedural"

