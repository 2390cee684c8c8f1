"""Loss, learning on a tiny batch, inference, detection rule and paired augmentation."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workbench.baselines import (BaselineTrainConfig, augment_pair, create_baseline, detect,
                                 make_loss, predict_baseline)
from workbench.evaluation import dice
from workbench.evaluation.detection import detection_score
from workbench.training.augment import AugmentConfig, augment_batch


def _discs(n: int = 2, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (n, 3, S, S): a grey head with a bright disc; masks (n, S, S): the disc."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    head = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (0.42 * size) ** 2).float()
    images, masks = [], []
    for _ in range(n):
        cy, cx = (0.3 + 0.4 * torch.rand(2, generator=g)) * size
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2 < (0.12 * size) ** 2).float()
        img = (0.35 * head + 0.3 * disc + 0.05 * torch.randn(size, size, generator=g)).clamp(0, 1)
        images.append(img.expand(3, size, size))
        masks.append(disc)
    return torch.stack(images), torch.stack(masks)


def test_ce_term_is_cross_entropy_of_raw_logits():
    """No softmax before CE: with the Dice weight 0 the loss is F.cross_entropy of the logits."""
    logits = torch.randn(2, 2, 8, 8)
    target = (torch.rand(2, 8, 8) > 0.7).long()
    loss = make_loss(BaselineTrainConfig(lambda_dice=0.0, lambda_ce=1.0))(logits, target[:, None].float())
    assert torch.allclose(loss, F.cross_entropy(logits, target), atol=1e-6)


def test_dice_term_scores_the_lesion_channel_over_the_batch():
    """Dice weight only: 1 - 2 sum(p1 t) / (sum p1 + sum t), p1 = softmax channel 1, pooled over the batch."""
    logits = torch.randn(2, 2, 8, 8)
    target = (torch.rand(2, 8, 8) > 0.7).float()
    loss = make_loss(BaselineTrainConfig(lambda_ce=0.0))(logits, target[:, None])
    p1 = torch.softmax(logits, 1)[:, 1]
    expected = 1 - (2 * (p1 * target).sum() + 1e-5) / (p1.sum() + target.sum() + 1e-5)
    assert torch.allclose(loss, expected, atol=1e-5)


def test_unet_overfits_two_images():
    """A few dozen steps on two slices: the loss falls and Dice at 0.5 rises from near 0 to > 0.8."""
    torch.manual_seed(0)
    images, masks = _discs()
    model = create_baseline("unet", channels=(8, 16, 32, 64))
    loss_fn = make_loss(BaselineTrainConfig())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    before = dice(predict_baseline(model, images) > 0.5, masks).mean()
    losses = []
    for _ in range(40):
        loss = loss_fn(model(images), masks[:, None])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    after = dice(predict_baseline(model, images) > 0.5, masks)
    assert losses[-1] < 0.5 * losses[0]
    assert float(before) < 0.5 and bool((after > 0.8).all()), (float(before), after)


def test_predict_is_batched_in_eval_mode_and_restores_the_mode():
    torch.manual_seed(0)
    model = create_baseline("unet").train()
    images = torch.rand(5, 3, 32, 32)
    probs = predict_baseline(model, images, batch_size=2)  # (B, 3, S, S) -> (B, S, S)
    assert probs.shape == (5, 32, 32) and probs.dtype == torch.float32
    assert float(probs.min()) >= 0 and float(probs.max()) <= 1
    assert torch.allclose(probs, predict_baseline(model, images, batch_size=5), atol=1e-6)
    assert model.training


def test_detection_needs_more_than_ten_pixels():
    probs = torch.zeros(2, 16, 16)
    probs[0].view(-1)[:10] = 0.9  # 10 pixels: not detected
    probs[1].view(-1)[:11] = 0.9  # 11 pixels: detected
    assert detect(probs).tolist() == [False, True]
    assert detection_score(probs).tolist() == [0.0, 0.8999999761581421]


def test_detection_score_thresholded_is_the_pixel_rule():
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(50, 16, 16, generator=g) ** 8  # few high pixels per map
    score = detection_score(probs, min_pixels=10)
    for t in (0.1, 0.3, 0.5, 0.7, 0.9):
        assert torch.equal(score > t, detect(probs, threshold=t, min_pixels=10))


def test_augment_pair_moves_image_and_mask_together():
    images, masks = _discs(4, size=32, seed=1)
    images[:, 0] = masks  # channel 0 is the mask itself
    cfg = AugmentConfig(flip_p=0.5, rotation_deg=45, scale=0.1, translate=0.1, noise_std=0.0, noise_p=0.0)
    out, out_masks = augment_pair(images, masks, cfg, torch.Generator().manual_seed(0))
    assert set(out_masks.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(out_masks, masks)  # it did move
    agree = ((out[:, 0] > 0.5) == (out_masks > 0.5)).float().mean()
    assert agree > 0.98  # bilinear vs nearest differ only on a few edge pixels
    flip = AugmentConfig(flip_p=1.0, rotation_deg=0, scale=0, translate=0, noise_std=0, noise_p=0)
    out, out_masks = augment_pair(images, masks, flip, torch.Generator().manual_seed(0))
    assert torch.equal(out_masks, masks.flip(-1)) and torch.allclose(out[:, 0], masks.flip(-1))


def test_augment_pair_images_equal_the_classifier_augmentation():
    images, masks = _discs(3, seed=2)
    cfg = AugmentConfig()
    a, _ = augment_pair(images, masks, cfg, torch.Generator().manual_seed(5))
    assert torch.equal(a, augment_batch(images, cfg, torch.Generator().manual_seed(5)))
