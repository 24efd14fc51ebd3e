"""All IBSI 1 texture reference rows: digital phantom (every aggregation) and CT phantom configuration A (2D, 2.5D).

Matching rule and tolerances are the reference table's own (see ``_reference.py``). The CT phantom is processed
here as configuration A needs no interpolation: rounding, re-segmentation to [-500, 400] HU, fixed bin size 25 HU.
"""

from __future__ import annotations

import numpy as np
import pytest

from ._reference import (
    FAMILIES,
    ct_phantom_config_a,
    digital_phantom,
    ibsi_mismatches,
    reference_rows,
    texture_module,
)

# Digital phantom settings (IBSI 1 manual, section 5.1): grey levels used as they are (N_g = 6), 2.0 mm voxels,
# morphological mask = intensity mask.
PHANTOM_LEVELS = 6
PHANTOM_SPACING = (2.0, 2.0, 2.0)


@pytest.mark.parametrize("module_name", list(FAMILIES))
def test_digital_phantom_matches_every_reference_row(module_name):
    image, mask = digital_phantom()
    features = texture_module(module_name).compute(image, mask, PHANTOM_LEVELS, PHANTOM_SPACING)
    failures, n_rows = ibsi_mismatches(module_name, "digital_phantom", features)
    assert n_rows > 0
    assert not failures, f"{len(failures)}/{n_rows} rows fail:\n" + "\n".join(failures)


@pytest.mark.parametrize("module_name", list(FAMILIES))
def test_digital_phantom_returns_exactly_the_reference_tags(module_name):
    image, mask = digital_phantom()
    features = texture_module(module_name).compute(image, mask, PHANTOM_LEVELS, PHANTOM_SPACING)
    prefix = FAMILIES[module_name] + "_"
    expected = {tag for tag in reference_rows("digital_phantom") if tag.startswith(prefix)}
    assert set(features) == expected
    assert all(np.isfinite(v) for v in features.values())


@pytest.mark.parametrize("module_name", list(FAMILIES))
def test_ct_phantom_configuration_a_matches_every_reference_row(module_name):
    levels, intensity, morph, n_levels, spacing = ct_phantom_config_a()
    features = texture_module(module_name).compute(
        levels, intensity, n_levels, spacing, approaches=("2D", "2_5D"), morph_mask=morph
    )
    failures, n_rows = ibsi_mismatches(module_name, "config_A", features)
    assert n_rows > 0
    assert not failures, f"{len(failures)}/{n_rows} rows fail:\n" + "\n".join(failures)


def test_configuration_a_gldzm_needs_the_morphological_mask():
    """Re-segmentation punches holes in the intensity mask; IBSI measures edge distance on the morphological mask.

    Using the intensity mask for the distance map must break agreement, so the reference rows really test the
    choice of mask.
    """
    levels, intensity, _, n_levels, spacing = ct_phantom_config_a()
    features = texture_module("gldzm").compute(levels, intensity, n_levels, spacing, approaches=("2D", "2_5D"))
    failures, _ = ibsi_mismatches("gldzm", "config_A", features)
    assert failures
