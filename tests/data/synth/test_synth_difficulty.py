"""The training curriculum's difficulty knob: realistic by default, larger / brighter lesions when asked."""

import numpy as np
import pytest

from workbench.data.synth import REALISTIC, Difficulty, generate_subject

# Subject 1 of seed 3 has lesions at size 64 (checked below, so a generator change shows up here).
SEED, INDEX, SIZE = 3, 1, 64


def _subject(**kw):
    return generate_subject(INDEX, SEED, size=SIZE, n_slices=12, p_ich=1.0, **kw)


def test_default_is_exactly_realistic():
    a, b = _subject(), _subject(difficulty=REALISTIC)
    assert a.lesions, "the fixture subject must have lesions"
    assert np.array_equal(a.hu, b.hu) and np.array_equal(a.labels, b.labels)
    assert "difficulty" not in a.params


def test_easy_lesions_are_larger_and_brighter_with_the_same_draws():
    real, easy = _subject(), _subject(difficulty=Difficulty(hu_boost=20.0, volume_scale=4.0))
    assert [l.subtype for l in easy.lesions] == [l.subtype for l in real.lesions]  # same random stream
    for r, e in zip(real.lesions, easy.lesions):
        assert e.target_volume_ml == pytest.approx(4.0 * r.target_volume_ml, rel=1e-3)
    assert (easy.labels > 0).sum() > 2 * (real.labels > 0).sum()
    mean_hu = lambda s: np.mean([l.mean_hu for l in s.lesions])
    assert mean_hu(easy) > mean_hu(real) + 10.0
    assert easy.params["difficulty"] == {"hu_boost": 20.0, "volume_scale": 4.0}
    # the same head (drawn before the lesions): away from them only the later noise draws differ
    away = (easy.labels == 0) & (real.labels == 0) & easy.brain
    assert abs(np.median(easy.hu[away]) - np.median(real.hu[away])) <= 1.0
    assert np.array_equal(easy.brain, real.brain)


@pytest.mark.parametrize("kw", [{"hu_boost": -1.0}, {"hu_boost": 100.0}, {"volume_scale": 0.0}, {"volume_scale": 50.0}])
def test_out_of_range_difficulty_names_the_value(kw):
    with pytest.raises(ValueError, match="difficulty out of range"):
        Difficulty(**kw)
