"""Worker launched by test_distributed.py under torchrun: trains the tiny model with DDP (gloo)
and writes this rank's final weights to ``OUT/rank<r>.safetensors``.

Ranks start from *different* random weights: DistributedDataParallel must make them equal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from toydata import ToySlices  # noqa: E402

from workbench.models import create_model  # noqa: E402
from workbench.models.checkpoint import save_tensors  # noqa: E402
from workbench.training import TrainConfig, fit  # noqa: E402
from workbench.training.distributed import init_distributed, shutdown  # noqa: E402


def main(out: Path) -> None:
    info, device = init_distributed("cpu")
    torch.manual_seed(100 + info.rank)
    model = create_model("test-tiny", 2)
    cfg = TrainConfig(epochs=2, batch_size=4, warmup_steps=2, lr=1e-3, eval_batch_size=16, patience=5)
    result = fit(model, ToySlices(64, seed=1), ToySlices(21, seed=2), cfg, out / "run", device=device)
    save_tensors(out / f"rank{info.rank}.safetensors", model.state_dict())
    (out / f"rank{info.rank}.json").write_text(json.dumps({"world": info.world_size, "steps": result.steps,
                                                           "history": list(result.history)}))
    shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
