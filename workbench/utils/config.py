"""The one base of the frozen config dataclasses: :class:`JsonConfig` (dict, JSON and YAML round trips).

It lives here, with no dependency beyond the standard library (YAML is imported when used), so that
light modules (demo settings, study configs, augmentation) can use it; ``workbench.models.config``
re-exports it.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from workbench.utils.io import read_yaml, write_json_atomic, write_text_atomic

__all__ = ["JsonConfig", "plain", "YAML_SUFFIXES"]

YAML_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")
"""Files with these suffixes are written and read as YAML; every other file as JSON."""


def plain(value: Any) -> Any:
    """``value`` in plain JSON / YAML types: tuples as lists, mappings as dicts, paths as strings (recursively)."""
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def _is_tuple(tp: Any) -> bool:
    return tp is tuple or typing.get_origin(tp) is tuple


def _is_mapping(tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    return isinstance(origin, type) and issubclass(origin, Mapping)


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _fits(tp: Any, value: Any) -> bool:
    """Whether a member ``tp`` of a union is the one a plain ``value`` is restored to."""
    if isinstance(value, (list, tuple)):
        return _is_tuple(tp)
    if isinstance(value, Mapping):
        return _is_dataclass_type(tp) or _is_mapping(tp)
    if isinstance(value, str):
        return tp is Path
    return False


def _restore(tp: Any, value: Any) -> Any:
    """A plain ``value`` (as JSON / YAML gives it) as the annotation ``tp`` wants it: nested config
    dataclasses from mappings, tuples from lists (element by element), paths from strings."""
    if value is None:
        return None
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        member = next((a for a in typing.get_args(tp) if a is not type(None) and _fits(a, value)), None)
        return value if member is None else _restore(member, value)
    if _is_dataclass_type(tp) and isinstance(value, Mapping):
        return tp.from_dict(value) if issubclass(tp, JsonConfig) else tp(**value)
    if _is_tuple(tp) and isinstance(value, (list, tuple)):
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_restore(args[0], v) for v in value)
        if args and len(args) == len(value):
            return tuple(_restore(a, v) for a, v in zip(args, value))
        return tuple(value)
    if _is_mapping(tp) and isinstance(value, Mapping):
        args = typing.get_args(tp)
        return {k: _restore(args[1], v) if len(args) == 2 else v for k, v in value.items()}
    if tp is Path and isinstance(value, str):
        return Path(value)
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _field_types(cls: type) -> dict[str, Any]:
    """Field name -> resolved annotation of dataclass ``cls`` (in field order), cached per class."""
    if cls not in _HINTS:
        hints = typing.get_type_hints(cls)
        _HINTS[cls] = {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}
    return _HINTS[cls]


class JsonConfig:
    """Base of the frozen config dataclasses: ``to_dict`` / ``from_dict`` and atomic ``save`` / ``load``.

    - :meth:`to_dict`: ``dataclasses.asdict`` (nested configs as dicts, tuples kept).
    - :meth:`from_dict`: the inverse, driven by the field annotations: nested config dataclasses are
      rebuilt from dicts, tuples from lists (also tuples of tuples), paths from strings; missing keys
      take the field defaults; an unknown key is a ValueError naming it and the valid fields.
    - :meth:`save` / :meth:`load`: YAML for ``.yaml`` / ``.yml`` (keys in field order), JSON (sorted
      keys, indent 2) otherwise; written atomically (:mod:`workbench.utils.io`).

    Special cases (e.g. a mapping form of a field, paths relative to a file) stay in small overrides
    of :meth:`from_dict` / :meth:`to_dict` in the subclass, which call ``super()``.
    """

    config_name: ClassVar[str] = ""
    """What error messages call the config (default: the class name)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def check_keys(cls, d: Mapping[str, Any]) -> None:
        """Raise a ValueError naming the keys of ``d`` that are not fields of ``cls``, and the valid ones."""
        names = list(_field_types(cls))
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ValueError(f"unknown {cls.config_name or cls.__name__} key(s) {unknown}; "
                             f"valid keys: {', '.join(names)}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]):
        """Build from plain values (see the class docstring)."""
        cls.check_keys(d)
        types_ = _field_types(cls)
        return cls(**{k: _restore(types_[k], v) for k, v in d.items()})

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` atomically: YAML for a ``.yaml`` / ``.yml`` path, JSON otherwise."""
        if Path(path).suffix.lower() in YAML_SUFFIXES:
            import yaml

            return write_text_atomic(path, yaml.safe_dump(plain(self.to_dict()), sort_keys=False))
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path):
        """Read a file written by :meth:`save` (YAML or JSON by suffix)."""
        path = Path(path)
        data = read_yaml(path) if path.suffix.lower() in YAML_SUFFIXES else json.loads(path.read_text())
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: a {cls.config_name or cls.__name__} file holds a mapping of keys to values")
        return cls.from_dict(data)
