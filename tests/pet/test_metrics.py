"""Tests of the lesion metabolism metrics (imagebio.pet.metrics)."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest

from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError
from imagebio.io.pet import read_pet
from imagebio.pet.metrics import (
    LesionMetricSettings,
    dmax_mm,
    lesion_metrics,
    metabolic_volume,
    relative_threshold,
    suv_percentiles,
    suv_statistics,
    whole_body_burden,
)


@pytest.fixture(scope="module")
def dro_0_0(suv_dro_root):
    folder = suv_dro_root / "DRO_0_0"
    volume = read_pet(folder / "PT", quantity="suvbw")
    mask = np.asarray(nib.load(folder / "mask" / "DRO_mask.nii.gz").dataobj).transpose(2, 1, 0) > 0
    return volume, mask


def test_dro_0_0_derived_exact_values(dro_0_0):
    # shared SOURCE.md section 5 (exact by construction; tolerance 1e-3 relative): the hot sphere holds
    # 515 voxels of 0.064 mL at SUV 4.0.
    volume, mask = dro_0_0
    assert volume.spacing == pytest.approx((4.0, 4.0, 4.0))
    metrics = lesion_metrics(volume.array, mask, volume.spacing)
    assert metrics["suv_mean"] == pytest.approx(1.005576, rel=1e-3)
    assert metrics["n_voxels"] == 203202
    assert metrics["suv_max"] == pytest.approx(4.0, rel=1e-3)
    assert metrics["threshold_41pct"] == pytest.approx(1.64, rel=1e-3)
    assert metrics["mtv_ml_41pct"] == pytest.approx(32.96, rel=1e-3)
    assert metrics["tlg_41pct"] == pytest.approx(131.84, rel=1e-3)
    assert metrics["suv_peak"] == pytest.approx(4.00, rel=1e-3)
    assert metrics["suv_peak_at_max"] == pytest.approx(4.00, rel=1e-3)
    # 50 % of SUVmax and SUV 2.5 / 4.0 select the same hot sphere (the background is 1.0)
    for tag in ("50pct", "suv2.5", "suv4"):
        assert metrics[f"mtv_ml_{tag}"] == pytest.approx(32.96, rel=1e-3)
    assert metrics["suv_p50"] == pytest.approx(1.0, abs=0.005)


def test_mtv_and_tlg_on_a_known_block():
    spacing = (2.0, 3.0, 4.0)  # 24 mm³ voxels
    image = np.zeros((10, 10, 10))
    image[2:8, 2:8, 2:8] = 1.0
    image[3:5, 3:5, 3:5] = 6.0  # 8 voxels
    mask = image > 0
    mtv = metabolic_volume(image, mask, spacing, 2.5)
    assert mtv.n_voxels == 8 and mtv.volume_ml == pytest.approx(8 * 0.024)
    assert mtv.suv_mean == 6.0 and mtv.tlg == pytest.approx(8 * 0.024 * 6.0)
    # the threshold is inclusive
    assert metabolic_volume(image, mask, spacing, 6.0).n_voxels == 8
    empty = metabolic_volume(image, mask, spacing, 7.0)
    assert empty.volume_ml == 0.0 and empty.tlg == 0.0 and math.isnan(empty.suv_mean)
    assert relative_threshold(image, mask, 41) == pytest.approx(0.41 * 6.0)
    metrics = lesion_metrics(image, mask, spacing, percist_threshold=0.5,
                             settings=LesionMetricSettings(percentiles=(0, 100)))
    assert metrics["mtv_ml_percist"] == pytest.approx(216 * 0.024)
    assert metrics["suv_p0"] == 1.0 and metrics["suv_p100"] == 6.0


def test_statistics_and_percentiles():
    rng = np.random.default_rng(3)
    image = rng.normal(5, 1, (8, 8, 8))
    mask = np.zeros_like(image, dtype=bool)
    mask[1:6, 2:7, 0:4] = True
    values = image[mask]
    stats = suv_statistics(image, mask)
    assert stats["suv_max"] == values.max() and stats["suv_mean"] == pytest.approx(values.mean())
    assert stats["suv_sd"] == pytest.approx(values.std()) and stats["n_voxels"] == 100
    assert suv_percentiles(image, mask, (90,))["suv_p90"] == pytest.approx(np.percentile(values, 90))
    with pytest.raises(InvalidParameterError, match="percentiles"):
        suv_percentiles(image, mask, (101,))


def test_whole_body_burden_and_dmax():
    spacing = (2.0, 2.0, 2.0)
    image = np.ones((40, 40, 40))
    labels = np.zeros(image.shape, dtype=np.int16)
    labels[2:5, 2:5, 2:5] = 1  # centroid (3, 3, 3) voxels
    labels[30:34, 30:34, 30:34] = 2  # centroid (31.5, 31.5, 31.5)
    labels[10:12, 20:22, 5:7] = 3
    image[labels == 1] = 8.0
    image[labels == 2] = 3.0
    image[labels == 3] = 2.0
    burden = whole_body_burden(image, labels, spacing, threshold=2.5)
    assert burden.n_lesions == 3
    assert burden.total_mtv_ml == pytest.approx((27 + 64) * 0.008)
    assert burden.total_tlg == pytest.approx(27 * 0.008 * 8 + 64 * 0.008 * 3)
    assert burden.per_lesion[3].volume_ml == 0.0
    expected_dmax = math.sqrt(3) * (31.5 - 3.0) * 2.0
    assert burden.dmax_mm == pytest.approx(expected_dmax)
    assert dmax_mm([labels == 1, labels == 2], spacing) == pytest.approx(expected_dmax)
    assert dmax_mm({"a": labels == 1}, spacing) == 0.0
    relative = whole_body_burden(image, labels, spacing, percent_of_max=41)
    assert relative.total_mtv_ml == pytest.approx((27 + 64 + 8) * 0.008)
    with pytest.raises(InvalidParameterError):
        whole_body_burden(image, labels, spacing, threshold=2.5, percent_of_max=41)


def test_bad_masks():
    with pytest.raises(EmptyMaskError):
        suv_statistics(np.ones((3, 3, 3)), np.zeros((3, 3, 3), bool))
    with pytest.raises(GeometryMismatchError):
        metabolic_volume(np.ones((3, 3, 3)), np.ones((3, 3, 2), bool), (1, 1, 1), 1.0)
    with pytest.raises(InvalidParameterError, match="percent_of_max"):
        relative_threshold(np.ones((3, 3, 3)), np.ones((3, 3, 3), bool), 0)


def test_dro_0_0_sul_peak_agrees_with_the_sul_image(suv_dro_root, dro_0_0):
    # SULpeak from the SUVbw image and the header body size equals SUVpeak of io.pet's SUL image (Janmahasatian)
    from imagebio.pet.peak import sul_peak, suv_peak

    volume, mask = dro_0_0
    sul_volume = read_pet(suv_dro_root / "DRO_0_0" / "PT", quantity="sul")
    meta = volume.metadata
    converted = sul_peak(volume.array, mask, volume.spacing, weight_kg=meta["weight_kg"], height_m=meta["height_m"],
                         sex=meta["sex"])
    direct = suv_peak(sul_volume.array, mask, sul_volume.spacing)
    assert converted.value == pytest.approx(direct.value, rel=1e-5)
    assert converted.value < 4.0  # lean body mass < body weight
