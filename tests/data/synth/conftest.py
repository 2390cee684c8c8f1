"""Small synthetic subjects shared by the synth tests (generated once per session)."""

import pytest

from workbench.data.synth import generate_subject

SIZE, SLICES = 96, 14


@pytest.fixture(scope="session")
def ich_subjects():
    """Eight subjects that all have ICH, 96 px, 14 slices."""
    return [generate_subject(i, 11, size=SIZE, n_slices=SLICES, p_ich=1.0) for i in range(8)]


@pytest.fixture(scope="session")
def subtype_subjects():
    """Subjects covering every subtype at least once (searched deterministically)."""
    found, out, i = set(), [], 0
    while len(found) < 5 and i < 60:
        s = generate_subject(i, 5, size=SIZE, n_slices=SLICES, p_ich=1.0)
        new = {l.subtype for l in s.lesions} - found
        if new:
            out.append(s)
            found |= new
        i += 1
    assert len(found) == 5, found
    return out
