"""Tests of the feature extractor (imagebio.radiomics.extractor)."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError
from imagebio.radiomics import extractor
from imagebio.radiomics.extractor import extract_features
from imagebio.radiomics.settings import RadiomicsSettings

_OWN = ("morph_", "loc_", "stat_", "ih_", "ivh_")


def test_volume_and_array_inputs_agree(digital_phantom):
    image, mask = digital_phantom
    from_volume = extract_features(image, mask, settings="ibsi_digital_phantom")
    from_array = extract_features(np.asarray(image.array), np.asarray(mask.array), image.spacing,
                                  settings="ibsi_digital_phantom")
    assert from_volume.keys() == from_array.keys()
    for key, value in from_volume.items():
        assert value == pytest.approx(from_array[key], nan_ok=True), key


def test_family_filter(digital_phantom):
    image, mask = digital_phantom
    out = extract_features(image, mask, settings="ibsi_digital_phantom", families=("stat", "ivh_"))
    families = {k.split("_")[0] for k in out if not k.endswith(("_img", "_roi"))}
    assert families == {"stat", "ivh"}


def test_input_errors(digital_phantom):
    image, mask = digital_phantom
    arr, roi = np.asarray(image.array), np.asarray(mask.array)
    with pytest.raises(InvalidParameterError):
        extract_features(arr, roi, settings="ibsi_digital_phantom")  # no spacing
    with pytest.raises(GeometryMismatchError):
        extract_features(arr, roi[:, :, :-1], image.spacing, settings="ibsi_digital_phantom")
    with pytest.raises(EmptyMaskError):
        extract_features(arr, np.zeros_like(roi), image.spacing, settings="ibsi_digital_phantom")
    with pytest.raises(InvalidParameterError):  # 'none' discretisation needs integer grey levels >= 1
        extract_features(arr + 0.5, roi, image.spacing, settings="ibsi_digital_phantom")
    with pytest.raises(InvalidParameterError):
        extract_features(arr[0], roi[0], image.spacing[1:], settings="ibsi_digital_phantom")


def test_texture_modules_receive_the_discretised_roi(digital_phantom, monkeypatch):
    calls = []

    def compute(levels, mask, n_levels, spacing, approaches=("2D", "2_5D", "3D"), morph_mask=None):
        calls.append((levels.copy(), mask.copy(), n_levels, spacing, approaches, morph_mask.copy()))
        return {"cm_fake_3D_avg": 1.0}

    fake = types.SimpleNamespace(__name__="imagebio.radiomics.texture.glcm", compute=compute)
    monkeypatch.setattr(extractor, "_texture_modules", lambda: [fake])
    image, mask = digital_phantom
    settings = RadiomicsSettings(discretisation="fbn", n_bins=4, texture_approaches=("3D",))
    out = extract_features(image, mask, settings=settings)
    assert out["cm_fake_3D_avg"] == 1.0
    (levels, int_mask, n_levels, spacing, approaches, morph_mask), = calls
    assert n_levels == 4 and approaches == ("3D",) and spacing == (2.0, 2.0, 2.0)
    assert levels[int_mask].min() == 1 and levels[int_mask].max() == 4 and (levels[~int_mask] == 0).all()
    assert int_mask.sum() == 74 and (morph_mask == int_mask).all()
    # Cropped with a one-voxel empty margin.
    assert not int_mask[0].any() and not int_mask[-1].any()
    # Families filter also applies to texture.
    calls.clear()
    extract_features(image, mask, settings=settings, families=("stat",))
    assert not calls


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["ibsi_config_d", "ibsi_config_e"])
def test_held_out_configurations_run(ct_phantom, preset):
    # IBSI reference values of D and E are held out of this repository: only check the chain runs and is sane.
    image, mask = ct_phantom
    out = extract_features(image, mask, settings=preset, families=_OWN)
    own = {k: v for k, v in out.items()
           if k.startswith(_OWN) and not k.endswith(("_roi", "_img")) and k != "ivh_auc"}
    assert len(own) == 25 + 2 + 18 + 23 + 6
    assert all(math.isfinite(v) for v in own.values())
    assert out["int_mask_vox_count_reseg_roi"] < out["morph_mask_vox_count_reseg_roi"]  # outliers removed
    assert out["ih_min"] == 1 and out["ih_max"] == 32
    if preset == "ibsi_config_e":
        assert 1 <= out["ivh_i90"] <= out["ivh_i10"] <= 1000
    assert (out["img_dim_x_interp_img"], out["img_dim_y_interp_img"], out["img_dim_z_interp_img"]) == (100, 99, 90)
