"""The interface every texture family shares: input checks, approaches, masking and cropping."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio.errors import EmptyMaskError, InvalidParameterError

from . import _oracle
from ._reference import FAMILIES, texture_module

SPACING = (2.0, 1.0, 1.0)


@pytest.fixture(scope="module")
def roi():
    rng = np.random.default_rng(1)
    return _oracle.random_roi(rng, shape=(4, 6, 7), n_levels=4, fill=0.7)


@pytest.mark.parametrize("module_name", list(FAMILIES))
def test_values_outside_the_mask_and_the_surrounding_grid_do_not_matter(module_name, roi):
    levels, mask = roi
    compute = texture_module(module_name).compute
    reference = compute(levels, mask, 4, SPACING)
    noisy = np.where(mask, levels, 99)
    big_levels = np.pad(noisy, ((2, 1), (3, 0), (0, 4)), constant_values=-5)
    big_mask = np.pad(mask, ((2, 1), (3, 0), (0, 4)))
    assert compute(big_levels, big_mask, 4, SPACING) == pytest.approx(reference, nan_ok=False)


@pytest.mark.parametrize("module_name", list(FAMILIES))
def test_only_the_requested_approaches_are_returned(module_name, roi):
    levels, mask = roi
    compute = texture_module(module_name).compute
    everything = compute(levels, mask, 4, SPACING)
    for approach in ("2D", "2_5D", "3D"):
        part = compute(levels, mask, 4, SPACING, approaches=(approach,))
        assert part
        assert all(f"_{approach}" in tag and not (approach == "2D" and "_2_5D" in tag) for tag in part)
        assert part == pytest.approx({tag: everything[tag] for tag in part})
    assert set(everything) == set().union(
        *(compute(levels, mask, 4, SPACING, approaches=(a,)) for a in ("2D", "2_5D", "3D"))
    )


@pytest.mark.parametrize("module_name", list(FAMILIES))
def test_3d_features_do_not_depend_on_which_axis_is_z(module_name, roi):
    levels, mask = roi
    compute = texture_module(module_name).compute
    original = compute(levels, mask, 4, SPACING, approaches=("3D",))
    rotated = compute(levels.transpose(2, 0, 1), mask.transpose(2, 0, 1), 4, SPACING, approaches=("3D",))
    assert rotated == pytest.approx(original)


@pytest.mark.parametrize(
    ("change", "name"),
    [
        (lambda lv, m, g, s, a: (lv[0], m[0], g, s, a), "levels"),
        (lambda lv, m, g, s, a: (lv.astype(float), m, g, s, a), "levels"),
        (lambda lv, m, g, s, a: (lv, m[:-1], g, s, a), "mask"),
        (lambda lv, m, g, s, a: (lv, m, 0, s, a), "n_levels"),
        (lambda lv, m, g, s, a: (lv, m, 3, s, a), "levels"),  # level 4 inside the mask exceeds n_levels
        (lambda lv, m, g, s, a: (lv, m, g, (1.0, 1.0), a), "spacing"),
        (lambda lv, m, g, s, a: (lv, m, g, (1.0, 0.0, 1.0), a), "spacing"),
        (lambda lv, m, g, s, a: (lv, m, g, s, ("2.5D",)), "approaches"),
        (lambda lv, m, g, s, a: (lv, m, g, s, ()), "approaches"),
    ],
)
def test_invalid_input_is_rejected_with_the_parameter_named(change, name, roi):
    levels, mask = roi
    args = change(levels, mask, 4, SPACING, ("3D",))
    for module_name in FAMILIES:
        with pytest.raises(InvalidParameterError) as info:
            texture_module(module_name).compute(*args[:4], approaches=args[4])
        assert info.value.name == name


def test_morphological_mask_of_another_shape_is_rejected(roi):
    levels, mask = roi
    with pytest.raises(InvalidParameterError):
        texture_module("gldzm").compute(levels, mask, 4, SPACING, morph_mask=mask[1:])


@pytest.mark.parametrize("module_name", list(FAMILIES))
def test_empty_mask_raises(module_name, roi):
    levels, mask = roi
    with pytest.raises(EmptyMaskError):
        texture_module(module_name).compute(levels, np.zeros_like(mask), 4, SPACING)


@pytest.mark.parametrize("module_name", list(FAMILIES))
def test_single_voxel_roi_gives_no_crash(module_name):
    levels = np.full((3, 3, 3), 2)
    mask = np.zeros((3, 3, 3), dtype=bool)
    mask[1, 1, 1] = True
    features = texture_module(module_name).compute(levels, mask, 2, SPACING)
    assert features  # families without any voxel pair report NaN rather than inventing a value


@pytest.mark.parametrize("module_name", list(FAMILIES))
def test_unused_grey_levels_change_only_the_n_g_normalised_features(module_name, roi):
    """N_g = 4 keeps every matrix small (dense counting); N_g = 5000 forces the sort-based sparse path.

    Only the GLCM normalised inverse differences contain N_g explicitly (IBSI 3.6.15, 3.6.17).
    """
    levels, mask = roi
    compute = texture_module(module_name).compute
    small = compute(levels, mask, 4, SPACING)
    large = compute(levels, mask, 5000, SPACING)
    depends_on_n_g = {tag for tag in small if "_inv_diff_norm_" in tag or "_inv_diff_mom_norm_" in tag}
    assert {t: large[t] for t in small if t not in depends_on_n_g} == pytest.approx(
        {t: small[t] for t in small if t not in depends_on_n_g}
    )
    assert all(large[t] > small[t] for t in depends_on_n_g)
