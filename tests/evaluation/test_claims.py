"""The paper's claims as paired comparisons: hand-computed differences, pairing, bootstrap, verdicts."""

import math

import pandas as pd
import pytest

from workbench.evaluation.claims import CLAIMS, Claim, PairedDifference, paired_difference, verdict


def _slices(rows):
    return pd.DataFrame(rows, columns=["method", "subject_id", "volume_id", "slice_index", "has_lesion", "dice"])


def test_paired_difference_hand_computed():
    rows = []
    # subject s1: two lesion slices, a - b = 0.2 and 0.4; subject s2: one slice, a - b = -0.3
    for m, d in (("a", [0.5, 0.6, 0.1]), ("b", [0.3, 0.2, 0.4])):
        rows += [(m, "s1", "v1", 0, 1, d[0]), (m, "s1", "v1", 1, 1, d[1]), (m, "s2", "v2", 0, 1, d[2])]
    rows += [("a", "s2", "v2", 1, 0, math.nan), ("b", "s2", "v2", 1, 0, math.nan)]  # no lesion: never paired
    rows += [("a", "s3", "v3", 0, 1, 0.9)]  # scored by a only: not paired
    diff = paired_difference(_slices(rows), "a", "b", seed=0)
    assert diff.n == 3 and diff.subjects == 2
    assert diff.estimate == pytest.approx((0.2 + 0.4 - 0.3) / 3)
    # the bootstrap resamples whole subjects: every resample is s1 s1 (0.3), s1 s2 (0.1) or s2 s2 (-0.3)
    assert -0.3 - 1e-12 <= diff.low <= diff.estimate <= diff.high <= 0.3 + 1e-12
    assert diff.low == pytest.approx(-0.3) and diff.high == pytest.approx(0.3)  # 2000 resamples reach both ends


def test_constant_difference_gives_a_point_interval_and_verdicts():
    rows = [(m, f"s{i}", f"v{i}", 0, 1, 0.5 + (0.1 if m == "a" else 0.0)) for i in range(6) for m in "ab"]
    diff = paired_difference(_slices(rows), "a", "b")
    assert (diff.estimate, diff.low, diff.high) == pytest.approx((0.1, 0.1, 0.1))
    assert verdict(Claim("a beats b", "a", "b"), diff).startswith("holds")
    assert verdict(Claim("a close to b", "a", "b", "close"), diff).startswith("not shown")
    assert verdict(Claim("a close to b", "a", "b", "close"), PairedDifference(0.0, -0.04, 0.03, 9, 3)).startswith("holds")
    assert verdict(Claim("b beats a", "b", "a"), PairedDifference(-0.1, -0.2, -0.05, 9, 3)).startswith("does not hold")
    assert verdict(Claim("x", "a", "b"), PairedDifference(0.0, -0.1, 0.1, 9, 3)).startswith("not shown")


def test_unknown_method_is_named():
    rows = [("a", "s1", "v1", 0, 1, 0.5)]
    with pytest.raises(ValueError, match="method 'hgi_sam' is not in the study; methods present: a"):
        paired_difference(_slices(rows), "a", "hgi_sam")
    assert {c.kind for c in CLAIMS} == {"better", "close", "better_by"}


def test_better_by_needs_the_margin_as_well_as_a_ci_above_zero():
    claim = Claim("a beats b by 0.05", "a", "b", "better_by", 0.05)
    assert verdict(claim, PairedDifference(0.07, 0.02, 0.12, 9, 3)) == (
        "holds as set (mean difference >= 0.05, CI excludes 0; the CI's low end +0.020 does not clear 0.05)")
    assert verdict(claim, PairedDifference(0.09, 0.06, 0.12, 9, 3)).endswith("+0.060 also clears 0.05)")
    assert verdict(claim, PairedDifference(0.03, 0.01, 0.05, 9, 3)).startswith("not shown: a better (CI excludes 0) but by 0.030")
    assert verdict(claim, PairedDifference(0.06, -0.01, 0.12, 9, 3)).startswith("not shown (CI")
