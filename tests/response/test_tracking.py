"""Lesion matching between time points by overlap and centroid distance, with user overrides."""

import numpy as np
import pytest

from imagebio.errors import GeometryMismatchError, InvalidParameterError
from imagebio.response.tracking import match_lesions


def ball(shape, centre, radius):
    zz, yy, xx = np.indices(shape)
    return (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 <= radius**2


def pair():
    shape = (20, 40, 40)
    base = np.zeros(shape, np.int16)
    base[ball(shape, (10, 10, 10), 4)] = 1
    base[ball(shape, (10, 28, 28), 5)] = 2
    base[ball(shape, (10, 10, 30), 3)] = 3  # disappears
    follow = np.zeros(shape, np.int16)
    follow[ball(shape, (10, 27, 29), 4)] = 7  # lesion 2, shrunk and moved 1.4 voxel
    follow[ball(shape, (11, 11, 10), 5)] = 5  # lesion 1, grown
    follow[ball(shape, (10, 30, 8), 3)] = 9  # new
    return base, follow


def test_matching_new_and_disappeared():
    base, follow = pair()
    result = {(m.baseline_label, m.followup_label): m for m in match_lesions(base, follow, (2.0, 1.0, 1.0))}
    assert set(result) == {(1, 5), (2, 7), (3, None), (None, 9)}
    assert result[(3, None)].status == "disappeared" and result[(None, 9)].status == "new"
    assert result[(1, 5)].dice > 0.4 and result[(2, 7)].centroid_distance_mm == pytest.approx(np.sqrt(2), abs=0.05)


def test_override_is_respected():
    base, follow = pair()
    result = match_lesions(base, follow, (2.0, 1.0, 1.0), overrides={9: 3, 5: None})
    pairs = {(m.baseline_label, m.followup_label, m.source) for m in result}
    assert (3, 9, "override") in pairs and (None, 5, "override") in pairs
    assert (1, None, "auto") in pairs  # lesion 1 lost its automatic partner
    with pytest.raises(InvalidParameterError):
        match_lesions(base, follow, (2.0, 1.0, 1.0), overrides={4: 1})


def test_grids_must_match():
    base, follow = pair()
    with pytest.raises(GeometryMismatchError):
        match_lesions(base, follow[:, :20], (2.0, 1.0, 1.0))
