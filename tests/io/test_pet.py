"""PET quantification (imagebio.io.pet): OncoRay SUV DROs, calculate-suv vendor headers, every branch and error."""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from imagebio import units
from imagebio.errors import InvalidDicomValueError, MissingDicomTagError, UnsupportedDataError
from imagebio.io.body_size import bsa_du_bois_m2, ibw_kg, lbm_james_kg, lbm_janmahasatian_kg
from imagebio.io.pet import (
    QUANTITY_UNITS,
    average_count_time_s,
    parse_pet_headers,
    read_pet,
    scan_reference,
    suv_scale_factors,
)

from tests.io.synthetic_dicom import write_series

DATA = Path(__file__).resolve().parents[1] / "data"
VENDOR = DATA / "calculate_suv_vendor_metadata"
DRO_DATA = DATA / "suv_dro_oncoray"

F18_HALF_LIFE_S = 6586.2
DRO_DOSE_BQ = 368.08e6
DRO_WEIGHT_G = 70000.0

# --------------------------------------------------------------------------------------------- helpers
_RADIOPHARM_KEYWORDS = {
    "Radiopharmaceutical",
    "RadionuclideTotalDose",
    "RadionuclideHalfLife",
    "RadiopharmaceuticalStartTime",
    "RadiopharmaceuticalStartDateTime",
}
_PHILIPS_OFFSETS = {"SUVScaleFactor": 0x00, "ActivityConcentrationScaleFactor": 0x09}


def dataset_from_naturalized(meta: dict) -> Dataset:
    """A pydicom Dataset from calculate-suv's naturalized metadata (keywords; radiopharmaceutical facts flat;
    Philips private factors under ``PhilipsPETPrivateGroup``)."""
    ds, item = Dataset(), Dataset()
    for keyword, value in meta.items():
        if keyword == "PhilipsPETPrivateGroup":
            if value:
                block = ds.private_block(0x7053, "Philips PET Private Group", create=True)
                for name, offset in _PHILIPS_OFFSETS.items():
                    if name in value:
                        block.add_new(offset, "DS", str(value[name]).strip())
        elif keyword in _RADIOPHARM_KEYWORDS:
            setattr(item, keyword, value)
        else:
            setattr(ds, keyword, value)
    if len(item):
        ds.RadiopharmaceuticalInformationSequence = [item]
    return ds


_DRO_LIKE = {
    "Units": "BQML",
    "DecayCorrection": "START",
    "CorrectedImage": ["NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN"],
    "PatientWeight": "70.0",
    "PatientSize": "1.75",
    "PatientSex": "O",
    "SeriesDate": "20250101",
    "SeriesTime": "110000",
    "AcquisitionDate": "20250101",
    "AcquisitionTime": "110000",
    "FrameReferenceTime": "150000",
    "ActualFrameDuration": 300000,
    "RadionuclideTotalDose": "368080000",
    "RadionuclideHalfLife": "6586.2",
    "RadiopharmaceuticalStartTime": "100000",
    "RadiopharmaceuticalStartDateTime": "20250101100000",
}


def pet_headers(n: int = 2, per_slice: dict | None = None, **changes) -> list[Dataset]:
    """``n`` headers of a DRO-like PET series (70 kg, 1.75 m, sex O, 368.08 MBq F-18 at 10:00, scan 11:00).

    ``changes`` replace attributes of every slice (None removes one); ``per_slice`` maps keywords to lists of
    per-slice values. ``philips`` / ``ge_scan`` add the private elements.
    """
    meta = dict(_DRO_LIKE)
    philips = changes.pop("philips", None)
    ge_scan = changes.pop("ge_scan", None)
    ge_creator = changes.pop("ge_creator", "GEMS_PETD_01")
    meta.update(changes)
    headers = []
    for i in range(n):
        values = dict(meta)
        for keyword, column in (per_slice or {}).items():
            values[keyword] = column[i]
        ds = dataset_from_naturalized({k: v for k, v in values.items() if v is not None})
        if philips:
            block = ds.private_block(0x7053, "Philips PET Private Group", create=True)
            for name, value in philips.items():
                block.add_new(_PHILIPS_OFFSETS[name], "DS", str(value))
        if ge_scan:
            block = ds.private_block(0x0009, ge_creator, create=True)
            block.add_new(0x0D, "DT", ge_scan)
        headers.append(ds)
    return headers


