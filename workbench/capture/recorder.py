"""Scoped capture of window attention, its gradients and layer features on a timm SwinTransformer.

The only module in the workbench that touches modules, hooks and autograd. Usage::

    with AttentionCapture(model, layers=("layers.3",)) as cap:
        logits = model(images)                      # images: (B, C, H, W)
        result = cap.result(logits, target=1)       # one backward, via torch.autograd.grad

or ``capture(model, images, target=1)``. Capture point: each ``WindowAttention.softmax`` module
(the hook of the released HGI-SAM code); its input is S, the pre-softmax logits (with relative-position bias and the
shifted-window mask), its output is A. Both gradients d(score)/dS ("logits", the released HGI-SAM
code) and d(score)/dA ("probs", the paper figure) come from one ``torch.autograd.grad`` call, so
parameter ``.grad`` is never touched. Hooks are removed and module train/eval modes restored in
``finally``; the model runs in eval mode inside the scope.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import torch
from timm.models.swin_transformer import SwinTransformerBlock, SwinTransformerStage, WindowAttention
from torch import nn

from workbench.capture.geometry import BlockGeometry, block_geometry, merged_grid
from workbench.capture.layout import to_channels_last
from workbench.capture.result import BlockRecord, CaptureResult, FeatureRecord
from workbench.capture.targets import Target, target_scores
from workbench.data.windowing import resolve_window
from workbench.utils.errors import check_choice

__all__ = ["GRADIENTS", "AttentionCapture", "capture", "swin_blocks", "default_cam_layer", "check_unfused"]

GRADIENTS = ("logits", "probs")


def swin_blocks(model: nn.Module) -> tuple[list[tuple[str, int, int, SwinTransformerBlock]], tuple[bool, ...]]:
    """[(name, stage, index, block)] in forward order, and per stage whether it starts with PatchMerging."""
    stages = [(n, m) for n, m in model.named_modules() if isinstance(m, SwinTransformerStage)]
    if not stages:
        raise TypeError(f"{type(model).__name__} is not a timm SwinTransformer: it has no SwinTransformerStage")
    blocks, downsample = [], []
    for s, (stage_name, stage) in enumerate(stages):
        downsample.append(not isinstance(stage.downsample, nn.Identity))
        for i, block in enumerate(stage.blocks):
            blocks.append((f"{stage_name}.blocks.{i}", s, i, block))
    return blocks, tuple(downsample)


def input_windows(model: nn.Module) -> tuple[tuple[float, float], ...] | None:
    """(center, width) in HU of each of the slice's own input channels, from the model's config (a
    workbench model, or a timm Swin whose config is inferred); None when the model says nothing about its input."""
    from workbench.models.factory import model_config  # models import data, never capture

    try:
        windows = model_config(model).windows
    except (TypeError, ValueError):
        return None
    return tuple(resolve_window(w) for w in windows)


def own_channels(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The slice's own channels of a model input x (B, C, H, W): all of them, or the middle slice's
    (B, C / (2a+1), H, W) for a 2.5D model of ``adjacent_slices = a`` (slice-major stack)."""
    from workbench.models.factory import model_config

    try:
        cfg = model_config(model)
    except (TypeError, ValueError):
        return x
    n = len(cfg.windows)
    return x[:, cfg.adjacent_slices * n:(cfg.adjacent_slices + 1) * n] if cfg.adjacent_slices else x


def default_cam_layer(model: nn.Module) -> str:
    """The Swin-GradCAM layer of the HGI-SAM paper (MELBA 2023, section 3): the last block's first LayerNorm."""
    name = swin_blocks(model)[0][-1][0]
    return f"{name}.norm1"


def check_unfused(model: nn.Module) -> None:
    """Raise if any WindowAttention uses fused attention: its softmax module would never run."""
    fused = [n for n, m in model.named_modules() if isinstance(m, WindowAttention) and getattr(m, "fused_attn", False)]
    if fused:
        raise RuntimeError(
            f"fused attention is on in {len(fused)} WindowAttention module(s) (first: {fused[0]}); the attention "
            "softmax never runs and cannot be captured. Turn it off: timm.layers.set_fused_attn(False) before "
            "building the model, unset TIMM_FUSED_ATTN, or set `module.fused_attn = False` on each WindowAttention"
        )


