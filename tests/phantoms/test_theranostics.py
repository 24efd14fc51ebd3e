"""Digital theranostics patient: DICOM content and the internal consistency of its ground truth."""

from __future__ import annotations

import math

import numpy as np
import pydicom
import pytest
from scipy.integrate import quad

from imagebio.phantoms.theranostics import (
    BQ_PER_COUNT,
    REGIONS,
    THERANOSTICS_GRID,
    generate_theranostics_patient,
    true_tia_map_bq_s,
)


@pytest.fixture(scope="module")
def patient(tmp_path_factory):
    return generate_theranostics_patient(tmp_path_factory.mktemp("thera"), seed=0, noise=False)


def test_nm_files_are_multiframe_counts_with_administration(patient):
    from imagebio.io.dicom import read_dicom_series

    truth = patient.truth()
    assert len(patient.nm_folders) == 5
    for folder, t_h in zip(patient.nm_folders, truth["scan_times_h"]):
        ds = pydicom.dcmread(folder / "NM.dcm")
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.20" and int(ds.NumberOfFrames) == THERANOSTICS_GRID.shape_zyx[0]
        rad = ds.RadiopharmaceuticalInformationSequence[0]
        assert rad.RadionuclideCodeSequence[0].CodeMeaning == "^177^Lutetium"
        assert float(rad.RadionuclideTotalDose) == truth["administered_activity_bq"]
        volume = read_dicom_series(folder)
        assert volume.unit == "counts" and volume.spacing == pytest.approx((4.8, 4.8, 4.8))
        assert (volume.acquisition_time.timestamp() - 1) > 0
    # noise-free first scan: total counts × calibration = total activity at 4 h
    volume = read_dicom_series(patient.nm_folders[0])
    t = 4.0
    expected = sum(r["a_mbq"] * 1e6 * (math.exp(-math.log(2) / r["t_washout_h"] * t)
                                       - math.exp(-math.log(2) / r["t_uptake_h"] * t)) for r in REGIONS.values())
    expected += 800e6 * math.exp(-math.log(2) / 15.0 * t)
    # counts are stored as integers: at most half a count per voxel is lost or gained (0.24 % here, since each
    # uniform region rounds the same way)
    n_voxels = int(np.prod(THERANOSTICS_GRID.shape_zyx))
    assert abs(volume.array.astype(float).sum() * BQ_PER_COUNT - expected) <= 0.5 * n_voxels * BQ_PER_COUNT


def test_truth_tia_is_the_integral_of_the_kinetics(patient):
    regions = patient.truth()["regions"]
    for name, region in REGIONS.items():
        lw, lu = math.log(2) / region["t_washout_h"], math.log(2) / region["t_uptake_h"]
        integral_h, _ = quad(lambda t: math.exp(-lw * t) - math.exp(-lu * t), 0, np.inf)
        assert regions[name]["tia_bq_s"] == pytest.approx(region["a_mbq"] * 1e6 * integral_h * 3600, rel=1e-8)


def test_truth_doses_follow_the_stated_methods(patient):
    from imagebio.dosimetry.svalues import sphere_s_value

    regions = patient.truth()["regions"]
    for name, entry in regions.items():
        if entry["kind"] == "lesion":
            assert entry["mean_dose_gy"] == pytest.approx(entry["tia_bq_s"] * float(sphere_s_value(entry["mass_g"])))
        else:
            assert entry["mean_dose_gy"] == entry["voxel_kernel_mean_dose_gy"]
    tia = true_tia_map_bq_s()
    assert tia.sum() == pytest.approx(sum(r["tia_bq_s"] for r in regions.values()) + 800e6 * 15 * 3600 / math.log(2))