def decayed(dose_bq: float, seconds: float, half_life_s: float = F18_HALF_LIFE_S) -> float:
    return dose_bq * 2.0 ** (-seconds / half_life_s)


# --------------------------------------------------------------------------------------------- OncoRay DROs
def _dro_expectations() -> dict[str, tuple[float, float, float]]:
    """Expected SUVbw (min, median, max) in the mask per DRO, from the repository's DRO_list.csv."""
    with open(DRO_DATA / "DRO_list.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        row["ID"].removeprefix("DRO_"): tuple(
            float(row[key]) for key in ("SUVmin_expected", "SUVmed_expected", "SUVmax_expected")
        )
        for row in rows
    }


DRO_EXPECTED = _dro_expectations()
# DRO_2_3 cannot meet ±0.005 because of how its values are stored: see test_dro_2_3_cm2ml_within_its_stored_precision
DROS = sorted(name for name in DRO_EXPECTED if name != "2_3")


def _dro_suv_in_mask(root: Path, name: str, quantity: str = "suvbw"):
    folder = root / f"DRO_{name}"
    volume = read_pet(folder / "PT", quantity=quantity)
    mask = np.asarray(nib.load(folder / "mask" / "DRO_mask.nii.gz").dataobj).transpose(2, 1, 0) > 0
    assert mask.shape == volume.shape
    return volume, volume.array[mask]


def test_dro_list_covers_the_shared_series():
    assert len(DRO_EXPECTED) == 14 and len(DROS) == 13


@pytest.mark.parametrize("name", DROS)
def test_dro_suvbw_min_median_max(suv_dro_root, name):
    volume, values = _dro_suv_in_mask(suv_dro_root, name)
    assert volume.unit == units.SUV_BW and volume.modality == "PT"
    expected_min, expected_median, expected_max = DRO_EXPECTED[name]
    # the manual asks for two decimals: ±0.005
    assert values.min() == pytest.approx(expected_min, abs=0.005)
    assert np.median(values) == pytest.approx(expected_median, abs=0.005)
    assert values.max() == pytest.approx(expected_max, abs=0.005)


def test_dro_2_3_cm2ml_within_its_stored_precision(suv_dro_root):
    # DRO_2_3 stores SUVbsa (Units CM2ML) as truncated integers × RescaleSlope 0.01 (5, 26, 105 for
    # 0.0528, 0.264, 1.056), so ±0.005 on SUVbw is out of reach for any implementation: one stored step is
    # 0.01·W/BSA ≈ 0.038 SUVbw. Check instead that each true value lies in [converted, converted + one step),
    # the interval truncation leaves, and that the conversion uses the Du Bois BSA.
    volume, values = _dro_suv_in_mask(suv_dro_root, "2_3")
    step = 0.01 * DRO_WEIGHT_G / (1e4 * bsa_du_bois_m2(70.0, 1.75))
    converted_values = (values.min(), np.median(values), values.max())
    for converted, expected in zip(converted_values, DRO_EXPECTED["2_3"], strict=True):
        assert converted - 1e-5 <= expected < converted + step
    stored = pydicom.dcmread(sorted((suv_dro_root / "DRO_2_3" / "PT").glob("*.dcm"))[10])
    top = float(stored.pixel_array.max()) * float(stored.RescaleSlope)
    assert values.max() == pytest.approx(top * DRO_WEIGHT_G / (1e4 * bsa_du_bois_m2(70.0, 1.75)), rel=1e-6)


def test_dro_0_0_mean_volume_facts(suv_dro_root):
    volume, values = _dro_suv_in_mask(suv_dro_root, "0_0")
    assert values.size == 203202
    assert values.astype(np.float64).mean() == pytest.approx(1.005576, rel=1e-3)
    assert volume.acquisition_time == datetime(2025, 1, 1, 11, 0, 0)
    meta = volume.metadata
    assert meta["dose_bq"] == pytest.approx(DRO_DOSE_BQ)
    assert meta["half_life_s"] == pytest.approx(F18_HALF_LIFE_S)
    assert meta["injection_time"] == datetime(2025, 1, 1, 10, 0, 0)
    assert meta["weight_kg"] == pytest.approx(70.0) and meta["height_m"] == pytest.approx(1.75)
    assert meta["sex"] == "O" and meta["decay_correction"] == "START" and meta["dicom_units"] == "BQML"
    assert meta["uptake_time_s"] == pytest.approx(3600.0)
    assert meta["quantity"] == "suvbw" and len(meta["scale_factors"]) == volume.shape[0]


