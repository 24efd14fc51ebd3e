"""Every object the digital-patient generator writes is a valid DICOM IOD (dciodvfy: no errors)."""

import pytest

from tests.dicom_validation import dciodvfy_errors

SERIES = ("CT", "PT", "DWI", "VFA", "DCE", "SEG")


@pytest.mark.parametrize("key", SERIES)
def test_first_file_of_each_series_passes_dciodvfy(cohort, key):
    manifest, _ = cohort
    patient = manifest.patients[0]
    folder = manifest.series_folder(patient.patient_id, patient.timepoints[-1].name, key)
    first = sorted(folder.glob("*.dcm"))[0]
    assert dciodvfy_errors(first) == []
