"""Bad PET headers reach the PET room as typed errors naming the DICOM attribute (through imagebio.io.pet).

Each case rewrites the OncoRay DRO_0_0 series (shared SOURCE.md section 1) with one attribute broken.
"""

from __future__ import annotations

import pydicom
import pytest

from imagebio.errors import ImagebioError, InvalidDicomValueError, MissingDicomTagError
from imagebio.io.pet import read_pet


def _broken_series(suv_dro_root, tmp_path, change):
    folder = tmp_path / "PT"
    folder.mkdir()
    for path in sorted((suv_dro_root / "DRO_0_0" / "PT").glob("*.dcm")):
        ds = pydicom.dcmread(path)
        change(ds)
        ds.save_as(folder / path.name)
    return folder


def test_missing_radiopharmaceutical_information_sequence(suv_dro_root, tmp_path):
    folder = _broken_series(suv_dro_root, tmp_path, lambda ds: delattr(ds, "RadiopharmaceuticalInformationSequence"))
    with pytest.raises(MissingDicomTagError) as caught:
        read_pet(folder)
    assert caught.value.keyword == "RadiopharmaceuticalInformationSequence"
    assert "(0054,0016)" in str(caught.value)
    assert caught.value.tag in str(caught.value) and str(folder) in str(caught.value)
    # Bq/mL needs no radiopharmaceutical information
    assert read_pet(folder, quantity="bqml").array.max() == pytest.approx(14400.0)


def test_zero_weight(suv_dro_root, tmp_path):
    folder = _broken_series(suv_dro_root, tmp_path, lambda ds: setattr(ds, "PatientWeight", "0"))
    with pytest.raises(InvalidDicomValueError) as caught:
        read_pet(folder)
    assert caught.value.keyword == "PatientWeight" and "(0010,1030)" in str(caught.value)


def test_injection_after_scan(suv_dro_root, tmp_path):
    def late(ds):
        item = ds.RadiopharmaceuticalInformationSequence[0]
        item.RadiopharmaceuticalStartDateTime = "20250101120000"
        item.RadiopharmaceuticalStartTime = "120000"

    folder = _broken_series(suv_dro_root, tmp_path, late)
    with pytest.raises(InvalidDicomValueError) as caught:
        read_pet(folder)
    assert caught.value.keyword.startswith("RadiopharmaceuticalStart")
    assert "11:00:00" in str(caught.value)
    assert isinstance(caught.value, ImagebioError)
