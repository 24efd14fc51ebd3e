"""Tests of the per-series PET metrics table (imagebio.pet.summary) on a synthetic volume with exact answers."""

from __future__ import annotations

import numpy as np
import pytest

from imagebio import units
from imagebio.errors import EmptyMaskError
from imagebio.pet.summary import LIVER_ROI, WHOLE_BODY_ROI, pet_metric_table, sul_factor_of
from imagebio.volume import Volume

VOXEL_ML = 0.008  # 2 mm isotropic
WEIGHT_KG, HEIGHT_M = 70.0, 1.75


def _janmahasatian_female_factor():
    # LBM (Janmahasatian 2005, female) = 9270·W / (8780 + 244·BMI); SUL = SUVbw · LBM / W
    bmi = WEIGHT_KG / HEIGHT_M**2
    return 9270.0 / (8780.0 + 244.0 * bmi)


def _scene(sex="F"):
    array = np.ones((24, 40, 40), dtype=np.float32)
    lesion_a = np.zeros(array.shape, bool)
    lesion_a[8:14, 4:10, 20:26] = True
    lesion_b = np.zeros(array.shape, bool)
    lesion_b[8:14, 4:10, 30:36] = True
    array[lesion_a] = 5.0
    array[8:14, 4:10, 30:33] = 4.0
    array[8:14, 4:10, 33:36] = 1.5
    array[4:24, 22:40, 0:18] = 2.0  # liver block
    metadata = {"weight_kg": WEIGHT_KG, "height_m": HEIGHT_M, "sex": sex}
    image = Volume(array, spacing=(2.0, 2.0, 2.0), origin=(0.0, 0.0, 0.0), modality="PT", unit=units.SUV_BW,
                   metadata=metadata)
    return image, {"A": lesion_a, "B": lesion_b}


LIVER_CENTRE_MM = (16.0, 60.0, 26.0)  # voxel (z 13, y 30, x 8): the 3 cm sphere lies inside the liver block


def test_lesion_and_whole_body_values():
    image, lesions = _scene()
    table = pet_metric_table(image, lesions)
    assert table.value("A", "suvbw_max") == 5.0
    assert table.value("A", "mtv_ml_41pct") == pytest.approx(216 * VOXEL_ML)
    assert table.value("A", "tlg_41pct") == pytest.approx(216 * VOXEL_ML * 5.0)
    # B: 41 % of 4.0 = 1.64 keeps the 4.0 half only
    assert table.value("B", "mtv_ml_41pct") == pytest.approx(108 * VOXEL_ML)
    assert table.value("B", "tlg_41pct") == pytest.approx(108 * VOXEL_ML * 4.0)
    assert table.value(WHOLE_BODY_ROI, "total_mtv_ml_41pct") == pytest.approx(324 * VOXEL_ML)
    assert table.value(WHOLE_BODY_ROI, "total_tlg_41pct") == pytest.approx(216 * VOXEL_ML * 5 + 108 * VOXEL_ML * 4)
    assert table.value(WHOLE_BODY_ROI, "total_mtv_ml_suv2.5") == pytest.approx(324 * VOXEL_ML)
    assert table.value(WHOLE_BODY_ROI, "n_lesions") == 2
    assert table.value(WHOLE_BODY_ROI, "dmax_mm") == pytest.approx(20.0)  # centroids 10 voxels apart in x
    units_of = {(r.roi, r.name): r.unit for r in table.rows}
    assert units_of[("A", "suvbw_peak")] == units.SUV_BW
    assert units_of[("A", "mtv_ml_41pct")] == units.ML
    assert units_of[("A", "tlg_41pct")] == "mL*SUVbw"


def test_sul_rows_and_percist_threshold_from_liver_centre():
    image, lesions = _scene()
    factor = _janmahasatian_female_factor()
    assert sul_factor_of(image) == pytest.approx(factor, rel=1e-12)
    table = pet_metric_table(image, lesions, liver_centre_mm=LIVER_CENTRE_MM)
    assert table.value("A", "sul_peak") == pytest.approx(table.value("A", "suvbw_peak") * factor, rel=1e-9)
    # uniform liver: SUL mean 2·f, SD 0, PERCIST threshold 1.5·mean + 2·SD = 3·f
    assert table.value(LIVER_ROI, "sul_mean") == pytest.approx(2.0 * factor, rel=1e-6)
    assert table.value(LIVER_ROI, "sul_sd") == pytest.approx(0.0, abs=1e-6)
    threshold = table.value(LIVER_ROI, "percist_threshold")
    assert threshold == pytest.approx(3.0 * factor, rel=1e-6)
    # SUL 5f and 4f are above 3f, 1.5f below: all of A, half of B
    assert table.value("A", "mtv_ml_percist") == pytest.approx(216 * VOXEL_ML)
    assert table.value("B", "mtv_ml_percist") == pytest.approx(108 * VOXEL_ML)
    assert table.value("A", "tlg_percist") == pytest.approx(216 * VOXEL_ML * 5.0 * factor, rel=1e-6)
    assert table.value(WHOLE_BODY_ROI, "total_mtv_ml_percist") == pytest.approx(324 * VOXEL_ML)
    for roi in ("A", "B"):
        assert table.value(roi, "percist_measurable") == float(table.value(roi, "sul_peak") >= threshold)
    assert table.liver is not None and table.liver.n_voxels > 1500  # a 3 cm sphere of 2 mm voxels: ~1767


def test_liver_mask_places_the_sphere_inside_it():
    image, lesions = _scene()
    liver = np.zeros(image.shape, bool)
    liver[4:24, 22:40, 0:18] = True
    table = pet_metric_table(image, lesions, liver_mask=liver)
    assert table.value(LIVER_ROI, "sul_mean") == pytest.approx(2.0 * _janmahasatian_female_factor(), rel=1e-6)


def test_without_body_size_the_sul_rows_are_left_out_and_said_so():
    image, lesions = _scene(sex=None)
    assert sul_factor_of(image) is None
    table = pet_metric_table(image, lesions, liver_centre_mm=LIVER_CENTRE_MM)
    names = {r.name for r in table.rows}
    assert "sul_peak" not in names and "mtv_ml_percist" not in names and table.liver is None
    assert any("SUL" in note for note in table.notes) and any("PERCIST" in note for note in table.notes)


def test_sul_image_uses_its_own_values():
    image, lesions = _scene()
    sul = image.with_array(image.array * 0.5, unit=units.SUL)
    table = pet_metric_table(sul, lesions, liver_centre_mm=LIVER_CENTRE_MM)
    assert table.value("A", "sul_max") == 2.5
    assert table.value(LIVER_ROI, "percist_threshold") == pytest.approx(1.5, rel=1e-6)


def test_no_lesion_is_an_error():
    image, _ = _scene()
    with pytest.raises(EmptyMaskError):
        pet_metric_table(image, {})
