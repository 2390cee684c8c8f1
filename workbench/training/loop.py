"""One optimizer step and one validation pass: the pieces the trainer repeats.

Shapes: images (B, C, S, S) in [0, 1]; labels (B, 6) in ``LABEL_COLUMNS`` order.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from workbench.models.losses import task_loss, task_probabilities
from workbench.training.augment import augment_batch
from workbench.training.config import TrainConfig
from workbench.training.distributed import dist_info, gather_rows
from workbench.training.precision import precision_forward
from workbench.training.schedule import param_groups, set_lr
from workbench.utils.progress import progress

__all__ = ["collate", "make_optimizer", "train_step", "evaluate"]


def collate(items: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack dataset items into ``(images (B, C, S, S), labels (B, 6))``; other keys are dropped."""
    images = torch.stack([torch.as_tensor(it["image"], dtype=torch.float32) for it in items])
    labels = torch.stack([torch.as_tensor(it["labels"], dtype=torch.float32) for it in items])
    return images, labels


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW over decayed / undecayed groups (see :func:`param_groups`), split into head and backbone
    when the config fine-tunes in two stages (``freeze_backbone_epochs`` or ``backbone_lr``)."""
    two_stage = cfg.freeze_backbone_epochs > 0 or cfg.backbone_lr > 0
    return torch.optim.AdamW(param_groups(model, cfg.weight_decay, "head." if two_stage else None), lr=cfg.lr)


def backbone_scale(cfg: TrainConfig, epoch: int) -> float:
    """Backbone learning rate / ``lr`` in 0-based ``epoch``: 0 while the backbone is frozen, then
    ``backbone_lr / lr`` (1 when ``backbone_lr`` is 0)."""
    if epoch < cfg.freeze_backbone_epochs:
        return 0.0
    return cfg.backbone_lr / cfg.lr if cfg.backbone_lr > 0 else 1.0


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor, labels: torch.Tensor,
               cfg: TrainConfig, generator: torch.Generator, lr: float) -> torch.Tensor:
    """Augment, forward, loss, backward, clip, step. Returns the detached loss (a 0-dim tensor).

    The forward pass runs under ``cfg.precision`` (bf16 autocast or fp32); the loss is fp32.
    """
    images = augment_batch(images, cfg.augment, generator)
    set_lr(optimizer, lr)
    loss = task_loss(cfg.task, precision_forward(model, images, cfg.precision), labels, gamma=cfg.focal_gamma)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    optimizer.step()
    return loss.detach()


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Dataset, cfg: TrainConfig, device: torch.device,
             desc: str = "val") -> tuple[float, np.ndarray, np.ndarray]:
    """Loss and probabilities on every item of ``dataset`` (sharded across DDP ranks, gathered).

    Returns ``(mean loss, probs, labels)``: probs (N,) P(ICH) for binary or (N, 6) sigmoids;
    labels (N, 6). Runs ``model`` in eval mode (under ``cfg.precision``) and restores its previous mode.
    """
    info = dist_info()
    n = len(dataset)
    index = torch.arange(n)[info.rank :: info.world_size]
    loader = DataLoader(dataset, batch_size=cfg.eval_batch_size, sampler=index.tolist(),
                        num_workers=cfg.num_workers, collate_fn=collate)
    was_training = model.training
    model.eval()
    losses, probs, labels = [], [], []
    for images, lab in progress(loader, desc=desc, leave=False):
        images, lab = images.to(device, non_blocking=True), lab.to(device, non_blocking=True)
        logits = precision_forward(model, images, cfg.precision)
        losses.append(task_loss(cfg.task, logits, lab, reduction="sample", gamma=cfg.focal_gamma))
        probs.append(task_probabilities(cfg.task, logits))
        labels.append(lab)
    model.train(was_training)
    if not losses:  # more ranks than items: this rank computed nothing
        width = () if cfg.task == "binary" else (6,)
        losses, probs, labels = [torch.zeros(0, device=device)], [torch.zeros((0, *width), device=device)], \
            [torch.zeros((0, 6), device=device)]
    index = index.to(device)
    loss = gather_rows(n, index, torch.cat(losses).double())
    prob = gather_rows(n, index, torch.cat(probs).double())
    lab = gather_rows(n, index, torch.cat(labels))
    return float(loss.mean()), prob.cpu().numpy(), lab.cpu().numpy()
