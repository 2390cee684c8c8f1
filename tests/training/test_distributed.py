"""torchrun with 2 CPU processes (gloo): DDP replicas end with identical weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from workbench.models.checkpoint import load_tensors

WORKER = Path(__file__).with_name("ddp_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def test_two_gloo_processes_hold_identical_weights(tmp_path):
    env = {**os.environ, "WORKBENCH_PROGRESS": "0", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(WORKER), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = load_tensors(tmp_path / "rank0.safetensors"), load_tensors(tmp_path / "rank1.safetensors")
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k  # started from different weights (seeds 100, 101)
    saved = load_tensors(tmp_path / "run" / "last.safetensors")
    assert all(torch.equal(saved[k], r0[k]) for k in r0)
    h0, h1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert h0["world"] == 2 and h0["steps"] == h1["steps"] == 6  # 2 epochs x floor(2 x 13 positives / 2 ranks / 4)
    # validation is sharded then gathered: both ranks see the same loss and AUC
    assert [r["val_loss"] for r in h0["history"]] == [r["val_loss"] for r in h1["history"]]
    assert [r["val_auc"] for r in h0["history"]] == [r["val_auc"] for r in h1["history"]]