class AttentionCapture:
    """Context manager recording every block's A, S and grid, plus the outputs of ``layers``.

    gradients: any of "logits" (d score / dS) and "probs" (d score / dA); layers: module names
    (e.g. "layers.2", "layers.3.blocks.1.norm1") whose outputs and gradients are kept channels-last.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Iterable[str] = (),
        gradients: Sequence[str] = GRADIENTS,
        layout: str = "auto",
    ) -> None:
        for g in gradients:
            check_choice("gradient", g, GRADIENTS)
        self.model = model
        self.gradients = tuple(gradients)
        self.layout = layout
        self.blocks, self.stage_downsample = swin_blocks(model)
        modules = dict(model.named_modules())
        self.layers = tuple(dict.fromkeys(layers))
        missing = [n for n in self.layers if n not in modules]
        if missing:
            stages = [n for n in modules if n.startswith("layers.") and n.count(".") <= 3]
            raise ValueError(f"unknown layer {missing[0]!r}; valid choices include: {', '.join(stages[:12])} ...")
        self._layer_modules = [modules[n] for n in self.layers]
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._modes: dict[nn.Module, bool] = {}
        self._reset()

    def _reset(self) -> None:
        self._grids: dict[str, list[tuple[int, int]]] = {name: [] for name, *_ in self.blocks}
        self._attn: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {name: [] for name, *_ in self.blocks}
        self._feats: dict[str, list[torch.Tensor]] = {n: [] for n in self.layers}
        self._image_size: list[tuple[int, int]] = []
        self._inputs: list[torch.Tensor] = []

    # -- scope -------------------------------------------------------------------------------
    def __enter__(self) -> "AttentionCapture":
        check_unfused(self.model)
        if any(getattr(m, "grad_checkpointing", False) for m in self.model.modules()):
            raise RuntimeError("gradient checkpointing is on; turn it off (model.set_grad_checkpointing(False)) to capture")
        self._modes = {m: m.training for m in self.model.modules()}
        try:
            self.model.eval()
            self._register()
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc) -> bool:
        self._release()
        return False

    def _register(self) -> None:
        add = self._handles.append
        add(self.model.register_forward_pre_hook(self._input_hook))
        for name, _, _, block in self.blocks:
            add(block.register_forward_pre_hook(self._grid_hook(name)))
            add(block.attn.softmax.register_forward_hook(self._softmax_hook(name)))
        for name, module in zip(self.layers, self._layer_modules):
            add(module.register_forward_hook(self._feature_hook(name)))

    def _input_hook(self, module, args) -> None:
        self._image_size.append(tuple(args[0].shape[-2:]))
        self._inputs.append(args[0].detach())

    def _grid_hook(self, name: str):
        def hook(module, args):
            self._grids[name].append((int(args[0].shape[1]), int(args[0].shape[2])))  # x: (B, H, W, C)
        return hook

    def _softmax_hook(self, name: str):
        def hook(module, args, output):
            self._attn[name].append((args[0], output))  # S, A: (B*nW, h, N, N)
        return hook

    def _feature_hook(self, name: str):
        def hook(module, args, output):
            self._feats[name].append(output[0] if isinstance(output, (tuple, list)) else output)
        return hook

    def _release(self) -> None:
        try:
            for handle in self._handles:
                handle.remove()
        finally:
            self._handles.clear()
            for module, mode in self._modes.items():
                module.train(mode)
            self._modes = {}

    # -- result ------------------------------------------------------------------------------
    def _check_fired(self) -> None:
        counts = {**{n: len(v) for n, v in self._attn.items()}, **{n: len(v) for n, v in self._feats.items()}}
        wrong = {n: c for n, c in counts.items() if c != 1}
        if wrong:
            name, count = next(iter(wrong.items()))
            raise RuntimeError(
                f"hook on {name} fired {count} times (expected once per capture; {len(wrong)} module(s) wrong). "
                "Run exactly one model forward inside the capture scope, with fused attention off."
            )

    def result(self, logits: torch.Tensor, target: Target = 1) -> CaptureResult:
        """One backward of the summed per-sample target scores. logits: (B, K) from the forward."""
        try:
            self._check_fired()
            if not logits.requires_grad:
                raise RuntimeError("the forward built no autograd graph (torch.no_grad / inference_mode?)")
            scores, idx = target_scores(logits, target)
            inputs: list[torch.Tensor] = []
            for name, *_ in self.blocks:
                S, A = self._attn[name][0]
                inputs += [S] if "logits" in self.gradients else []
                inputs += [A] if "probs" in self.gradients else []
            inputs += [self._feats[n][0] for n in self.layers]
            grads = list(torch.autograd.grad(scores.sum(), inputs, allow_unused=True)) if inputs else []
            return self._build(logits, idx, grads)
        finally:
            self._reset()  # drop graph references

    def _build(self, logits: torch.Tensor, idx: torch.Tensor | None, grads: list) -> CaptureResult:
        grads.reverse()  # consumed in the order pushed, with pop()
        records, grids = [], set()
        for name, stage, index, block in self.blocks:
            S, A = self._attn[name][0]
            geom: BlockGeometry = block_geometry(block, self._grids[name][0])
            grids |= {geom.grid, merged_grid(geom.grid)}
            g_logits = self._pop(grads, name) if "logits" in self.gradients else None
            g_attn = self._pop(grads, name) if "probs" in self.gradients else None
            records.append(BlockRecord(name, stage, index, geom, A.detach(), g_logits, g_attn))
        features = {}
        for n in self.layers:
            value, grad = self._feats[n][0], self._pop(grads, n)
            features[n] = FeatureRecord(
                n, to_channels_last(value.detach(), grids, self.layout), to_channels_last(grad, grids, self.layout)
            )
        return CaptureResult(
            blocks=tuple(records),
            features=features,
            logits=logits.detach(),
            targets=idx,
            image_size=self._image_size[0],
            stage_downsample=self.stage_downsample,
            cam_layer=default_cam_layer(self.model),
            inputs=own_channels(self.model, self._inputs[0]),
            windows=input_windows(self.model),
        )

    @staticmethod
    def _pop(grads: list, name: str) -> torch.Tensor:
        g = grads.pop()
        if g is None:
            raise RuntimeError(f"the target score does not depend on {name}; no gradient reaches it")
        return g.detach()


def capture(
    model: nn.Module,
    images: torch.Tensor,
    target: Target = 1,
    *,
    layers: Iterable[str] = (),
    gradients: Sequence[str] = GRADIENTS,
    layout: str = "auto",
) -> CaptureResult:
    """One forward and one backward of ``images`` (B, C, H, W); see :class:`AttentionCapture`."""
    with AttentionCapture(model, layers=layers, gradients=gradients, layout=layout) as cap:
        x = images if images.requires_grad else images.detach().requires_grad_(True)  # graph even if frozen
        with torch.enable_grad():
            logits = model(x)
        return cap.result(logits, target)
