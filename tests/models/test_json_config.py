"""The one config base: dict / JSON / YAML round trips, nested configs, tuples, paths, unknown keys."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from workbench.baselines.config import BaselineTrainConfig
from workbench.baselines.models import BaselineConfig
from workbench.models.config import JsonConfig, ModelConfig, SwinArch
from workbench.training.augment import AugmentConfig
from workbench.training.config import TrainConfig
from workbench.utils.config import plain


@dataclass(frozen=True)
class _Inner(JsonConfig):
    sizes: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class _Outer(JsonConfig):
    name: str
    inner: _Inner = field(default_factory=_Inner)
    pairs: tuple[tuple[str, float], ...] = ()
    where: Path | None = None
    window: int | tuple[int, ...] = 7
    maybe: tuple[int, ...] | None = None


@pytest.mark.parametrize("config", [
    _Outer("a", _Inner((3, 4)), (("x", 0.5), ("y", 1.0)), Path("/tmp/x"), (4, 8), (1,)),
    _Outer("b"),
    TrainConfig(min_epochs=2, augment=AugmentConfig(flip_p=0.0)),
    BaselineTrainConfig(channels=(4, 8, 16)),
    BaselineConfig("unet", channels=(8, 16)),
    ModelConfig("binary", ("no_ich", "ich"), arch=SwinArch(window_size=(4, 4, 4, 4))),
])
@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_save_load_round_trip(tmp_path, config, suffix):
    path = config.save(tmp_path / f"config{suffix}")
    assert type(config).load(path) == config
    assert type(config).from_dict(json.loads(json.dumps(plain(config.to_dict())))) == config
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # written atomically, nothing left behind


def test_json_and_yaml_by_suffix(tmp_path):
    cfg = _Outer("a", pairs=(("x", 0.5),), where=Path("/data"))
    as_json = json.loads(cfg.save(tmp_path / "c.json").read_text())
    assert as_json["pairs"] == [["x", 0.5]] and as_json["where"] == "/data"
    text = cfg.save(tmp_path / "c.yml").read_text()
    assert yaml.safe_load(text) == as_json and text.startswith("name: a\n")  # field order, not sorted


def test_unknown_key_names_it_and_the_valid_fields():
    with pytest.raises(ValueError, match=r"unknown TrainConfig key\(s\) \['epoch'\]; valid keys: task, epochs, "):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match=r"unknown AugmentConfig key\(s\) \['flip'\]; valid keys: flip_p"):
        TrainConfig.from_dict({"augment": {"flip": 0.5}})


def test_older_files_without_newer_fields_take_the_defaults(tmp_path):
    saved = TrainConfig().to_dict()
    del saved["min_epochs"], saved["augment"]
    (tmp_path / "train_config.json").write_text(json.dumps(saved))
    assert TrainConfig.load(tmp_path / "train_config.json") == TrainConfig()
