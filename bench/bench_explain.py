"""Explanation speed and memory: one pass for all methods, per-slice speed vs the paper code's
approach, rollout scaling with token count, capture memory on the paper's Swin-B.

Writes ``bench/results/explain.md``. Usage: ``python bench/bench_explain.py [--quick]``.
Peak memory: each measurement runs in a fresh subprocess; a thread samples the process RSS every
millisecond during the measured call; reported = peak sampled RSS minus RSS just before the call.
It counts everything torch allocates on the CPU (graph, captured tensors, allocator slack).
"""

from __future__ import annotations

import json
import threading
import statistics
import subprocess
import sys
import time

import psutil
import torch
from common import table, write_result
from timm.models.swin_transformer import SwinTransformer

from workbench.api import DEFAULT_METHODS, explain
from workbench.capture import capture
from workbench.operators import run_operator

SMALL = dict(patch_size=4, window_size=8, embed_dim=48, depths=(2, 2, 2, 2), num_heads=(3, 6, 12, 24), num_classes=2)
SWIN_B = dict(img_size=384, patch_size=4, window_size=12, embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), num_classes=2)
ATTENTION_METHODS = [m for m in DEFAULT_METHODS if m not in ("hirescam", "layercam")]  # + gradcam


def build(img_size: int, **cfg) -> SwinTransformer:
    torch.manual_seed(0)
    return SwinTransformer(img_size=img_size, drop_path_rate=0.0, **{**SMALL, **cfg}).eval()


def timed(fn, repeats: int) -> float:
    """Median wall seconds of ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def plain_step(model, x):
    logits = model(x)
    logits[:, 1].sum().backward()
    model.zero_grad(set_to_none=True)


def paired(fn_a, fn_b, repeats: int) -> tuple[float, float, float]:
    """Median seconds of a and b, and the median of per-pair ratios b / a, run alternately so that
    both see the same machine load (the machine is shared)."""
    fn_a(), fn_b()
    ta, tb = [], []
    for _ in range(repeats):
        for fn, acc in ((fn_a, ta), (fn_b, tb)):
            t = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t)
    return statistics.median(ta), statistics.median(tb), statistics.median(b / a for a, b in zip(ta, tb))


def one_pass(model, x, batch: int, repeats: int) -> list[list]:
    """(a) all attention methods + Grad-CAM from one pass vs one plain forward + backward."""
    plain, ours, ratio = paired(lambda: plain_step(model, x), lambda: explain(model, x, methods=ATTENTION_METHODS), repeats)
    plain2, every, ratio_all = paired(lambda: plain_step(model, x), lambda: explain(model, x, methods=DEFAULT_METHODS), repeats)
    return [
        [f"plain forward + backward (batch {batch})", f"{plain:.3f} / {plain2:.3f}", "1.00"],
        [f"explain: {', '.join(ATTENTION_METHODS)} (one pass)", f"{ours:.3f}", f"{ratio:.2f}"],
        ["explain: all 7 methods (one pass)", f"{every:.3f}", f"{ratio_all:.2f}"],
    ]


def per_slice(model, x, batch: int, repeats: int) -> tuple[list[list], float]:
    """(b) paper code's approach: batch 1, a pytorch-grad-cam pass then a separate HGI-SAM pass."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cam = GradCAM(model=model, target_layers=[model.layers[-1].blocks[-1].norm1], reshape_transform=lambda t: t.permute(0, 3, 1, 2))
    n = min(batch, 8)

    def paper():
        for i in range(n):
            xi = x[i : i + 1]
            cam(input_tensor=xi, targets=[ClassifierOutputTarget(1)])
            run_operator("hgi_sam", capture(model, xi, 1, gradients=("logits",)))
        model.zero_grad(set_to_none=True)

    paper_s, ours_b, ratio = paired(paper, lambda: explain(model, x, methods=["hgi_sam", "gradcam"]), max(1, repeats - 1))
    paper_s, ours_s = paper_s / n, ours_b / batch
    speed = ratio * n / batch  # (ours per slice) / (paper per slice), per pair
    all_s = timed(lambda: explain(model, x, methods=DEFAULT_METHODS), 1) / batch
    cam.activations_and_grads.release()
    rows = [
        ["paper approach: batch 1, pytorch-grad-cam pass + separate HGI-SAM pass", f"{paper_s * 1e3:.1f}", "1.0"],
        [f"workbench: HGI-SAM + Grad-CAM, one pass, batch {batch}", f"{ours_s * 1e3:.1f}", f"{1 / speed:.1f}"],
        [f"workbench: all 7 methods, one pass, batch {batch}", f"{all_s * 1e3:.1f}", f"{paper_s / all_s:.1f}"],
    ]
    return rows, 1 / speed


# -- memory in fresh subprocesses ----------------------------------------------------------------
class PeakRSS:
    """Context manager sampling this process's RSS every ``period`` s; ``.extra_mb`` = peak - start."""

    def __init__(self, period: float = 0.001):
        self.period, self.proc = period, psutil.Process()

    def __enter__(self):
        self.start = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.period)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)
        self.extra_mb = (self.peak - self.start) / 2**20
        return False


