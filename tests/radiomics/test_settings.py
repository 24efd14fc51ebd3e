"""Tests of the radiomics settings and presets (imagebio.radiomics.settings)."""

from __future__ import annotations

import pytest

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.settings import RadiomicsSettings, available_presets, load_settings


def test_presets_ship_with_the_package_and_encode_the_ibsi_table():
    names = available_presets()
    assert {"ibsi_digital_phantom", "ibsi_config_a", "ibsi_config_b", "ibsi_config_c", "ibsi_config_d",
            "ibsi_config_e"} <= set(names)
    b = load_settings("ibsi_config_b")
    assert b.new_spacing_mm == (None, 2.0, 2.0) and b.discretisation == "fbn" and b.n_bins == 32
    assert b.texture_approaches == ("2D", "2_5D")
    e = load_settings("ibsi_config_e")
    assert e.image_interpolator == "cubic" and e.outlier_sigma == 3.0 and e.resegmentation_range == (-1000.0, 400.0)
    assert (e.ivh_discretisation, e.ivh_n_bins) == ("fbn", 1000)
    d = load_settings("ibsi_config_d")
    assert d.resegmentation_range is None and d.outlier_sigma == 3.0


def test_yaml_file_round_trip(tmp_path):
    import yaml

    original = load_settings("ibsi_config_c")
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(original.to_dict()), encoding="utf-8")
    assert load_settings(path) == original
    assert load_settings(original) is original


@pytest.mark.parametrize(
    "changes",
    [
        {"discretisation": "fbs", "bin_width": None},
        {"discretisation": "quantile"},
        {"n_bins": 0},
        {"image_interpolator": "lanczos"},
        {"new_spacing_mm": (2.0, -1.0, 2.0)},
        {"resegmentation_range": (400.0, -1000.0)},
        {"texture_approaches": ("4D",)},
        {"roi_partial_volume_threshold": 0.0},
    ],
)
def test_invalid_settings_raise(changes):
    with pytest.raises(InvalidParameterError):
        RadiomicsSettings(**changes)


def test_unknown_preset_and_key_raise():
    with pytest.raises(InvalidParameterError):
        load_settings("no_such_preset")
    with pytest.raises(InvalidParameterError):
        RadiomicsSettings.from_dict({"bin_widht": 25})
