"""Tests of imagebio.radiomics.filters.settings: FilterSettings as data, the dispatcher, ROI-restricted filtering."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters import FilterSettings, apply_filter, filter_reach, response_map_near_roi
from imagebio.radiomics.settings import RadiomicsSettings, load_settings


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"kind": "median"}, "filter.kind"),
    ({"kind": "mean"}, "filter.support_voxels"),
    ({"kind": "laws", "laws_kernel": "L5E5", "dimensions": 3}, "filter.dimensions"),
    ({"kind": "wavelet", "wavelet": "db2", "subband": "LLH", "dimensions": 2}, "filter.dimensions"),
    ({"kind": "gabor", "sigma_mm": 1, "lambda_mm": 2, "gamma": 1, "rotation_invariant": True},
     "filter.theta_step_rad"),
    ({"kind": "log", "sigma_mm": 1, "pooling": "median"}, "filter.pooling"),
    ({"kind": "log", "sigma_mm": 1, "padding": "antireflect"}, "padding"),
    ({"kind": "riesz_simoncelli", "riesz_order": (1, 0, 0), "dimensions": 2}, "filter.dimensions"),
])
def test_invalid_settings_are_rejected_with_the_parameter_named(kwargs, name):
    with pytest.raises(InvalidParameterError) as info:
        FilterSettings(**kwargs)
    assert info.value.name == name


def test_from_dict_accepts_degrees_and_rejects_unknown_keys():
    s = FilterSettings.from_dict({"kind": "gabor", "sigma_mm": 5, "lambda_mm": 2, "gamma": 1.5, "theta_deg": 90,
                                  "theta_step_deg": 22.5, "rotation_invariant": True, "padding": "reflect"})
    assert s.theta_rad == pytest.approx(math.pi / 2) and s.theta_step_rad == pytest.approx(math.pi / 8)
    assert s.padding == "mirror" and s.pooling == "mean"
    assert FilterSettings(kind="laws", laws_kernel="L5E5", dimensions=2).pooling == "max"
    with pytest.raises(InvalidParameterError):
        FilterSettings.from_dict({"kind": "mean", "support_voxels": 3, "size": 3})


def test_radiomics_settings_carry_a_filter_through_yaml(tmp_path):
    import yaml

    original = load_settings("ibsi2_config_5b")
    assert original.filter is not None and original.filter.kind == "gabor" and original.filter.dimensions == 3
    path = tmp_path / "filtered.yaml"
    path.write_text(yaml.safe_dump(original.to_dict()), encoding="utf-8")
    assert load_settings(path) == original
    riesz = RadiomicsSettings(filter={"kind": "riesz_log", "sigma_mm": 2.0, "riesz_order": [1, 0, 0]})
    assert RadiomicsSettings.from_dict(yaml.safe_load(yaml.safe_dump(riesz.to_dict()))) == riesz
    with pytest.raises(InvalidParameterError):
        RadiomicsSettings(filter="mean")


@pytest.mark.parametrize("name", [f"ibsi2_config_{n}{v}" for n in (1, 2, 3, 4, 5, 7, 8, 9) for v in "ab"])
def test_phase2_presets_load(name):
    cfg = load_settings(name)
    assert cfg.resegmentation_range == (-1000.0, 400.0)
    assert (cfg.new_spacing_mm is None) == name.endswith("a")
    assert (cfg.filter is None) == name.startswith("ibsi2_config_1")


def test_apply_filter_accepts_a_mapping_and_checks_inputs(rng):
    image = rng.normal(size=(5, 6, 7))
    out = apply_filter(image, (1.0, 1.0, 1.0), {"kind": "mean", "support_voxels": 3})
    np.testing.assert_allclose(out, apply_filter(image, (1.0, 1.0, 1.0), FilterSettings("mean", support_voxels=3)))
    with pytest.raises(InvalidParameterError):
        apply_filter(image[0], (1.0, 1.0), {"kind": "mean", "support_voxels": 3})
    with pytest.raises(InvalidParameterError):
        apply_filter(image, (1.0, 0.0, 1.0), {"kind": "mean", "support_voxels": 3})


@pytest.mark.parametrize("settings", [
    FilterSettings("laws", laws_kernel="L5E5E5", rotation_invariant=True, energy_delta_voxels=3),
    FilterSettings("wavelet", wavelet="db3", subband="HHH", level=2, rotation_invariant=True),
    FilterSettings("log", sigma_mm=1.5, dimensions=2),
    FilterSettings("gabor", sigma_mm=2.0, lambda_mm=2.0, gamma=1.5, theta_step_rad=math.pi / 2,
                   rotation_invariant=True),
])
def test_roi_restricted_filtering_equals_whole_image_filtering_near_the_roi(rng, settings):
    image = rng.normal(size=(30, 34, 36))
    spacing = (2.0, 1.0, 1.0)
    roi = np.zeros(image.shape, dtype=bool)
    roi[12:16, 14:19, 3:8] = True  # close to the x border: the crop is clipped there
    near = response_map_near_roi(image, spacing, settings, roi, margin_mm=3.0)
    full = apply_filter(image, spacing, settings)
    valid = ~np.isnan(near)
    assert valid[roi].all() and not valid.all()
    np.testing.assert_allclose(near[valid], full[valid], atol=1e-10)
    assert filter_reach(FilterSettings("simoncelli"), spacing) is None
