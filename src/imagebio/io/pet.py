"""PET quantification from DICOM headers: activity concentration and SUV scale factors per slice.

The logic follows the QIBA/UW SUV calculation flowchart (QIBA FDG-PET/CT profile, "Vendor-neutral pseudo-code
for SUV calculation", D. Clunie / UW PET-CT DRO) and the OncoRay SUV manual (Vácha M, Hofheinz F, Braune A,
Löck S, Zwanenburg A. "Comprehensive Manual for SUV Computation and Digital Reference Objects for its
Verification", v1), which extends it with Units GML/CM2ML/CNTS, DecayCorrection ADMIN/NONE and the rules below.

For every slice ``i`` the factor ``f_i`` satisfies
``value_in_quantity = (stored·RescaleSlope + RescaleIntercept)·f_i``.

* SUVbw = C[Bq/mL] · W[g] / D(t_ref), with ``D(t_ref) = D_inj · 2^(−(t_ref − t_inj)/T½)``.
  Other SUV kinds replace W by another body-size measure (:mod:`imagebio.io.body_size`): LBM James-128 (g),
  LBM Janmahasatian (g, PERCIST "SUL"), ideal body weight (g) or Du Bois body surface area (cm²).
* Decay reference ``t_ref`` by ``DecayCorrection`` (0054,1102): ``ADMIN`` → injection (no decay of the dose);
  ``START`` → the scan reference time of the series (see :func:`scan_reference`); ``NONE`` → each slice's own
  time ``AcquisitionDateTime + T_ave`` with ``T_ave = (1/λ)·ln(λT/(1 − e^(−λT)))``, T = ActualFrameDuration
  (manual, "Decay correction = NONE").
* Units (0054,1001): ``BQML``; ``CNTS`` with the Philips private SUV Scale Factor (7053,1000) (→ SUVbw) or
  Activity Concentration Scale Factor (7053,1009) (→ Bq/mL); ``GML`` with SUV Type (0054,1006) BW (default),
  LBM (James with the 120 constant, "Morgan"), LBMJAMES128, LBMJANMA or IBW; ``CM2ML`` (SUV Type BSA). Values
  already normalised are converted to the asked quantity through the ratio of body-size measures.
* Heuristics of the manual: RadionuclideTotalDose below 1e5 is in MBq (real injections are ≥ 0.1 MBq, i.e.
  ≥ 1e5 Bq); PatientWeight above 1000 is in g. Likewise (our addition) PatientSize above 3 is taken as cm.

Missing or unusable attributes raise :class:`~imagebio.errors.MissingDicomTagError` or
:class:`~imagebio.errors.InvalidDicomValueError` naming the attribute, only when the requested quantity needs it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.valuerep import DA, DT, TM

from imagebio import units
from imagebio.errors import (
    ImagebioError,
    InvalidDicomValueError,
    InvalidParameterError,
    MissingDicomTagError,
    UnsupportedDataError,
)
from imagebio.io.body_size import SEXES, bsa_du_bois_m2, ibw_kg, lbm_james_kg, lbm_janmahasatian_kg
from imagebio.volume import Volume

__all__ = [
    "QUANTITY_UNITS",
    "QUANTITIES",
    "PetHeaderInfo",
    "ScanReference",
    "parse_pet_headers",
    "scan_reference",
    "average_count_time_s",
    "injection_datetime",
    "decay_reference_datetimes",
    "decayed_dose_bq",
    "body_size_measure",
    "suv_scale_factors",
    "pet_scale_factors",
    "read_pet",
]

#: Unit string of each quantity :func:`suv_scale_factors` and :func:`read_pet` can produce.
QUANTITY_UNITS: Mapping[str, str] = MappingProxyType(
    {
        "bqml": units.BQ_PER_ML,
        "suvbw": units.SUV_BW,
        "suvlbm": units.SUV_LBM,
        "sul": units.SUL,
        "suvbsa": units.SUV_BSA,
        "suvibw": units.SUV_IBW,
    }
)
QUANTITIES = tuple(QUANTITY_UNITS)

# body-size normaliser of each SUV quantity, named as DICOM SUV Type (0054,1006) names it
_QUANTITY_NORMALISER = {
    "suvbw": "BW",
    "suvlbm": "LBMJAMES128",
    "sul": "LBMJANMA",
    "suvbsa": "BSA",
    "suvibw": "IBW",
}
_GML_SUV_TYPES = ("BW", "LBM", "LBMJAMES128", "LBMJANMA", "IBW")

#: RadionuclideTotalDose values below this are taken as MBq (OncoRay manual: dose histograms peak at 4e2 and 4e8).
MBQ_DOSE_THRESHOLD = 1e5
#: Above this half-life (s) an uptake beyond 24 h is plausible, so a start time without a date is ambiguous.
LONG_HALF_LIFE_S = 12 * 3600.0
#: An uptake longer than this many half-lives (activity left < 1e-6) means a wrong or anonymized date.
MAX_UPTAKE_HALF_LIVES = 20.0
#: PatientWeight above this is taken as grams (manual recommendation).
GRAMS_WEIGHT_THRESHOLD = 1000.0
#: PatientSize above this (m) is taken as cm.
CM_HEIGHT_THRESHOLD = 3.0

_PHILIPS_CREATOR = "Philips PET Private Group"
_GE_PET_CREATOR = "GEMS_PETD_01"

# attributes that describe the patient or the injection and must not change between slices of one series
_SERIES_LEVEL = ("Units", "SUVType", "DecayCorrection", "PatientWeight", "PatientSize", "PatientSex")
_RADIOPHARM_LEVEL = (
    "RadionuclideTotalDose",
    "RadionuclideHalfLife",
    "RadiopharmaceuticalStartTime",
    "RadiopharmaceuticalStartDateTime",
)


# --------------------------------------------------------------------------------------------- value parsing
def _text(value: Any) -> str | None:
    """The DICOM value as a stripped string, or None when absent/empty."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    value = getattr(value, "original_string", None) or value
    text = str(value).replace("\x00", "").strip()
    return text or None


