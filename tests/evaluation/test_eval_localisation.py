"""Pointing game, energy pointing game, relevance rank accuracy and map ROC-AUC on hand-built maps."""

import pytest
import torch
from sklearn.metrics import roc_auc_score

from workbench.evaluation import energy_pointing_game, map_auc, pointing_game, relevance_rank_accuracy

NAN = float("nan")


def f(rows):
    return torch.tensor(rows, dtype=torch.float64)[None]  # (1, H, W)


def m(rows):
    return torch.tensor(rows, dtype=torch.bool)[None]


def test_pointing_game_hit_miss_empty():
    maps = torch.cat([f([[9, 1], [2, 3]])] * 3)
    masks = torch.cat([m([[1, 0], [0, 0]]), m([[0, 1], [1, 1]]), m([[0, 0], [0, 0]])])
    torch.testing.assert_close(pointing_game(maps, masks), torch.tensor([1.0, 0.0, NAN], dtype=torch.float64), equal_nan=True)


def test_pointing_game_empty_mask_is_never_a_hit():
    """Regression: a peer cast the NaN of an empty mask to bool and counted it as a hit."""
    maps = torch.cat([f([[9, 1], [2, 3]]), f([[9, 1], [2, 3]])])
    masks = torch.cat([m([[0, 1], [0, 0]]), m([[0, 0], [0, 0]])])  # a miss, then an empty mask
    score = pointing_game(maps, masks)
    assert score[0] == 0 and torch.isnan(score[1])
    assert torch.nanmean(score).item() == 0.0  # the bug gives 0.5
    for rule in ("any", "all"):
        assert torch.isnan(pointing_game(maps, masks, ties=rule)[1])


def test_pointing_game_ties_are_explicit():
    maps = f([[5, 5], [0, 5]])  # three maxima, one inside the mask
    mask = m([[1, 0], [0, 0]])
    assert pointing_game(maps, mask, ties="fraction").item() == pytest.approx(1 / 3)
    assert pointing_game(maps, mask, ties="any").item() == 1.0
    assert pointing_game(maps, mask, ties="all").item() == 0.0
    assert pointing_game(torch.zeros(1, 2, 2), m([[1, 0], [0, 0]])).item() == 0.25  # constant map: area share
    with pytest.raises(ValueError, match="valid choices: fraction, any, all"):
        pointing_game(maps, mask, ties="first")


def test_energy_pointing_game():
    maps = torch.cat([f([[1, 2], [3, 4]]), f([[1, 2], [3, 4]]), f([[0, 0], [0, 0]])])
    masks = torch.cat([m([[0, 1], [0, 1]]), m([[0, 0], [0, 0]]), m([[1, 0], [0, 0]])])
    torch.testing.assert_close(energy_pointing_game(maps, masks), torch.tensor([0.6, NAN, NAN], dtype=torch.float64),
                               equal_nan=True)
    with pytest.raises(ValueError, match="non-negative"):
        energy_pointing_game(f([[-1, 2], [3, 4]]), m([[0, 1], [0, 1]]))


def test_relevance_rank_accuracy_hand_cases():
    # K = 2; top-2 pixels are 4 (inside) and 3 (outside) -> 1/2
    assert relevance_rank_accuracy(f([[4, 3], [2, 1]]), m([[1, 0], [1, 0]])).item() == 0.5
    # K = 1; three pixels tie at the top, one of them inside -> expected 1/3 under a random tie-break
    assert relevance_rank_accuracy(f([[1, 1], [1, 0]]), m([[1, 0], [0, 0]])).item() == pytest.approx(1 / 3)
    # K = 2; 7 above, then 5 and 5 tie for the last place, one inside: (1 + 1 * 1/2) / 2
    assert relevance_rank_accuracy(f([[7, 5], [5, 0]]), m([[1, 1], [0, 0]])).item() == pytest.approx(0.75)
    assert torch.isnan(relevance_rank_accuracy(f([[7, 5], [5, 0]]), m([[0, 0], [0, 0]]))).all()


def test_relevance_rank_accuracy_matches_brute_force_without_ties():
    g = torch.Generator().manual_seed(3)
    maps = torch.rand(6, 8, 8, generator=g, dtype=torch.float64)
    masks = torch.rand(6, 8, 8, generator=g) > 0.6
    got = relevance_rank_accuracy(maps, masks)
    for i in range(6):
        k = int(masks[i].sum())
        top = torch.argsort(maps[i].flatten(), descending=True)[:k]
        assert got[i].item() == pytest.approx(masks[i].flatten()[top].double().mean().item())


def test_map_auc_matches_sklearn_per_slice():
    g = torch.Generator().manual_seed(4)
    maps = torch.randint(0, 5, (5, 6, 6), generator=g).float()  # many ties
    masks = torch.rand(5, 6, 6, generator=g) > 0.5
    masks[3] = False
    masks[4] = True
    got = map_auc(maps, masks)
    for i in range(3):
        assert got[i].item() == pytest.approx(roc_auc_score(masks[i].flatten().numpy(), maps[i].flatten().numpy()))
    assert torch.isnan(got[3]) and torch.isnan(got[4])  # empty and full masks
    assert map_auc(f([[2, 1], [1, 0]]), m([[1, 1], [0, 0]])).item() == pytest.approx(0.875)  # 3.5 of 4 pairs


@pytest.mark.parametrize("metric", [pointing_game, energy_pointing_game, relevance_rank_accuracy, map_auc])
def test_batch_size_independence(metric):
    g = torch.Generator().manual_seed(5)
    maps = torch.rand(5, 7, 7, generator=g) * torch.tensor([1.0, 100.0, 0.01, 3.0, 1.0])[:, None, None]
    masks = torch.rand(5, 7, 7, generator=g) > 0.7
    masks[2] = False
    batched = metric(maps, masks)
    alone = torch.cat([metric(maps[i:i + 1], masks[i:i + 1]) for i in range(5)])
    torch.testing.assert_close(batched, alone, equal_nan=True)
    torch.testing.assert_close(metric(maps[[1, 3]], masks[[1, 3]]), batched[[1, 3]], equal_nan=True)
