"""bf16 autocast in training: what runs in bfloat16, what stays fp32, and the choice rules."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from toydata import ToySlices

from workbench.models import create_model
from workbench.training import TrainConfig, fit
from workbench.training.loop import evaluate, make_optimizer, train_step
from workbench.training.precision import cpu_has_fast_bf16, resolve_precision

CPU = torch.device("cpu")
CFG = TrainConfig(batch_size=8, warmup_steps=0, lr=1e-3, eval_batch_size=16)


def _model(seed: int = 0):
    torch.manual_seed(seed)
    return create_model("test-tiny", task="binary")


def _linear_output_dtypes(model) -> tuple[list, list]:
    seen = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
             for m in model.modules() if isinstance(m, torch.nn.Linear)]
    return seen, hooks


def test_resolve_precision_rules():
    assert resolve_precision("fp32", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16"
    assert resolve_precision("auto", CPU) == ("bf16" if cpu_has_fast_bf16() else "fp32")
    with pytest.raises(ValueError, match="fp16.*fp32, bf16, auto"):
        resolve_precision("fp16", CPU)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="half")
    assert TrainConfig.from_dict(TrainConfig(precision="bf16").to_dict()).precision == "bf16"


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_train_step_runs_the_forward_in_the_asked_precision_and_keeps_fp32_weights(precision, dtype):
    model, cfg = _model(), dataclasses.replace(CFG, precision=precision)
    opt, gen = make_optimizer(model, cfg), torch.Generator().manual_seed(0)
    seen, hooks = _linear_output_dtypes(model)
    images, labels = torch.rand(8, 3, 32, 32), torch.zeros(8, 6)
    labels[:4] = 1
    loss = train_step(model, opt, images, labels, cfg, gen, lr=1e-3)
    for h in hooks:
        h.remove()
    assert seen and set(seen) == {dtype}
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(s["exp_avg"].dtype == torch.float32 for s in opt.state.values())


def test_bf16_loss_and_validation_match_fp32_within_bfloat16_rounding():
    images, labels = torch.rand(8, 3, 32, 32), torch.zeros(8, 6)
    labels[::2] = 1
    losses = {}
    for precision in ("fp32", "bf16"):
        model, cfg = _model(), dataclasses.replace(CFG, precision=precision, augment=dataclasses.replace(
            CFG.augment, flip_p=0, rotation_deg=0, scale=0, translate=0, noise_std=0))
        model.eval()  # no drop-path: the two passes see the same network
        losses[precision] = float(train_step(model, make_optimizer(model, cfg), images, labels, cfg,
                                             torch.Generator().manual_seed(0), lr=0.0))
        val_loss, probs, _ = evaluate(_model(), ToySlices(16, seed=3), cfg, CPU)
        losses[precision + "_val"], losses[precision + "_p"] = val_loss, torch.as_tensor(probs)
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=2e-2)
    assert losses["bf16_val"] == pytest.approx(losses["fp32_val"], rel=2e-2)
    assert torch.allclose(losses["bf16_p"], losses["fp32_p"], atol=2e-2)
    assert not torch.equal(losses["bf16_p"], losses["fp32_p"])  # bf16 really ran


def test_bf16_run_learns(tmp_path):
    cfg = dataclasses.replace(CFG, epochs=6, batch_size=16, warmup_steps=4, precision="bf16", patience=10)
    fit(_model(), ToySlices(96, seed=1), ToySlices(48, seed=2), cfg, tmp_path / "run")
    import pandas as pd

    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert metrics["val_auc"].iloc[-1] > 0.8
