"""Texture matrices of the IBSI 1 digital phantom against the manual's hand-worked matrices.

The matrices are built with imagebio's own construction code (the functions the feature code calls) and compared
entry by entry with ``tests/data/ibsi/digital_phantom_texture_matrices.json``, transcribed from the IBSI reference
manual, chapter "Digital phantom texture matrices" (see ``tests/data/ibsi/SOURCE.md``). Counts must be equal;
NGTDM ``s_i`` must agree to the 6 decimals the manual prints.

Slice order: the manual's slice 1..4 is the phantom's z index 0..3 (the third NIfTI axis, as loaded by
``_reference.digital_phantom``, which returns (z, y, x) arrays); after :func:`prepare` pads one voxel on each side
that is padded index 1..4. The tables were not reordered: every one of them matches in this order.

"Merged" matrices are the direction matrices summed: 4 in-plane directions per slice (2D), 13 directions (3D).
Grey levels are the phantom's own 1..6 (no discretisation); GLCM symmetric at Chebyshev distance 1; NGTDM and
NGLDM at Chebyshev distance 1, NGLDM coarseness 0; GLDZM distances on the morphological mask (here the same as the
intensity mask).
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from imagebio.radiomics.texture import glcm, gldzm, glrlm, glszm, ngldm, ngtdm
from imagebio.radiomics.texture._neighbours import DIRECTIONS_2D, DIRECTIONS_3D, prepare

from ._reference import DATA, digital_phantom

N_LEVELS = 6
SPACING_MM = (2.0, 2.0, 2.0)
#: Manual slice k (1-based) is padded slice index k: phantom z index k - 1 plus the one-voxel padding.
MANUAL_SLICES = (1, 2, 3, 4)
#: The manual prints NGTDM s_i with 6 decimals: agreement means a difference of at most half the last digit.
S_PRINTED_HALF_UNIT = 0.5e-6


@pytest.fixture(scope="module")
def manual():
    with (DATA / "digital_phantom_texture_matrices.json").open(encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def phantom():
    image, mask = digital_phantom()
    assert image.shape == (4, 4, 5)  # (z, y, x): 4 slices of 4 x 5 voxels
    return prepare(image, mask, N_LEVELS, SPACING_MM, ("2D", "3D"))


def _matrix(rows) -> dict[tuple[int, int], float]:
    """Manual table ``[[i, j, count], ...]`` -> {(i, j): count}."""
    return {(int(i), int(j)): float(count) for i, j, count in rows}


def _matrices(group, i, j, count=None) -> dict[int, dict[tuple[int, int], float]]:
    """Entries (matrix index, i, j[, count]) summed into one sparse matrix per matrix index."""
    count = np.ones(len(i)) if count is None else count
    totals: dict[int, Counter] = {}
    for g, a, b, c in zip(np.asarray(group).tolist(), np.asarray(i).tolist(), np.asarray(j).tolist(), count):
        totals.setdefault(int(g), Counter())[(int(a), int(b))] += float(c)
    return {g: dict(t) for g, t in totals.items()}


def _per_slice(ours, manual_slices):
    assert sorted(ours) == sorted(MANUAL_SLICES), "matrices of slices other than the phantom's four"
    return [(k, ours[k], _matrix(rows)) for k, rows in zip(MANUAL_SLICES, manual_slices, strict=True)]


def _glcm_merged(phantom, directions, by_slice):
    entries = [glcm.cooccurrence_entries(phantom.levels, N_LEVELS, d, by_slice, phantom.roi_index) for d in directions]
    return _matrices(*(np.concatenate([e[k] for e in entries]) for k in range(4)))


def _glrlm_merged(phantom, directions):
    runs = [glrlm.runs_along(phantom.levels, d) for d in directions]
    level = np.concatenate([r[0] for r in runs])
    length = np.concatenate([r[1] for r in runs])
    in_plane = all(r[2] is not None for r in runs)
    group = np.concatenate([r[2] for r in runs]) if in_plane else np.zeros_like(level)
    return _matrices(group, level, length)


def test_glcm_2d_merged_per_slice(phantom, manual):
    ours = _glcm_merged(phantom, DIRECTIONS_2D, by_slice=True)
    for k, got, expected in _per_slice(ours, manual["glcm_2d_merged_per_slice"]):
        assert got == expected, f"slice {k}"


def test_glcm_3d_merged(phantom, manual):
    ours = _glcm_merged(phantom, DIRECTIONS_3D, by_slice=False)
    assert ours == {0: _matrix(manual["glcm_3d_merged"])}


def test_glrlm_2d_merged_per_slice(phantom, manual):
    ours = _glrlm_merged(phantom, DIRECTIONS_2D)
    for k, got, expected in _per_slice(ours, manual["glrlm_2d_merged_per_slice"]):
        assert got == expected, f"slice {k}"


def test_glrlm_3d_merged(phantom, manual):
    assert _glrlm_merged(phantom, DIRECTIONS_3D) == {0: _matrix(manual["glrlm_3d_merged"])}


def test_glszm_2d_per_slice(phantom, manual):
    level, size, z, _ = glszm.zones(phantom.levels, planar=True)
    for k, got, expected in _per_slice(_matrices(z, level, size), manual["glszm_2d_per_slice"]):
        assert got == expected, f"slice {k}"


def test_glszm_3d(phantom, manual):
    level, size, _, _ = glszm.zones(phantom.levels, planar=False)
    assert _matrices(np.zeros_like(level), level, size) == {0: _matrix(manual["glszm_3d"])}


def _zone_distance_matrix(phantom, planar):
    level, _, z, labels = glszm.zones(phantom.levels, planar=planar)
    distance_map = gldzm.edge_distance(phantom.morph_mask, planar=planar)
    distance = gldzm.zone_distances(labels, distance_map, level.size)
    return _matrices(z if planar else np.zeros_like(z), level, distance)


def test_gldzm_2d_per_slice(phantom, manual):
    assert np.array_equal(phantom.morph_mask, phantom.mask)
    ours = _zone_distance_matrix(phantom, planar=True)
    for k, got, expected in _per_slice(ours, manual["gldzm_2d_per_slice"]):
        assert got == expected, f"slice {k}"


def test_gldzm_3d(phantom, manual):
    assert _zone_distance_matrix(phantom, planar=False) == {0: _matrix(manual["gldzm_3d"])}


def _assert_ngtdm(s, n, rows, where):
    """``s``, ``n``: length-N_g arrays; ``rows``: manual ``[[i, s_i, n_i], ...]`` for the levels present."""
    present = {int(i): (float(s_i), float(n_i)) for i, s_i, n_i in rows}
    assert sorted(np.flatnonzero(n) + 1) == sorted(present), f"{where}: grey levels with n_i > 0"
    for level, (s_ref, n_ref) in present.items():
        assert n[level - 1] == n_ref, f"{where}: n_{level}"
        assert abs(s[level - 1] - s_ref) <= S_PRINTED_HALF_UNIT, f"{where}: s_{level} = {s[level - 1]!r} vs {s_ref}"
    absent = n == 0
    assert np.all(s[absent] == 0), f"{where}: s_i of absent grey levels"


def test_ngtdm_2d_per_slice(phantom, manual):
    s, n = ngtdm.ngtdm(phantom.levels, N_LEVELS, planar=True, roi_index=phantom.roi_index)
    occupied = np.flatnonzero(n.sum(axis=1)).tolist()
    assert occupied == sorted(MANUAL_SLICES)
    for k, rows in zip(MANUAL_SLICES, manual["ngtdm_2d_per_slice"], strict=True):
        _assert_ngtdm(s[k], n[k], rows, f"slice {k}")


def test_ngtdm_3d(phantom, manual):
    s, n = ngtdm.ngtdm(phantom.levels, N_LEVELS, planar=False, roi_index=phantom.roi_index)
    _assert_ngtdm(s.sum(axis=0), n.sum(axis=0), manual["ngtdm_3d"], "3D")


def test_ngldm_2d_per_slice(phantom, manual):
    dependence = ngldm.roi_dependence_counts(phantom.levels, phantom.roi_index, planar=True)
    ours = _matrices(phantom.roi_z, phantom.roi_levels, dependence)
    for k, got, expected in _per_slice(ours, manual["ngldm_2d_per_slice"]):
        assert got == expected, f"slice {k}"


def test_ngldm_3d(phantom, manual):
    dependence = ngldm.roi_dependence_counts(phantom.levels, phantom.roi_index, planar=False)
    level = phantom.roi_levels
    assert _matrices(np.zeros_like(level), level, dependence) == {0: _matrix(manual["ngldm_3d"])}