def _child(kind: str, img: int, batch: int) -> dict:
    model = SwinTransformer(drop_path_rate=0.0, **SWIN_B).eval() if kind.startswith("swinb") else build(img)
    x = torch.randn(batch, 3, img, img)
    if kind.endswith("rollout"):
        result = capture(model, x, gradients=())
        del model
    before = psutil.Process().memory_info().rss
    if kind.endswith("rollout"):
        seconds = timed(lambda: run_operator("rollout", result), 5)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
            run_operator("rollout", result)
        allocated = sum(max(e.self_cpu_memory_usage, 0) for e in prof.key_averages())
        return {"seconds": seconds, "allocated_mb": allocated / 2**20, "tokens": result.blocks[0].geometry.grid[0] * result.blocks[0].geometry.grid[1],
                "attn_mb": sum(b.attn.numel() * b.attn.element_size() for b in result.blocks) / 2**20}
    with PeakRSS() as mem:
        t = time.perf_counter()
        if kind.endswith("plain"):
            plain_step(model, x)
        else:
            capture(model, x, 1, layers=("layers.3.blocks.1.norm1",))
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "peak_extra_mb": mem.extra_mb, "base_mb": before / 2**20}


def measure(kind: str, img: int, batch: int) -> dict:
    """One measurement in a fresh interpreter (peak memory of its own), running this file as ``--child``."""
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(img), str(batch)], capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rollout_scaling(sizes) -> list[list]:
    """(c) rollout operator time and memory vs token count (batch 1, stored capture)."""
    rows = []
    for s in sizes:
        m = measure("small_rollout", s, 1)
        dense_gb = (m["tokens"] ** 2) * 4 / 2**30
        rows.append([f"{s}x{s}", m["tokens"], f"{m['seconds'] * 1e3:.1f}", f"{m['allocated_mb']:.1f}", f"{m['attn_mb']:.0f}", f"{dense_gb:.2f}"])
    return rows


def swin_b_memory(batch: int) -> list[list]:
    """(d) peak memory of capture on the paper's Swin-B, 384 px."""
    rows = []
    for kind, label in [("swinb_plain", "plain forward + backward (parameter grads)"),
                        ("swinb_capture", "capture: A, dS, dA for 24 blocks + CAM layer")]:
        m = measure(kind, 384, batch)
        rows.append([label, f"{m['seconds']:.1f}", f"{m['peak_extra_mb']:.0f}", f"{m['base_mb']:.0f}"])
    return rows


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    batch, img, repeats = 16, 128, (1 if quick else 3)
    start = time.perf_counter()
    load = psutil.getloadavg()[0]
    model = build(img)
    x = torch.randn(batch, 3, img, img, generator=torch.Generator().manual_seed(0))
    a = one_pass(model, x, batch, repeats)
    b, speedup = per_slice(model, x, batch, repeats)
    c = rollout_scaling([128, 256] if quick else [128, 256, 384, 512])
    d = swin_b_memory(1 if quick else 4)
    body = f"""
Small Swin: embed 48, depths 2-2-2-2, heads 3-6-12-24, window 8, {img} px, 2 logits, random init.
Torch threads {torch.get_num_threads()}; 1-min load average {load:.2f} at start, {psutil.getloadavg()[0]:.2f} at end
(the machine is shared: absolute times move with load, ratios are measured within this run).

### (a) All attention methods + Grad-CAM from one forward + one backward (batch {batch})
Ratio = median over {repeats} alternating (plain, explain) pairs of explain / plain.

{table(["what", "seconds (median)", "x plain"], a)}

Target <= 1.3x. The capture's backward uses `torch.autograd.grad` w.r.t. the attention tensors and
layer outputs only, so no weight gradients are computed.

### (b) Per-slice time vs the paper code's approach
{table(["approach", "ms per slice", "speed-up"], b)}

Target >= 3x (measured {speedup:.1f}x for the same two maps). The paper-approach HGI-SAM pass uses this
workbench's capture at batch 1 (the released code also hooks the softmax and backpropagates one slice).

### (c) Rollout (operator alone) vs token count, batch 1
{table(["input", "stage-1 tokens", "ms (median of 5)", "MB allocated by the operator", "captured A MB", "one dense T^2 matrix would be GB"], c)}

Row-vector propagation through per-window (N x N) matrices: time and memory grow linearly with the
token count (the captured attention itself is linear too); a dense stage-1 matrix is quadratic.
"MB allocated" = sum of all allocations made by the operator's ops (torch profiler,
`profile_memory=True`), an upper bound of its extra peak; RSS sampling cannot see these (the
allocator reuses freed pages).

### (d) Peak memory on the paper's Swin-B (embed 128, depths 2-2-18-2, window 12, 384 px), batch {1 if quick else 4}
{table(["what", "seconds", "peak extra RSS MB", "RSS before (model + input) MB"], d)}

Method: each row runs in a fresh process; a thread samples RSS every 1 ms during the call; peak extra =
peak sampled RSS minus RSS just before the call (autograd graph, captured tensors, allocator slack;
a spike shorter than the sampling period can be missed). The capture keeps A, dS/dS-logits and dA of
every block (3 x the attention tensors) until the operators have run.

Total benchmark time: {time.perf_counter() - start:.0f} s.
"""
    print(write_result("explain", "Explanations: one pass, per-slice speed, rollout scaling, Swin-B memory", body))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:  # one measurement of measure(), in its own process
        kind, img, batch = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(_child(kind, img, batch)))
        raise SystemExit(0)
    raise SystemExit(main(sys.argv[1:]))