def test_dro_in_bq_per_ml(suv_dro_root):
    volume, values = _dro_suv_in_mask(suv_dro_root, "0_0", quantity="bqml")
    assert volume.unit == units.BQ_PER_ML
    assert set(np.unique(values).tolist()) == {720.0, 3600.0, 14400.0}
    # CNTS with only the Philips SUV scale factor: Bq/mL comes back through the decayed dose and the weight.
    volume, values = _dro_suv_in_mask(suv_dro_root, "2_4", quantity="bqml")
    assert np.median(values) == pytest.approx(3600.0, rel=1e-3)


def test_dro_mbq_dose_detected(suv_dro_root):
    volume = read_pet(suv_dro_root / "DRO_3_0" / "PT")
    assert volume.metadata["dose_bq"] == pytest.approx(DRO_DOSE_BQ)


def test_dro_other_suv_kinds_follow_body_size(suv_dro_root):
    bw, _ = _dro_suv_in_mask(suv_dro_root, "0_0")
    lbm_g = 1000 * lbm_james_kg(70.0, 1.75, "O")
    for quantity, measure_g in (
        ("suvlbm", lbm_g),
        ("sul", 1000 * lbm_janmahasatian_kg(70.0, 1.75, "O")),
        ("suvibw", 1000 * ibw_kg(1.75, "O")),
        ("suvbsa", 1e4 * bsa_du_bois_m2(70.0, 1.75)),
    ):
        volume = read_pet(suv_dro_root / "DRO_0_0" / "PT", quantity=quantity)
        assert volume.unit == QUANTITY_UNITS[quantity]
        np.testing.assert_allclose(volume.array, bw.array * measure_g / DRO_WEIGHT_G, rtol=1e-5)
    # GML stored as SUVlbm(James 128, male) read back as SUVlbm: no conversion but the stored slope
    volume, values = _dro_suv_in_mask(suv_dro_root, "2_1", quantity="suvlbm")
    np.testing.assert_allclose(np.unique(values), [0.161, 0.807, 3.229], rtol=1e-6)


def test_read_pet_refuses_non_pet(tmp_path):
    write_series(tmp_path, np.zeros((2, 4, 4), dtype=np.int16))
    with pytest.raises(UnsupportedDataError, match="PET"):
        read_pet(tmp_path)


