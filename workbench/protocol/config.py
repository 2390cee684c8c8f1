"""Configuration of the paper's evaluation study (:mod:`workbench.protocol.run`), from YAML.

A :class:`ProtocolConfig` is a frozen dataclass of plain values. ``workbench evaluate --config F``
reads it from YAML (relative paths are relative to the YAML file's folder) and saves the resolved
config as ``config.yaml`` next to the outputs, so every table carries the settings that made it.

Methods (:data:`PROTOCOL_METHODS`): the weak methods read one classifier trained on a separate
cohort (the paper's RSNA; here e.g. a synthetic cohort with another seed); the fully supervised
baselines are trained per test fold on the other folds' masks (:mod:`workbench.baselines`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from workbench.evaluation.detection import MIN_LESION_PIXELS
from workbench.evaluation.gating import GATE_PROBABILITIES
from workbench.evaluation.overlap import THRESHOLD_GRID
from workbench.training.precision import PRECISIONS
from workbench.utils.config import JsonConfig, plain
from workbench.utils.devices import DEVICES
from workbench.utils.errors import check_choice, check_at_least
from workbench.utils.io import read_yaml

__all__ = ["MethodSpec", "method_spec", "WEAK_METHODS", "BASELINE_METHODS", "PROTOCOL_METHODS", "THRESHOLD_MODES", "ProtocolConfig",
           "load_protocol_config"]


@dataclass(frozen=True)
class MethodSpec:
    """How one study method makes its maps.

    model: ``binary`` / ``multilabel`` (classifier checkpoint) or ``baseline``; operator: the
    :func:`workbench.explain` method (weak) or the baseline name; options: operator options;
    fixed_key: key of :data:`~workbench.evaluation.thresholds.FIXED_THRESHOLDS` ("" = no released
    constant).
    """

    model: str
    operator: str
    options: tuple[tuple[str, Any], ...] = ()  # (name, value) pairs
    fixed_key: str = ""

    @property
    def variant(self) -> tuple[str, dict[str, Any]]:
        """``(operator, options)``, as :func:`workbench.explain` takes ``variants``."""
        return self.operator, dict(self.options)


#: Weak methods (one classifier for all folds). Targets: the ICH logit (binary class 1, multilabel
#: "any"). Grad-CAM: last block's norm1 (operator default) with the usual outer ReLU.
WEAK_METHODS: Mapping[str, MethodSpec] = MappingProxyType({
    "swin_sam_binary": MethodSpec("binary", "swin_sam", fixed_key="swin_sam_binary"),
    "swin_sam_multilabel": MethodSpec("multilabel", "swin_sam", fixed_key="swin_sam_multilabel"),
    "swin_gradcam": MethodSpec("binary", "gradcam", (("relu", True),), fixed_key="gradcam"),
    "hgi_sam": MethodSpec("binary", "hgi_sam", fixed_key="hgi_sam"),
    "hgi_sam_multilabel": MethodSpec("multilabel", "hgi_sam"),  # HGI-SAM on the subtyping model's `any` logit
    "rollout": MethodSpec("binary", "rollout"),
    "grad_rollout": MethodSpec("binary", "grad_rollout"),
    "hgi_gradcam": MethodSpec("binary", "hgi_gradcam"),  # the workbench's first candidate (operators.fusion)
    "blood_hu": MethodSpec("binary", "blood_hu"),  # yardstick: the acute-blood density window alone (no attention)
    "rollout_blood": MethodSpec("binary", "blood_refine"),  # the workbench's own: rollout x blood prior (operators.intensity)
    "rollout_blood_multilabel": MethodSpec("multilabel", "blood_refine"),
    "hgi_sam_blood": MethodSpec("binary", "blood_refine", (("base", "hgi_sam"),)),  # ablation: the prior on HGI-SAM
})
#: Fully supervised baselines (trained per fold on the other folds' masks).
BASELINE_METHODS: Mapping[str, MethodSpec] = MappingProxyType({
    "unet": MethodSpec("baseline", "unet"),
    "swin_unetr": MethodSpec("baseline", "swin_unetr"),
})
PROTOCOL_METHODS: tuple[str, ...] = tuple(WEAK_METHODS) + tuple(BASELINE_METHODS)
THRESHOLD_MODES: tuple[str, ...] = ("nested", "fixed")
PATH_KEYS: tuple[str, ...] = ("manifest", "root", "output", "binary_checkpoint", "multilabel_checkpoint")


def method_spec(name: str) -> MethodSpec:
    """The :class:`MethodSpec` of a study method; the error lists the valid names."""
    check_choice("study method", name, PROTOCOL_METHODS)
    return WEAK_METHODS[name] if name in WEAK_METHODS else BASELINE_METHODS[name]


@dataclass(frozen=True)
class ProtocolConfig(JsonConfig):
    """One study: evaluation cohort, checkpoints, methods and protocol settings.

    manifest / root: the EVALUATION cohort (voxel masks, K subject-wise folds in ``fold``).
    binary_checkpoint / multilabel_checkpoint: classifier stems (``runs/x/best`` or the run folder),
    needed only by the methods that use them. size: model input side S (resize 1.1 S, centre crop).
    threshold_mode: ``nested`` (grid search on the training folds, per test fold) or ``fixed`` (the
    released constants where a method has one; nested otherwise). grid: (start, stop, step).
    brain_mask: multiply every map by the HU brain mask. min_pixels: a slice is detected when MORE
    than this many pixels are predicted. baseline_*: per-fold baseline training (epochs is the
    maximum, per baseline in ``baseline_epoch_overrides``; early stopping on the fold after the test
    fold); baseline_threshold: their fixed
    probability threshold (never tuned, see docs/guide/protocol.md); baseline_precision: ``fp32``,
    ``bf16`` or ``auto`` for their training and validation (:mod:`workbench.training.precision`; the study
    scores them in fp32).
    """

    manifest: str
    root: str
    output: str
    binary_checkpoint: str = ""
    multilabel_checkpoint: str = ""
    methods: tuple[str, ...] = PROTOCOL_METHODS
    size: int = 128
    threshold_mode: str = "nested"
    grid: tuple[float, float, float] = THRESHOLD_GRID
    brain_mask: bool = True
    min_pixels: int = MIN_LESION_PIXELS
    batch_size: int = 16
    folds: tuple[int, ...] = ()  # () = every fold of the manifest
    baseline_epochs: int = 30
    baseline_epoch_overrides: tuple[tuple[str, int], ...] = ()  # (baseline, epochs) pairs, e.g. a cheaper SwinUNETR
    baseline_max_steps: int = 0
    baseline_batch_size: int = 16
    baseline_patience: int = 5
    baseline_preset: str = "cpu"
    baseline_threshold: float = 0.5
    baseline_precision: str = "fp32"
    bootstrap_resamples: int = 2000
    seed: int = 0
    threads: int = 0  # torch threads (0: torch's default)
    device: str = "auto"  # where the classifiers and baselines run (auto: a GPU when torch sees one)
    gate_probability: str = "slice"  # the P(ICH) the gates read: "slice" (its own) or "context" (with scan
    # context where the classifier carries a context head, workbench.models.context; bench/ablate_gate_probability.py)

    def __post_init__(self):
        check_choice("device", self.device, DEVICES)
        if not self.methods:
            raise ValueError(f"no methods given; valid choices: {', '.join(PROTOCOL_METHODS)}")
        for name in self.methods:
            method_spec(name)
        repeated = sorted({m for m in self.methods if self.methods.count(m) > 1})
        if repeated:
            raise ValueError(f"methods repeat {', '.join(repeated)}; give each method once")
        check_choice("threshold mode", self.threshold_mode, THRESHOLD_MODES)
        check_choice("gate probability", self.gate_probability, GATE_PROBABILITIES)
        check_choice("baseline precision", self.baseline_precision, PRECISIONS)
        check_at_least(self, ("size", "batch_size", "baseline_epochs", "baseline_batch_size", "baseline_patience",
                     "bootstrap_resamples"))
        if len(self.grid) != 3 or not self.grid[2] > 0 or self.grid[1] < self.grid[0] \
                or not 0.0 <= self.grid[0] <= self.grid[1] <= 1.0:
            raise ValueError(f"grid must be (start, stop, step) with 0 <= start <= stop <= 1 (thresholds of min-max "
                             f"normalised maps) and step > 0, got {self.grid}")
        if not 0 < self.baseline_threshold < 1 or self.min_pixels < 0:
            raise ValueError(f"need 0 < baseline_threshold < 1 and min_pixels >= 0; got {self.baseline_threshold}, "
                             f"{self.min_pixels}")
        for name, epochs in self.baseline_epoch_overrides:
            check_choice("baseline in baseline_epoch_overrides", name, BASELINE_METHODS)
            if epochs < 1:
                raise ValueError(f"baseline_epoch_overrides: {name} epochs must be >= 1, got {epochs}")
        for task in ("binary", "multilabel"):
            if self.uses(task) and not getattr(self, f"{task}_checkpoint"):
                users = [m for m in self.methods if method_spec(m).model == task]
                raise ValueError(f"methods {users} need {task}_checkpoint; give the {task} classifier's stem")

    def epochs_of(self, baseline: str) -> int:
        """Maximum training epochs of ``baseline`` (its override, else ``baseline_epochs``)."""
        return dict(self.baseline_epoch_overrides).get(baseline, self.baseline_epochs)

    def uses(self, model: str) -> bool:
        """Whether any requested method reads ``model`` (binary, multilabel or baseline)."""
        return any(method_spec(m).model == model for m in self.methods)

    def resolved(self) -> "ProtocolConfig":
        """The same config with absolute paths (so the saved ``config.yaml`` works from anywhere)."""
        return dataclasses.replace(self, **{k: str(Path(getattr(self, k)).resolve()) for k in PATH_KEYS
                                            if getattr(self, k)})

    config_name = "study config"

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists, and ``baseline_epoch_overrides`` as a mapping), as the YAML holds them."""
        return plain({**super().to_dict(), "baseline_epoch_overrides": dict(self.baseline_epoch_overrides)})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], base: str | Path | None = None) -> "ProtocolConfig":
        """Build from plain values; unknown keys are an error naming the valid ones. Relative paths
        (manifest, root, output, checkpoints) are resolved against ``base`` when given."""
        cls.check_keys(d)
        d = dict(d)
        overrides = d.get("baseline_epoch_overrides")
        if isinstance(overrides, Mapping):
            d["baseline_epoch_overrides"] = tuple((str(k), int(v)) for k, v in overrides.items())
        elif overrides is not None:
            d["baseline_epoch_overrides"] = tuple((str(k), int(v)) for k, v in overrides)
        for key in ("methods", "grid", "folds"):
            if key in d and d[key] is not None:
                d[key] = tuple([d[key]] if isinstance(d[key], str) else d[key])
        for key in PATH_KEYS:
            if d.get(key) and base is not None and not Path(d[key]).is_absolute():
                d[key] = str((Path(base) / d[key]).resolve())
        return super().from_dict(d)

    @classmethod
    def load(cls, path: str | Path) -> "ProtocolConfig":
        """Read a study YAML (relative paths resolved against its folder); see :func:`load_protocol_config`."""
        return load_protocol_config(path)


def load_protocol_config(path: str | Path, **overrides: Any) -> ProtocolConfig:
    """Read a study YAML; ``overrides`` (e.g. ``output=...``) replace fields after path resolution."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: study config not found")
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a study config is a YAML mapping of keys to values")
    cfg = ProtocolConfig.from_dict(data, base=path.parent)
    return dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None}) if overrides else cfg