def _number(value: Any, keyword: str, path: str | None, tag: str | None = None) -> float | None:
    text = _text(value)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        raise InvalidDicomValueError(keyword, text, "a number", path=path, tag=tag) from None
    if not math.isfinite(number):
        raise InvalidDicomValueError(keyword, text, "a finite number", path=path, tag=tag)
    return number


def _parse_date(value: Any, keyword: str, path: str | None) -> date | None:
    text = _text(value)
    if text is None:
        return None
    try:
        parsed = DA(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidDicomValueError(keyword, text, "a DICOM date YYYYMMDD", path=path)
    return date(parsed.year, parsed.month, parsed.day)


def _parse_time(value: Any, keyword: str, path: str | None) -> time | None:
    text = _text(value)
    if text is None:
        return None
    try:
        parsed = TM(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidDicomValueError(keyword, text, "a DICOM time HHMMSS.FFFFFF", path=path)
    return time(parsed.hour, parsed.minute, parsed.second, parsed.microsecond)


def _parse_datetime(value: Any, keyword: str, path: str | None, tag: str | None = None) -> datetime | None:
    text = _text(value)
    if text is None:
        return None
    try:
        parsed = DT(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidDicomValueError(keyword, text, "a DICOM date-time YYYYMMDDHHMMSS.FFFFFF", path=path, tag=tag)
    # Time-zone offsets are dropped: every time of one PET study is taken in the same local clock.
    return datetime(
        parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute, parsed.second, parsed.microsecond
    )


def _private_value(ds: Dataset, group: int, creator: str, offset: int) -> Any:
    """Value of a private element, located through its private creator; block 0x10 when no creator is present."""
    creators = {
        tag.element: (_text(ds[tag].value) or "").upper()
        for tag in ds.keys()
        if tag.group == group and 0x10 <= tag.element <= 0xFF
    }
    blocks = [block for block, name in creators.items() if name == creator.upper()]
    if not blocks:
        if creators.get(0x10):
            return None  # block 0x10 belongs to another creator: the element there means something else
        blocks = [0x10]
    element = ds.get((group, (blocks[0] << 8) | offset))
    return None if element is None else element.value


def _radiopharm_item(ds: Dataset) -> Dataset | None:
    sequence = ds.get("RadiopharmaceuticalInformationSequence")
    if not sequence:
        return None
    return sequence[0]


# --------------------------------------------------------------------------------------------- header facts
@dataclasses.dataclass(frozen=True)
class PetHeaderInfo:
    """Facts read from the headers of one PET series (slice order = the Volume's z order).

    Fields are ``None`` when the attribute is absent; they are validated only when a quantity needs them.

    Attributes
    ----------
    source : str or None
        File or folder named in error messages.
    n_slices : int
    units : str or None
        DICOM Units (0054,1001), upper case (BQML, CNTS, GML, CM2ML, ...).
    suv_type : str or None
        DICOM SUV Type (0054,1006).
    decay_correction : str or None
        DICOM DecayCorrection (0054,1102): START, ADMIN or NONE.
    corrected_image : tuple of str or None
        DICOM CorrectedImage (0028,0051).
    manufacturer : str or None
    weight_kg : float or None
        PatientWeight in kg (values above 1000 are taken as grams and converted).
    height_m : float or None
        PatientSize in m (values above 3 are taken as cm and converted).
    sex : str or None
        PatientSex, upper case.
    dose_bq : float or None
        RadionuclideTotalDose in Bq (values below 1e5 are taken as MBq unless ``dose_unit`` says otherwise).
    dose_stored : float or None
        RadionuclideTotalDose as stored.
    half_life_s : float or None
        RadionuclideHalfLife in s.
    radiopharmaceutical : str or None
    start_datetime : datetime or None
        RadiopharmaceuticalStartDateTime (0018,1078).
    start_time : datetime.time or None
        RadiopharmaceuticalStartTime (0018,1072).
    series_datetime : datetime or None
        SeriesDate + SeriesTime.
    ge_scan_datetime : datetime or None
        GE private PET scan DateTime (0009,100D).
    acquisition_datetimes : tuple of (datetime or None)
        Per slice: AcquisitionDateTime, else AcquisitionDate (or SeriesDate) + AcquisitionTime.
    frame_reference_times_ms : tuple of (float or None)
        Per slice FrameReferenceTime (0054,1300), ms.
    frame_durations_ms : tuple of (float or None)
        Per slice ActualFrameDuration (0018,1242), ms.
    philips_suv_scale_factors, philips_activity_scale_factors : tuple of (float or None)
        Per slice Philips (7053,1000) and (7053,1009); 0 is read as absent (Philips: "cannot be converted").
    has_radiopharmaceutical_sequence : bool
        Whether RadiopharmaceuticalInformationSequence (0054,0016) holds an item; when it does not, a quantity
        that needs the injected dose names the sequence in its error rather than one attribute inside it.
    """

    source: str | None
    n_slices: int
    units: str | None
    suv_type: str | None
    decay_correction: str | None
    corrected_image: tuple[str, ...] | None
    manufacturer: str | None
    weight_kg: float | None
    height_m: float | None
    sex: str | None
    dose_bq: float | None
    dose_stored: float | None
    half_life_s: float | None
    radiopharmaceutical: str | None
    start_datetime: datetime | None
    start_time: time | None
    series_datetime: datetime | None
    ge_scan_datetime: datetime | None
    acquisition_datetimes: tuple[datetime | None, ...]
    frame_reference_times_ms: tuple[float | None, ...]
    frame_durations_ms: tuple[float | None, ...]
    philips_suv_scale_factors: tuple[float | None, ...]
    philips_activity_scale_factors: tuple[float | None, ...]
    has_radiopharmaceutical_sequence: bool = True

    @classmethod
    def from_headers(
        cls, headers: Sequence[Dataset], source: str | Path | None = None, dose_unit: str = "auto"
    ) -> PetHeaderInfo:
        """Parse the headers of one series; see :func:`parse_pet_headers`."""
        return parse_pet_headers(headers, source=source, dose_unit=dose_unit)

    def summary(self) -> dict[str, Any]:
        """Series-level facts for ``Volume.metadata`` (plain values; datetimes resolved when possible)."""
        facts: dict[str, Any] = {
            "dicom_units": self.units,
            "suv_type": self.suv_type,
            "decay_correction": self.decay_correction,
            "dose_bq": self.dose_bq,
            "half_life_s": self.half_life_s,
            "weight_kg": self.weight_kg,
            "height_m": self.height_m,
            "sex": self.sex,
            "radiopharmaceutical": self.radiopharmaceutical,
            "manufacturer": self.manufacturer,
        }
        try:
            reference = scan_reference(self)
            facts["scan_reference_time"] = reference.datetime
            facts["scan_reference_rule"] = reference.rule
        except ImagebioError:
            reference = None
        try:
            injected = injection_datetime(self, reference.datetime if reference else None)
        except ImagebioError:
            injected = self.start_datetime
        facts["injection_time"] = injected
        if injected is not None and reference is not None:
            facts["uptake_time_s"] = (reference.datetime - injected).total_seconds()
        return facts


def parse_pet_headers(
    headers: Sequence[Dataset], source: str | Path | None = None, dose_unit: str = "auto"
) -> PetHeaderInfo:
    """Read the SUV-relevant attributes of one PET series.

    Parameters
    ----------
    headers : sequence of pydicom.Dataset
        The series' headers (pixel data not needed), in the order of the Volume's z axis.
    source : str or Path, optional
        File or folder named in error messages (default: the first header's filename, if any).
    dose_unit : {"auto", "Bq", "MBq"}
        Unit of RadionuclideTotalDose. ``"auto"`` (default) takes values below ``MBQ_DOSE_THRESHOLD`` (1e5) as
        MBq, as the OncoRay manual recommends; ``"Bq"`` follows DICOM strictly.

    Raises
    ------
    InvalidParameterError
        No header, or an unknown ``dose_unit``.
    InvalidDicomValueError
        A series-level attribute (dose, weight, units, ...) differs between slices, or a value cannot be parsed.
    """
    if len(headers) == 0:
        raise InvalidParameterError("headers", "[]", "the headers of at least one PET slice")
    if dose_unit not in ("auto", "Bq", "MBq"):
        raise InvalidParameterError("dose_unit", dose_unit, "'auto', 'Bq' or 'MBq'")
    first = headers[0]
    if source is None:
        source = getattr(first, "filename", None) or None
    path = None if source is None else str(source)
    _check_same_in_all_slices(headers, path)

    weight_kg = _number(first.get("PatientWeight"), "PatientWeight", path)
    if weight_kg is not None and weight_kg > GRAMS_WEIGHT_THRESHOLD:
        weight_kg /= 1000.0
    height_m = _number(first.get("PatientSize"), "PatientSize", path)
    if height_m is not None and height_m > CM_HEIGHT_THRESHOLD:
        height_m /= 100.0

    item = _radiopharm_item(first)
    dose_stored = half_life_s = None
    start_datetime = start_time = None
    radiopharmaceutical = None
    if item is not None:
        dose_stored = _number(item.get("RadionuclideTotalDose"), "RadionuclideTotalDose", path)
        half_life_s = _number(item.get("RadionuclideHalfLife"), "RadionuclideHalfLife", path)
        start_datetime = _parse_datetime(
            item.get("RadiopharmaceuticalStartDateTime"), "RadiopharmaceuticalStartDateTime", path
        )
        start_time = _parse_time(item.get("RadiopharmaceuticalStartTime"), "RadiopharmaceuticalStartTime", path)
        radiopharmaceutical = _text(item.get("Radiopharmaceutical"))
    dose_bq = dose_stored
    if dose_stored is not None:
        looks_like_mbq = 0 < dose_stored < MBQ_DOSE_THRESHOLD
        if dose_unit == "MBq" or (dose_unit == "auto" and looks_like_mbq):
            dose_bq = dose_stored * 1e6

    series_date = _parse_date(first.get("SeriesDate"), "SeriesDate", path)
    series_time = _parse_time(first.get("SeriesTime"), "SeriesTime", path)
    series_datetime = datetime.combine(series_date, series_time) if series_date and series_time else None

    corrected = first.get("CorrectedImage")
    corrected_image = None
    if corrected not in (None, ""):
        values = [corrected] if isinstance(corrected, str | bytes) else list(corrected)
        corrected_image = tuple((_text(v) or "").upper() for v in values)

    acquisition, frame_reference, frame_duration, philips_suv, philips_activity = [], [], [], [], []
    for ds in headers:
        acquisition.append(_acquisition_datetime(ds, series_date, path))
        frame_reference.append(_number(ds.get("FrameReferenceTime"), "FrameReferenceTime", path))
        frame_duration.append(_number(ds.get("ActualFrameDuration"), "ActualFrameDuration", path))
        suv_factor = _number(
            _private_value(ds, 0x7053, _PHILIPS_CREATOR, 0x00), "PhilipsSUVScaleFactor", path, "(7053,1000)"
        )
        activity_factor = _number(
            _private_value(ds, 0x7053, _PHILIPS_CREATOR, 0x09),
            "PhilipsActivityConcentrationScaleFactor",
            path,
            "(7053,1009)",
        )
        philips_suv.append(suv_factor if suv_factor else None)
        philips_activity.append(activity_factor if activity_factor else None)

    ge_scan = _parse_datetime(
        _private_value(first, 0x0009, _GE_PET_CREATOR, 0x0D), "GEPETScanDateTime", path, "(0009,100D)"
    )

    def upper(keyword: str) -> str | None:
        text = _text(first.get(keyword))
        return None if text is None else text.upper()

    return PetHeaderInfo(
        source=path,
        n_slices=len(headers),
        units=upper("Units"),
        suv_type=upper("SUVType"),
        decay_correction=upper("DecayCorrection"),
        corrected_image=corrected_image,
        manufacturer=_text(first.get("Manufacturer")),
        weight_kg=weight_kg,
        height_m=height_m,
        sex=upper("PatientSex"),
        dose_bq=dose_bq,
        dose_stored=dose_stored,
        half_life_s=half_life_s,
        radiopharmaceutical=radiopharmaceutical,
        start_datetime=start_datetime,
        start_time=start_time,
        series_datetime=series_datetime,
        ge_scan_datetime=ge_scan,
        acquisition_datetimes=tuple(acquisition),
        frame_reference_times_ms=tuple(frame_reference),
        frame_durations_ms=tuple(frame_duration),
        philips_suv_scale_factors=tuple(philips_suv),
        philips_activity_scale_factors=tuple(philips_activity),
        has_radiopharmaceutical_sequence=item is not None,
    )


def _acquisition_datetime(ds: Dataset, series_date: date | None, path: str | None) -> datetime | None:
    combined = _parse_datetime(ds.get("AcquisitionDateTime"), "AcquisitionDateTime", path)
    if combined is not None:
        return combined
    acquired = _parse_time(ds.get("AcquisitionTime"), "AcquisitionTime", path)
    if acquired is None:
        return None
    day = _parse_date(ds.get("AcquisitionDate"), "AcquisitionDate", path) or series_date
    return None if day is None else datetime.combine(day, acquired)


def _comparable(text: str | None) -> str | None:
    """Numbers compare by value ("70" and "70.0" agree), everything else as text."""
    if text is None:
        return None
    try:
        return repr(float(text))
    except ValueError:
        return text


def _check_same_in_all_slices(headers: Sequence[Dataset], path: str | None) -> None:
    if len(headers) < 2:
        return

    def values_of(keyword: str, in_radiopharm: bool) -> set[str | None]:
        found = set()
        for ds in headers:
            holder = _radiopharm_item(ds) if in_radiopharm else ds
            found.add(None if holder is None else _comparable(_text(holder.get(keyword))))
        return found

    for keywords, in_radiopharm in ((_SERIES_LEVEL, False), (_RADIOPHARM_LEVEL, True)):
        for keyword in keywords:
            found = values_of(keyword, in_radiopharm)
            if len(found) > 1:
                shown = sorted("<absent>" if v is None else v for v in found)
                raise InvalidDicomValueError(keyword, shown, "one value for every slice of the series", path=path)


# --------------------------------------------------------------------------------------------- required values
def _positive(value: float | None, keyword: str, info: PetHeaderInfo, needed_for: str, expected: str) -> float:
    if value is None:
        raise MissingDicomTagError(keyword, path=info.source, needed_for=needed_for)
    if not value > 0:
        raise InvalidDicomValueError(keyword, value, expected, path=info.source)
    return value


def _weight_kg(info: PetHeaderInfo, needed_for: str) -> float:
    return _positive(info.weight_kg, "PatientWeight", info, needed_for, "a positive body weight in kg")


def _height_m(info: PetHeaderInfo, needed_for: str) -> float:
    return _positive(info.height_m, "PatientSize", info, needed_for, "a positive height in m")


def _sex(info: PetHeaderInfo, needed_for: str) -> str:
    if info.sex is None:
        raise MissingDicomTagError("PatientSex", path=info.source, needed_for=needed_for, expected="M, F or O")
    if info.sex not in SEXES:
        raise InvalidDicomValueError("PatientSex", info.sex, "M, F or O", path=info.source)
    return info.sex


def _half_life_s(info: PetHeaderInfo, needed_for: str) -> float:
    return _positive(info.half_life_s, "RadionuclideHalfLife", info, needed_for, "a positive half-life in s")


def _dose_bq(info: PetHeaderInfo, needed_for: str) -> float:
    if not info.has_radiopharmaceutical_sequence:
        raise MissingDicomTagError(
            "RadiopharmaceuticalInformationSequence",
            path=info.source,
            needed_for=f"the injected dose ({needed_for})",
            expected="an item with RadionuclideTotalDose, RadionuclideHalfLife and the injection time",
        )
    return _positive(
        info.dose_bq, "RadionuclideTotalDose", info, needed_for, "a positive injected activity (Bq, or MBq below 1e5)"
    )


# --------------------------------------------------------------------------------------------- timing
@dataclasses.dataclass(frozen=True)
class ScanReference:
    """The time a PET series is decay-corrected to (DecayCorrection START) and the rule that gave it."""

    datetime: datetime
    rule: str


def average_count_time_s(frame_duration_s: float, half_life_s: float) -> float:
    """Time after the frame start at which the mean activity of a decaying source equals its activity, in s.

    ``T_ave = (1/λ)·ln(λT / (1 − e^(−λT)))`` with ``λ = ln2/T½`` and T the frame duration (OncoRay SUV manual,
    reference time method 4; QIBA pseudo-code). It tends to T/2 for ``λT → 0``.
    """
    if frame_duration_s < 0 or half_life_s <= 0:
        raise InvalidParameterError(
            "frame_duration_s/half_life_s", (frame_duration_s, half_life_s), "a duration ≥ 0 and a half-life > 0"
        )
    decay_constant = math.log(2.0) / half_life_s
    x = decay_constant * frame_duration_s
    if x < 1e-8:
        return frame_duration_s / 2.0
    return math.log(x / -math.expm1(-x)) / decay_constant


def scan_reference(info: PetHeaderInfo) -> ScanReference:
    """The series' scan reference time (the START of DecayCorrection), by the first rule that applies.

    1. SeriesDate/SeriesTime when not after the earliest acquisition time (QIBA: an unmodified series time).
    2. The GE private PET scan DateTime (0009,100D).
    3. When FrameReferenceTime > 0: back-computed ``AcquisitionDateTime − (FrameReferenceTime − T_ave)`` per slice
       (T_ave from ActualFrameDuration, :func:`average_count_time_s`); the earliest of them.
    4. The earliest AcquisitionDateTime (QIBA).

    This order reproduces every OncoRay DRO and the calculate-suv vendor header sets; back-computing first breaks
    Philips headers, whose FrameReferenceTime is not counted from the series start.

    Raises
    ------
    MissingDicomTagError
        ActualFrameDuration when rule 3 needs it, or no usable series/acquisition time at all.
    """
    acquired = [t for t in info.acquisition_datetimes if t is not None]
    earliest = min(acquired) if acquired else None
    if info.series_datetime is not None and (earliest is None or info.series_datetime <= earliest):
        return ScanReference(info.series_datetime, "SeriesDateTime")
    if info.ge_scan_datetime is not None:
        return ScanReference(info.ge_scan_datetime, "GE private scan DateTime (0009,100D)")
    slices = [
        i
        for i, (when, offset_ms) in enumerate(
            zip(info.acquisition_datetimes, info.frame_reference_times_ms, strict=True)
        )
        if when is not None and offset_ms is not None and offset_ms > 0
    ]
    if slices:
        needed_for = "back-computing the scan start from FrameReferenceTime (SeriesTime after AcquisitionTime)"
        half_life_s = _half_life_s(info, needed_for)
        starts = []
        for i in slices:
            duration_ms = info.frame_durations_ms[i]
            if duration_ms is None:
                raise MissingDicomTagError("ActualFrameDuration", path=info.source, needed_for=needed_for)
            t_ave = average_count_time_s(duration_ms / 1000.0, half_life_s)
            offset_s = info.frame_reference_times_ms[i] / 1000.0 - t_ave
            starts.append(info.acquisition_datetimes[i] - timedelta(seconds=offset_s))
        return ScanReference(min(starts), "AcquisitionDateTime - (FrameReferenceTime - T_ave)")
    if earliest is not None:
        return ScanReference(earliest, "earliest AcquisitionDateTime")
    raise MissingDicomTagError(
        "AcquisitionTime",
        path=info.source,
        needed_for="the scan reference time",
        expected="SeriesDate/SeriesTime, AcquisitionDate/AcquisitionTime or GE (0009,100D)",
    )


def injection_datetime(info: PetHeaderInfo, reference: datetime | None) -> datetime:
    """Date and time of injection.

    RadiopharmaceuticalStartDateTime when present. Otherwise RadiopharmaceuticalStartTime on the day of
    ``reference`` (the scan day: SeriesDate, or AcquisitionDate), one day earlier when that would fall after the
    scan (injection before midnight); this assumes an uptake below 24 h and is refused for radionuclides with a
    half-life above ``LONG_HALF_LIFE_S`` (12 h), for which longer uptakes are common.

    Raises
    ------
    MissingDicomTagError
        Neither start attribute present; or only the time, for a long-lived radionuclide or without a scan day.
    """
    if info.start_datetime is not None:
        return info.start_datetime
    if info.start_time is None:
        raise MissingDicomTagError(
            "RadiopharmaceuticalStartDateTime",
            path=info.source,
            needed_for="decay correction of the injected dose",
            expected="RadiopharmaceuticalStartDateTime (0018,1078) or RadiopharmaceuticalStartTime (0018,1072)",
        )
    if info.half_life_s is not None and info.half_life_s > LONG_HALF_LIFE_S:
        raise MissingDicomTagError(
            "RadiopharmaceuticalStartDateTime",
            path=info.source,
            needed_for=f"a radionuclide with half-life {info.half_life_s:g} s > 12 h (uptake may exceed 24 h, "
            "so RadiopharmaceuticalStartTime alone is ambiguous)",
        )
    if reference is None:
        raise MissingDicomTagError(
            "SeriesDate", path=info.source, needed_for="dating RadiopharmaceuticalStartTime (no start DateTime)"
        )
    injected = datetime.combine(reference.date(), info.start_time)
    if injected > reference:
        injected -= timedelta(days=1)
    return injected


def decay_reference_datetimes(info: PetHeaderInfo) -> list[datetime] | None:
    """Per-slice time the pixel values refer to for decay: None for ADMIN (the injection itself).

    START: the series' :func:`scan_reference` for every slice. NONE: each slice's AcquisitionDateTime plus
    ``T_ave`` of its ActualFrameDuration (OncoRay manual, "Decay correction = NONE").
    """
    needed_for = "decay correction of the injected dose"
    correction = info.decay_correction
    if correction is None:
        raise MissingDicomTagError(
            "DecayCorrection", path=info.source, needed_for=needed_for, expected="START, ADMIN or NONE"
        )
    if correction not in ("START", "ADMIN", "NONE"):
        raise InvalidDicomValueError("DecayCorrection", correction, "START, ADMIN or NONE", path=info.source)
    _check_decay_flag(info, correction)
    if correction == "ADMIN":
        return None
    if correction == "START":
        return [scan_reference(info).datetime] * info.n_slices
    needed_for = "DecayCorrection NONE (decay to each slice's own acquisition time)"
    half_life_s = _half_life_s(info, needed_for)
    times = []
    for when, duration_ms in zip(info.acquisition_datetimes, info.frame_durations_ms, strict=True):
        if when is None:
            raise MissingDicomTagError("AcquisitionTime", path=info.source, needed_for=needed_for)
        if duration_ms is None:
            raise MissingDicomTagError("ActualFrameDuration", path=info.source, needed_for=needed_for)
        times.append(when + timedelta(seconds=average_count_time_s(duration_ms / 1000.0, half_life_s)))
    return times


def _check_decay_flag(info: PetHeaderInfo, correction: str) -> None:
    if info.corrected_image is None:
        return
    has_decy = "DECY" in info.corrected_image
    if (correction == "NONE") == has_decy:
        expected = "no DECY (DecayCorrection is NONE)" if has_decy else f"DECY (DecayCorrection is {correction})"
        raise InvalidDicomValueError("CorrectedImage", list(info.corrected_image), expected, path=info.source)


def decayed_dose_bq(info: PetHeaderInfo) -> np.ndarray:
    """Injected activity decayed to each slice's decay reference time, in Bq (one value per slice)."""
    needed_for = "converting between Bq/mL and SUV"
    dose = _dose_bq(info, needed_for)
    references = decay_reference_datetimes(info)
    if references is None:
        return np.full(info.n_slices, dose)
    half_life_s = _half_life_s(info, "decay correction of the injected dose")
    injected = injection_datetime(info, min(references))
    keyword = "RadiopharmaceuticalStartDateTime" if info.start_datetime is not None else "RadiopharmaceuticalStartTime"
    uptake_s = np.array([(t - injected).total_seconds() for t in references])
    if np.any(uptake_s < 0):
        raise InvalidDicomValueError(
            keyword,
            injected.isoformat(),
            f"an injection before the scan reference time {min(references)}",
            path=info.source,
        )
    if np.any(uptake_s > MAX_UPTAKE_HALF_LIVES * half_life_s):
        raise InvalidDicomValueError(
            keyword,
            injected.isoformat(),
            f"an injection within {MAX_UPTAKE_HALF_LIVES:g} half-lives of the scan at {max(references)} "
            "(a wrong or anonymized date?)",
            path=info.source,
        )
    return dose * np.exp2(-uptake_s / half_life_s)


# --------------------------------------------------------------------------------------------- body size
def body_size_measure(info: PetHeaderInfo, normaliser: str) -> float:
    """Body-size measure of an SUV kind: g for BW/LBM/LBMJAMES128/LBMJANMA/IBW, cm² for BSA.

    ``LBM`` is James with the 120 constant ("Morgan", as the OncoRay manual reads DICOM's older SUV Type LBM),
    ``LBMJAMES128`` James with 128, ``LBMJANMA`` Janmahasatian; see :mod:`imagebio.io.body_size`.
    """
    needed_for = f"SUV normalised by {normaliser}"
    if normaliser == "IBW":
        return 1000.0 * ibw_kg(_height_m(info, needed_for), _sex(info, needed_for))
    weight = _weight_kg(info, needed_for)
    if normaliser == "BW":
        return 1000.0 * weight
    height = _height_m(info, needed_for)
    if normaliser == "BSA":
        return 1e4 * bsa_du_bois_m2(weight, height)
    sex = _sex(info, needed_for)
    if normaliser == "LBM":
        return 1000.0 * lbm_james_kg(weight, height, sex, male_constant=120.0)
    if normaliser == "LBMJAMES128":
        return 1000.0 * lbm_james_kg(weight, height, sex, male_constant=128.0)
    if normaliser == "LBMJANMA":
        return 1000.0 * lbm_janmahasatian_kg(weight, height, sex)
    raise InvalidParameterError("normaliser", normaliser, "BW, LBM, LBMJAMES128, LBMJANMA, IBW or BSA")


# --------------------------------------------------------------------------------------------- factors
def _native_scale(info: PetHeaderInfo, index: int, want_bqml: bool) -> tuple[str, float]:
    """What ``stored·slope + intercept`` of slice ``index`` is: ("bqml", k) → k·value Bq/mL, or (SUV type, k)."""
    unit = info.units
    if unit is None:
        raise MissingDicomTagError("Units", path=info.source, needed_for="interpreting PET pixel values")
    if unit == "BQML":
        return "bqml", 1.0
    if unit == "CNTS":
        suv_factor = info.philips_suv_scale_factors[index]
        activity_factor = info.philips_activity_scale_factors[index]
        if activity_factor is not None and (want_bqml or suv_factor is None):
            return "bqml", activity_factor
        if suv_factor is not None:
            return "BW", suv_factor
        raise MissingDicomTagError(
            "PhilipsSUVScaleFactor",
            tag="(7053,1000)",
            path=info.source,
            needed_for="Units CNTS",
            expected="Philips SUV Scale Factor (7053,1000) or Activity Concentration Scale Factor (7053,1009)",
        )
    if unit == "GML":
        suv_type = info.suv_type or "BW"
        if suv_type not in _GML_SUV_TYPES:
            raise InvalidDicomValueError(
                "SUVType", suv_type, f"one of {_GML_SUV_TYPES} with Units GML", path=info.source
            )
        return suv_type, 1.0
    if unit == "CM2ML":
        if info.suv_type not in (None, "BSA"):
            raise InvalidDicomValueError("SUVType", info.suv_type, "BSA with Units CM2ML", path=info.source)
        return "BSA", 1.0
    raise InvalidDicomValueError(
        "Units",
        unit,
        "BQML, CNTS (with Philips scale factors), GML or CM2ML; others (PROPCNTS, CPS, ...) "
        "cannot be converted to activity concentration",
        path=info.source,
    )


def pet_scale_factors(info: PetHeaderInfo, quantity: str = "suvbw") -> np.ndarray:
    """Per-slice factors from rescaled pixel values to ``quantity`` (see :func:`suv_scale_factors`)."""
    if quantity not in QUANTITY_UNITS:
        raise InvalidParameterError("quantity", quantity, f"one of {QUANTITIES}")
    if info.corrected_image is not None and "ATTN" not in info.corrected_image:
        raise InvalidDicomValueError(
            "CorrectedImage",
            list(info.corrected_image),
            "ATTN (quantitative PET needs attenuation correction)",
            path=info.source,
        )
    want_bqml = quantity == "bqml"
    target = None if want_bqml else _QUANTITY_NORMALISER[quantity]
    measures: dict[str, float] = {}
    doses: list[np.ndarray] = []

    def measure(normaliser: str) -> float:
        if normaliser not in measures:
            measures[normaliser] = body_size_measure(info, normaliser)
        return measures[normaliser]

    def dose(index: int) -> float:
        if not doses:
            doses.append(decayed_dose_bq(info))
        return float(doses[0][index])

    factors = np.empty(info.n_slices)
    for i in range(info.n_slices):
        native, scale = _native_scale(info, i, want_bqml)
        if native == "bqml":
            factors[i] = scale if want_bqml else scale * measure(target) / dose(i)
        elif want_bqml:
            factors[i] = scale * dose(i) / measure(native)
        elif native == target:
            factors[i] = scale
        else:
            factors[i] = scale * measure(target) / measure(native)
    return factors


def suv_scale_factors(
    headers: Sequence[Dataset], quantity: str = "suvbw", source: str | Path | None = None, dose_unit: str = "auto"
) -> np.ndarray:
    """One factor per slice such that ``value_in_quantity = (stored·RescaleSlope + RescaleIntercept) · factor``.

    Parameters
    ----------
    headers : sequence of pydicom.Dataset
        The PET series' headers in the Volume's z order.
    quantity : {"bqml", "suvbw", "suvlbm", "sul", "suvbsa", "suvibw"}
        Bq/mL; SUV by body weight; by lean body mass (James, 128 constant, DICOM LBMJAMES128); by lean body mass
        (Janmahasatian, PERCIST SUL); by body surface area (Du Bois; cm²/mL); by ideal body weight. Unit
        strings in :data:`QUANTITY_UNITS`. Factors are g/Bq·mL/mL (= g/Bq) for SUVs from Bq/mL, cm²/Bq for SUVbsa.
    source : str or Path, optional
        Named in error messages.
    dose_unit : {"auto", "Bq", "MBq"}
        See :func:`parse_pet_headers`.

    Returns
    -------
    numpy.ndarray
        float64, shape (n_slices,).

    Raises
    ------
    MissingDicomTagError, InvalidDicomValueError
        An attribute the quantity needs is absent or unusable (the message names it).
    """
    info = parse_pet_headers(headers, source=source, dose_unit=dose_unit)
    return pet_scale_factors(info, quantity)


# --------------------------------------------------------------------------------------------- reading
def read_pet(source: Any, quantity: str = "suvbw", series_uid: str | None = None, dose_unit: str = "auto") -> Volume:
    """Read a PET series as a Volume in ``quantity`` (SUVbw by default).

    Parameters
    ----------
    source : str, Path or DicomSeries
        A folder holding one image series (or choose with ``series_uid``), a file, or a scanned series.
    quantity : str
        See :func:`suv_scale_factors`.
    series_uid : str, optional
    dose_unit : {"auto", "Bq", "MBq"}

    Returns
    -------
    Volume
        float32 values in ``QUANTITY_UNITS[quantity]``; ``modality`` "PT"; ``acquisition_time`` the scan reference
        time (:func:`scan_reference`) when it can be determined; ``metadata`` holds the header facts
        (``dose_bq``, ``half_life_s``, ``injection_time``, ``weight_kg``, ``height_m``, ``sex``, ``decay_correction``,
        ``dicom_units``, ``scan_reference_rule``, ``uptake_time_s``, ``quantity``, ``scale_factors``).

    Raises
    ------
    UnsupportedDataError
        The series is not PET, or its frames do not match its headers one to one (e.g. Enhanced PET).
    MissingDicomTagError, InvalidDicomValueError
        See :func:`suv_scale_factors`.
    """
    from imagebio.io.dicom import find_series, read_dicom_series

    if quantity not in QUANTITY_UNITS:
        raise InvalidParameterError("quantity", quantity, f"one of {QUANTITIES}")
    series = find_series(source, series_uid=series_uid)
    where = series.folder
    if series.modality != "PT":
        raise UnsupportedDataError(f"expected a PET (Modality PT) series, found {series.modality!r}", where)
    info = parse_pet_headers(series.headers, source=where, dose_unit=dose_unit)
    factors = pet_scale_factors(info, quantity)
    volume = read_dicom_series(series)
    if volume.shape[0] != len(factors):
        raise UnsupportedDataError(
            f"{volume.shape[0]} slices but {len(factors)} headers (multi-frame PET is not supported here)", where
        )
    values = (volume.array * factors[:, None, None]).astype(np.float32)
    facts = info.summary()
    metadata = dict(volume.metadata)
    metadata.update(facts)
    metadata["quantity"] = quantity
    metadata["scale_factors"] = tuple(float(f) for f in factors)
    return volume.with_array(
        values,
        unit=QUANTITY_UNITS[quantity],
        modality="PT",
        acquisition_time=facts.get("scan_reference_time", volume.acquisition_time),
        metadata=metadata,
    )