# --------------------------------------------------------------------------------------------- calculate-suv
def _vendor_cases():
    with open(VENDOR / "expected_suvbw_factors.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("case", _vendor_cases(), ids=lambda c: c["case"])
def test_vendor_suvbw_factors(case):
    metadata = json.loads((VENDOR / case["metadata_file"]).read_text())
    factors = suv_scale_factors([dataset_from_naturalized(m) for m in metadata])
    expected = float(case["expected_suvbw_factor_g_per_Bq"])
    assert factors.shape == (len(metadata),)
    np.testing.assert_allclose(factors, expected, rtol=1e-4, atol=0)
    np.testing.assert_allclose(factors, expected, rtol=0, atol=float(case["tolerance_abs"]))


def _synthetic(name: str) -> dict:
    cases = json.loads((VENDOR / "synthetic_unit_cases.json").read_text())["cases"]
    return next(c for c in cases if c["name"] == name)


def test_synthetic_gml_passes_through():
    case = _synthetic("GML units pass through")
    assert suv_scale_factors([dataset_from_naturalized(case["input"])]) == pytest.approx([case["expected"]["suvbw"]])


def test_synthetic_cnts_suv_scale_factor():
    case = _synthetic("CNTS with Philips SUVScaleFactor")
    factors = suv_scale_factors([dataset_from_naturalized(case["input"])])
    assert factors == pytest.approx([case["expected"]["suvbw"]], rel=1e-12)


def test_synthetic_cnts_activity_factor_only():
    # SUVScaleFactor 0 means "not convertible" (Philips conformance statement): the activity factor is used.
    # The case injects 100 Bq, which the "dose below 1e5 is MBq" rule would read as MBq: say Bq explicitly.
    case = _synthetic("CNTS with Philips ActivityConcentrationScaleFactor only (SUVScaleFactor 0)")
    factors = suv_scale_factors([dataset_from_naturalized(case["input"])], dose_unit="Bq")
    assert factors == pytest.approx([case["expected"]["suvbw"]], rel=case["tolerance_rel"])


def test_synthetic_body_size_factors():
    case = _synthetic("BW, BSA, LBM(James), LBM(Janmahasatian) factors")
    headers = [dataset_from_naturalized(case["input"])]
    expected, rel = case["expected"], case["tolerance_rel"]

    def factor(quantity):
        return suv_scale_factors(headers, quantity, dose_unit="Bq")[0]

    assert factor("suvbw") == pytest.approx(expected["suvbw"], rel=rel)
    assert factor("suvbsa") == pytest.approx(expected["suvbsa"], rel=rel)
    assert factor("sul") == pytest.approx(expected["suvlbmJanma"], rel=rel)
    # calculate-suv's suvlbm (627.78) uses the James constant 120 for men; "suvlbm" here is DICOM LBMJAMES128
    # (as the OncoRay DROs), i.e. 61462.7 g / 100 Bq (SOURCE.md value, 0.1 g precision).
    assert factor("suvlbm") == pytest.approx(614.627, abs=0.0005)
    assert factor("bqml") == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------- decay branches
def test_decay_start_uses_scan_start():
    factors = suv_scale_factors(pet_headers())
    np.testing.assert_allclose(factors, DRO_WEIGHT_G / decayed(DRO_DOSE_BQ, 3600.0), rtol=1e-12)


def test_decay_admin_applies_no_decay():
    factors = suv_scale_factors(pet_headers(DecayCorrection="ADMIN"))
    np.testing.assert_allclose(factors, DRO_WEIGHT_G / DRO_DOSE_BQ, rtol=1e-12)


def test_decay_none_decays_to_each_slice_time():
    headers = pet_headers(
        DecayCorrection="NONE",
        CorrectedImage=["NORM", "ATTN", "SCAT"],
        ActualFrameDuration=603000,
        per_slice={"AcquisitionTime": ["110000", "110500"], "FrameReferenceTime": ["300000", "600000"]},
    )
    t_ave = average_count_time_s(603.0, F18_HALF_LIFE_S)
    expected = [DRO_WEIGHT_G / decayed(DRO_DOSE_BQ, 3600.0 + offset + t_ave) for offset in (0.0, 300.0)]
    # datetimes carry microseconds, so T_ave is rounded to 1 µs (relative effect ~1e-10)
    np.testing.assert_allclose(suv_scale_factors(headers), expected, rtol=1e-9)


def test_average_count_time_matches_numerical_mean():
    duration_s, half_life_s = 603.0, F18_HALF_LIFE_S
    decay_constant = math.log(2) / half_life_s
    t = np.linspace(0.0, duration_s, 200001)
    mean_activity = np.trapezoid(np.exp(-decay_constant * t), t) / duration_s
    assert average_count_time_s(duration_s, half_life_s) == pytest.approx(
        -math.log(mean_activity) / decay_constant, rel=1e-9
    )
    assert average_count_time_s(1e-3, half_life_s) == pytest.approx(0.5e-3, rel=1e-6)


# --------------------------------------------------------------------------------------------- scan reference rules
def test_reference_rule_series_time_not_after_acquisition():
    reference = scan_reference(parse_pet_headers(pet_headers(AcquisitionTime="113000")))
    assert reference.datetime == datetime(2025, 1, 1, 11, 0) and reference.rule == "SeriesDateTime"


def test_reference_rule_ge_private_scan_datetime():
    # SeriesTime rewritten after the acquisition (post-processing); GE's (0009,100D) keeps the scan start.
    headers = pet_headers(SeriesTime="120000", AcquisitionTime="113000", ge_scan="20250101110000")
    reference = scan_reference(parse_pet_headers(headers))
    assert reference.datetime == datetime(2025, 1, 1, 11, 0) and "0009,100D" in reference.rule
    np.testing.assert_allclose(suv_scale_factors(headers), DRO_WEIGHT_G / decayed(DRO_DOSE_BQ, 3600.0))


def test_reference_rule_ignores_other_creators_block():
    headers = pet_headers(
        SeriesTime="120000",
        AcquisitionTime="110000",
        FrameReferenceTime="0",
        ge_scan="20250101100000",
        ge_creator="SOMEONE ELSE",
    )
    reference = scan_reference(parse_pet_headers(headers))
    assert reference.rule == "earliest AcquisitionDateTime"


def test_reference_rule_back_computed_from_frame_reference_time():
    # Series time after acquisition, no GE tag: start = AcquisitionDateTime − (FrameReferenceTime − T_ave).
    t_ave = average_count_time_s(300.0, F18_HALF_LIFE_S)
    frame_reference_ms = (600.0 + t_ave) * 1000.0
    headers = pet_headers(SeriesTime="120000", AcquisitionTime="111000", FrameReferenceTime=f"{frame_reference_ms:.4f}")
    reference = scan_reference(parse_pet_headers(headers))
    assert abs((reference.datetime - datetime(2025, 1, 1, 11, 0)).total_seconds()) < 1e-3
    assert reference.rule.startswith("AcquisitionDateTime")


def test_reference_rule_earliest_acquisition_when_no_frame_reference():
    headers = pet_headers(
        SeriesTime="120000", FrameReferenceTime="0", per_slice={"AcquisitionTime": ["110500", "110000"]}
    )
    reference = scan_reference(parse_pet_headers(headers))
    assert reference.datetime == datetime(2025, 1, 1, 11, 0) and reference.rule == "earliest AcquisitionDateTime"


def test_start_time_only_uses_scan_day_and_crosses_midnight():
    headers = pet_headers(
        RadiopharmaceuticalStartDateTime=None,
        RadiopharmaceuticalStartTime="233000",
        SeriesDate="20250102",
        SeriesTime="003000",
        AcquisitionDate="20250102",
        AcquisitionTime="003000",
    )
    np.testing.assert_allclose(suv_scale_factors(headers), DRO_WEIGHT_G / decayed(DRO_DOSE_BQ, 3600.0), rtol=1e-12)


def test_start_datetime_only():
    headers = pet_headers(RadiopharmaceuticalStartTime=None)
    np.testing.assert_allclose(suv_scale_factors(headers), DRO_WEIGHT_G / decayed(DRO_DOSE_BQ, 3600.0), rtol=1e-12)


# --------------------------------------------------------------------------------------------- units branches
def test_units_bqml_to_bqml_is_identity():
    np.testing.assert_array_equal(suv_scale_factors(pet_headers(), "bqml"), [1.0, 1.0])


def test_units_cnts_philips_factors():
    suv_only = pet_headers(Units="CNTS", philips={"SUVScaleFactor": "0.0005"})
    np.testing.assert_allclose(suv_scale_factors(suv_only), 0.0005)
    activity_only = pet_headers(Units="CNTS", philips={"ActivityConcentrationScaleFactor": "0.5"})
    np.testing.assert_allclose(
        suv_scale_factors(activity_only), 0.5 * DRO_WEIGHT_G / decayed(DRO_DOSE_BQ, 3600.0), rtol=1e-12
    )
    both = pet_headers(Units="CNTS", philips={"SUVScaleFactor": "0.0005", "ActivityConcentrationScaleFactor": "0.5"})
    np.testing.assert_allclose(suv_scale_factors(both), 0.0005)  # SUV factor preferred for SUV
    np.testing.assert_allclose(suv_scale_factors(both, "bqml"), 0.5)  # activity factor preferred for Bq/mL


@pytest.mark.parametrize(
    ("suv_type", "measure_g"),
    [
        (None, DRO_WEIGHT_G),
        ("BW", DRO_WEIGHT_G),
        ("LBMJAMES128", 1000 * lbm_james_kg(70.0, 1.75, "O")),
        ("LBM", 1000 * lbm_james_kg(70.0, 1.75, "O", male_constant=120.0)),
        ("LBMJANMA", 1000 * lbm_janmahasatian_kg(70.0, 1.75, "O")),
        ("IBW", 1000 * ibw_kg(1.75, "O")),
    ],
)
def test_units_gml_converted_through_body_size(suv_type, measure_g):
    headers = pet_headers(Units="GML", SUVType=suv_type)
    np.testing.assert_allclose(suv_scale_factors(headers), DRO_WEIGHT_G / measure_g, rtol=1e-12)
    # and back to Bq/mL through the decayed dose
    np.testing.assert_allclose(suv_scale_factors(headers, "bqml"), decayed(DRO_DOSE_BQ, 3600.0) / measure_g, rtol=1e-12)


def test_units_cm2ml_is_suvbsa():
    bsa_cm2 = 1e4 * bsa_du_bois_m2(70.0, 1.75)
    headers = pet_headers(Units="CM2ML", SUVType="BSA")
    np.testing.assert_allclose(suv_scale_factors(headers), DRO_WEIGHT_G / bsa_cm2, rtol=1e-12)
    np.testing.assert_allclose(suv_scale_factors(headers, "suvbsa"), 1.0)


def test_weight_in_grams_and_height_in_cm_are_recognised():
    headers = pet_headers(PatientWeight="70000", PatientSize="175")
    info = parse_pet_headers(headers)
    assert info.weight_kg == pytest.approx(70.0) and info.height_m == pytest.approx(1.75)


def test_dose_unit_can_be_forced():
    headers = pet_headers(DecayCorrection="ADMIN", RadionuclideTotalDose="368.08")
    np.testing.assert_allclose(suv_scale_factors(headers), DRO_WEIGHT_G / DRO_DOSE_BQ, rtol=1e-12)
    np.testing.assert_allclose(suv_scale_factors(headers, dose_unit="Bq"), DRO_WEIGHT_G / 368.08, rtol=1e-12)


# --------------------------------------------------------------------------------------------- errors
def _raises(error, keyword, headers, quantity="suvbw", **kwargs):
    with pytest.raises(error) as caught:
        suv_scale_factors(headers, quantity, **kwargs)
    assert keyword in str(caught.value)
    assert caught.value.keyword == keyword
    return caught.value


def test_error_weight_missing_or_zero():
    _raises(MissingDicomTagError, "PatientWeight", pet_headers(PatientWeight=None))
    _raises(InvalidDicomValueError, "PatientWeight", pet_headers(PatientWeight="0"))
    # Bq/mL does not need the weight
    np.testing.assert_array_equal(suv_scale_factors(pet_headers(PatientWeight=None), "bqml"), 1.0)


def test_error_sex_absent_or_unknown_for_ibw_and_lbm():
    _raises(MissingDicomTagError, "PatientSex", pet_headers(Units="GML", SUVType="IBW", PatientSex=None))
    _raises(InvalidDicomValueError, "PatientSex", pet_headers(Units="GML", SUVType="IBW", PatientSex="X"))
    _raises(MissingDicomTagError, "PatientSex", pet_headers(PatientSex=None), "suvlbm")


def test_error_height_absent_or_zero():
    _raises(MissingDicomTagError, "PatientSize", pet_headers(Units="GML", SUVType="IBW", PatientSize=None))
    _raises(InvalidDicomValueError, "PatientSize", pet_headers(Units="GML", SUVType="IBW", PatientSize="0"))
    _raises(MissingDicomTagError, "PatientSize", pet_headers(PatientSize=None), "sul")
    _raises(MissingDicomTagError, "PatientSize", pet_headers(PatientSize=None), "suvbsa")


def test_error_cnts_without_philips_factors():
    error = _raises(MissingDicomTagError, "PhilipsSUVScaleFactor", pet_headers(Units="CNTS"))
    assert "(7053,1000)" in str(error) and "(7053,1009)" in str(error)
    zero = pet_headers(Units="CNTS", philips={"SUVScaleFactor": "0", "ActivityConcentrationScaleFactor": "0"})
    _raises(MissingDicomTagError, "PhilipsSUVScaleFactor", zero)


@pytest.mark.parametrize("unit", ["PROPCNTS", "CPS", "1CM"])
def test_error_unconvertible_units(unit):
    _raises(InvalidDicomValueError, "Units", pet_headers(Units=unit))


def test_error_units_absent_or_bad_suv_type():
    _raises(MissingDicomTagError, "Units", pet_headers(Units=None))
    _raises(InvalidDicomValueError, "SUVType", pet_headers(Units="GML", SUVType="XYZ"))
    _raises(InvalidDicomValueError, "SUVType", pet_headers(Units="CM2ML", SUVType="BW"))


def test_error_dose_absent_or_negative():
    _raises(MissingDicomTagError, "RadionuclideTotalDose", pet_headers(RadionuclideTotalDose=None))
    _raises(InvalidDicomValueError, "RadionuclideTotalDose", pet_headers(RadionuclideTotalDose="-368080000"))


def test_error_half_life_absent():
    _raises(MissingDicomTagError, "RadionuclideHalfLife", pet_headers(RadionuclideHalfLife=None))


def test_error_no_injection_time():
    error = _raises(
        MissingDicomTagError,
        "RadiopharmaceuticalStartDateTime",
        pet_headers(RadiopharmaceuticalStartDateTime=None, RadiopharmaceuticalStartTime=None),
    )
    assert "RadiopharmaceuticalStartTime" in str(error)


def test_error_actual_frame_duration_absent_when_needed():
    back_computed = pet_headers(SeriesTime="120000", AcquisitionTime="111000", ActualFrameDuration=None)
    _raises(MissingDicomTagError, "ActualFrameDuration", back_computed)
    no_decay = pet_headers(DecayCorrection="NONE", CorrectedImage=["ATTN"], ActualFrameDuration=None)
    _raises(MissingDicomTagError, "ActualFrameDuration", no_decay)
    # not needed when the series time is the scan start
    assert suv_scale_factors(pet_headers(ActualFrameDuration=None)).shape == (2,)


def test_error_long_uptake_without_start_datetime():
    zr89 = pet_headers(
        RadionuclideHalfLife="282240", RadiopharmaceuticalStartDateTime=None, RadiopharmaceuticalStartTime="100000"
    )
    _raises(MissingDicomTagError, "RadiopharmaceuticalStartDateTime", zr89)
    # with the date the 3-day uptake is fine
    dated = pet_headers(RadionuclideHalfLife="282240", RadiopharmaceuticalStartDateTime="20241229110000")
    np.testing.assert_allclose(
        suv_scale_factors(dated), DRO_WEIGHT_G / decayed(DRO_DOSE_BQ, 3 * 86400.0, 282240.0), rtol=1e-12
    )


def test_error_anonymized_or_later_start_datetime():
    _raises(
        InvalidDicomValueError,
        "RadiopharmaceuticalStartDateTime",
        pet_headers(RadiopharmaceuticalStartDateTime="19000101100000"),
    )
    _raises(
        InvalidDicomValueError,
        "RadiopharmaceuticalStartDateTime",
        pet_headers(RadiopharmaceuticalStartDateTime="20250101120000"),
    )


def test_error_decay_correction_absent_or_invalid():
    _raises(MissingDicomTagError, "DecayCorrection", pet_headers(DecayCorrection=None))
    _raises(InvalidDicomValueError, "DecayCorrection", pet_headers(DecayCorrection="LATER"))


def test_error_corrected_image_inconsistent():
    _raises(InvalidDicomValueError, "CorrectedImage", pet_headers(CorrectedImage=["NORM", "DECY"]))
    _raises(InvalidDicomValueError, "CorrectedImage", pet_headers(CorrectedImage=["NORM", "ATTN"]))
    _raises(InvalidDicomValueError, "CorrectedImage", pet_headers(DecayCorrection="NONE"))


def test_error_series_level_value_differs_between_slices():
    # the same number written two ways is the same value
    assert suv_scale_factors(pet_headers(per_slice={"PatientWeight": ["70", "70.0"]})).shape == (2,)
    _raises(InvalidDicomValueError, "PatientWeight", pet_headers(per_slice={"PatientWeight": ["70", "71"]}))
    _raises(
        InvalidDicomValueError,
        "RadionuclideTotalDose",
        pet_headers(per_slice={"RadionuclideTotalDose": ["368080000", "368000000"]}),
    )


def test_error_unknown_quantity():
    with pytest.raises(ValueError, match="quantity"):
        suv_scale_factors(pet_headers(), "suvxyz")


def test_error_radiopharmaceutical_sequence_absent():
    headers = pet_headers(
        RadionuclideTotalDose=None,
        RadionuclideHalfLife=None,
        RadiopharmaceuticalStartTime=None,
        RadiopharmaceuticalStartDateTime=None,
    )
    assert all("RadiopharmaceuticalInformationSequence" not in ds for ds in headers)
    error = _raises(MissingDicomTagError, "RadiopharmaceuticalInformationSequence", headers)
    assert "(0054,0016)" in str(error) and "injected dose" in str(error)
    _raises(MissingDicomTagError, "RadiopharmaceuticalInformationSequence", headers, "sul")
    # Bq/mL from BQML needs no dose, so no sequence either
    np.testing.assert_array_equal(suv_scale_factors(headers, "bqml"), 1.0)
