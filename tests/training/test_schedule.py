"""Warm-up + cosine schedule and AdamW parameter groups."""

from __future__ import annotations

import pytest

from workbench.models import create_model
from workbench.training.schedule import lr_at, param_groups


def test_warmup_then_cosine():
    lrs = [lr_at(s, 1e-3, 10, 110, 1e-5) for s in range(120)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert lrs[10] == pytest.approx(1e-3)
    assert lrs[60] == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5))  # half way down the cosine
    assert lrs[110] == pytest.approx(1e-5) and lrs[119] == pytest.approx(1e-5)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))


def test_no_decay_on_norms_biases_and_position_tables():
    model = create_model("test-tiny", 2)
    decay, no_decay = param_groups(model, 0.05)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decay["params"])
    assert any("relative_position_bias_table" in names[id(p)] for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
