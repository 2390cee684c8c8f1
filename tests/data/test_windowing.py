import pytest
import torch

from workbench.data.windowing import WINDOW_PRESETS, apply_window, resolve_window, stack_windows


def test_brain_window_hand_values():
    # brain 40/80 -> [0, 80] HU maps linearly to [0, 1]
    hu = torch.tensor([-1000.0, 0.0, 20.0, 40.0, 60.0, 80.0, 1000.0])
    expected = torch.tensor([0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0])
    assert torch.allclose(apply_window(hu, "brain"), expected)


def test_subdural_and_bone_and_physionet_presets():
    # subdural 80/200: low = -20 -> 30 HU = 50/200 = 0.25
    assert apply_window(torch.tensor([30.0]), "subdural").item() == pytest.approx(0.25)
    # bone 600/2800: low = -800 -> 600 HU = 0.5
    assert apply_window(torch.tensor([600.0]), "bone").item() == pytest.approx(0.5)
    assert WINDOW_PRESETS["physionet_brain"] == (40.0, 120.0)
    assert WINDOW_PRESETS["physionet_subdural"] == (80.0, 340.0)
    assert WINDOW_PRESETS["physionet_bone"] == (700.0, 3200.0)
    # physionet brain 40/120: low = -20 -> 10 HU = 0.25
    assert apply_window(torch.tensor([10.0]), "physionet_brain").item() == pytest.approx(0.25)


def test_custom_pair_and_errors():
    assert resolve_window((50, 100)) == (50.0, 100.0)
    with pytest.raises(ValueError, match="brain"):
        resolve_window("brian")
    with pytest.raises(ValueError, match="width must be > 0"):
        resolve_window((40, 0))


def test_stack_windows_shape_and_channel_order():
    hu = torch.full((2, 5, 7), 40.0)
    x = stack_windows(hu, ("brain", "subdural", "bone"))
    assert x.shape == (2, 3, 5, 7)
    assert torch.allclose(x[:, 0], torch.tensor(0.5))
    assert torch.allclose(x[:, 1], torch.tensor(60.0 / 200.0))
    assert torch.allclose(x[:, 2], torch.tensor(840.0 / 2800.0))
    with pytest.raises(ValueError):
        stack_windows(hu, ())
