"""DICOM Structured Report out: a TID 1500 Measurement Report of lesion measurements (highdicom).

One report holds the measurements of one time point. Each lesion is a TID 1411 *Volumetric ROI Measurements*
group with a tracking identifier (the lesion id) and a tracking UID derived deterministically from subject and
lesion id, so the same lesion carries the same UID in every report of the patient and readers can link its
values across time points. The group references the lesion's segment in the DICOM SEG (TID 1411 "Referenced
Segment") and the image series the SEG was drawn on; every measured series is recorded as evidence.

Measurement names map to DICOM codes (quantity + CID 7464 derivation, e.g. ``suvbw_max`` = SUVbw, Maximum) and
units to UCUM codes; names without a DICOM concept get a local code (scheme ``99IMAGEBIO``) whose value is the
imagebio name, so every value reads back under its own name.

References
----------
DICOM PS3.16 TID 1500 Measurement Report, TID 1411 Volumetric ROI Measurements, TID 300 Measurement,
CID 7464 General Region of Interest Measurement Modifiers, CID 7181 Abstract Multi-dimensional Image Model
Component Units, CID 85 SUV Units (UCUM).
Herrmann MD et al. Highdicom. J Digit Imaging 2022;35:1719–1737.
Fedorov A et al. DICOM for quantitative imaging biomarker development. PeerJ 2016;4:e2057.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from os import PathLike
from pathlib import Path

from imagebio import units
from imagebio.errors import DicomReadError, InvalidParameterError, UnsupportedDataError

__all__ = [
    "COMPREHENSIVE_3D_SR_SOP_CLASS_UID",
    "LOCAL_SCHEME",
    "UCUM_UNITS",
    "LesionMeasurements",
    "SrMeasurement",
    "deterministic_uid",
    "evidence_headers",
    "measurement_concept",
    "read_measurement_report",
    "tracking_uid",
    "ucum_unit",
    "write_measurement_report",
]

COMPREHENSIVE_3D_SR_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.88.34"
#: Coding scheme of names that have no DICOM concept (PS3.16 8.2: "99" prefix = private scheme).
LOCAL_SCHEME = "99IMAGEBIO"
_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://imagebio/io/sr")

#: imagebio unit string -> (UCUM code value, code meaning). SUV follows CID 85 as shipped with pydicom.
UCUM_UNITS: dict[str, tuple[str, str]] = {
    units.ML: ("ml", "milliliter"),
    units.MM: ("mm", "millimeter"),
    units.MM2: ("mm2", "square millimeter"),
    units.MM3: ("mm3", "cubic millimeter"),
    units.HU: ("[hnsf'U]", "Hounsfield unit"),
    units.SUV_BW: ("g/ml{SUVbw}", "Standardized Uptake Value body weight"),
    units.SUV_LBM: ("g/ml{SUVlbm}", "Standardized Uptake Value lean body mass (James)"),
    units.SUL: ("g/ml{SUVlbm(Janma)}", "Standardized Uptake Value lean body mass (Janma)"),
    units.SUV_BSA: ("cm2/ml{SUVbsa}", "Standardized Uptake Value body surface area"),
    units.SUV_IBW: ("g/ml{SUVibw}", "Standardized Uptake Value ideal body weight"),
    units.BQ_PER_ML: ("Bq/ml", "Becquerels/milliliter"),
    units.MM2_PER_S: ("mm2/s", "mm2/s"),
    units.PER_MIN: ("/min", "/min"),
    units.S: ("s", "second"),
    units.MIN: ("min", "minute"),
    units.FRACTION: ("1", "no units"),
    "": ("1", "no units"),
    "%": ("%", "Percent"),
    units.GY: ("Gy", "Gray"),
}
_UNIT_FROM_UCUM = {code: name for name, (code, _) in UCUM_UNITS.items() if name != ""}

#: prefix of an imagebio measurement name -> quantity concept (value, scheme, meaning).
_QUANTITIES: dict[str, tuple[str, str, str]] = {
    "hu": ("112031", "DCM", "Attenuation Coefficient"),
    "suvbw": ("126401", "DCM", "SUVbw"),
    "suvlbm": ("126402", "DCM", "SUVlbm"),
    "suvbsa": ("126403", "DCM", "SUVbsa"),
    "suvibw": ("126404", "DCM", "SUVibw"),
    "adc": ("113041", "DCM", "Apparent Diffusion Coefficient"),
    "t1": ("113063", "DCM", "T1"),
}
#: whole-name quantities without a derivation.
_SCALARS: dict[str, tuple[str, str, str]] = {
    "volume": ("118565006", "SCT", "Volume"),
    "ktrans": ("126312", "DCM", "Ktrans"),
    "kep": ("126313", "DCM", "kep"),
    "ve": ("126314", "DCM", "ve"),
    "vp": ("126316", "DCM", "vp"),
    "longest_diameter": ("103339001", "SCT", "Long axis"),
    "short_axis": ("103340004", "SCT", "Short axis"),
}
#: name suffix -> CID 7464 derivation (value, scheme, meaning).
_DERIVATIONS: dict[str, tuple[str, str, str]] = {
    "mean": ("373098007", "SCT", "Mean"),
    "max": ("56851009", "SCT", "Maximum"),
    "min": ("255605001", "SCT", "Minimum"),
    "median": ("373099004", "SCT", "Median"),
    "sd": ("386136009", "SCT", "Standard Deviation"),
    "peak": ("126031", "DCM", "Peak Value Within ROI"),
}


@dataclasses.dataclass(frozen=True)
class SrMeasurement:
    """One lesion value as written to / read from a Measurement Report.

    ``unit`` is the imagebio unit string (``mL``, ``HU``, ``SUVbw``...), ``ucum`` its UCUM code.
    """

    lesion_id: str
    tracking_uid: str
    name: str
    value: float
    unit: str
    ucum: str
    segment_number: int | None = None
    segmentation_uid: str | None = None


@dataclasses.dataclass
class LesionMeasurements:
    """The values of one lesion at one time point and where its mask lives.

    Attributes
    ----------
    lesion_id : str
        Tracking identifier, the same at every time point.
    tracking_uid : str
        Tracking UID (see :func:`tracking_uid`).
    values : sequence of (name, value, unit)
        imagebio measurement name, value, imagebio unit string.
    segment_number : int, optional
        Segment of the lesion in ``segmentation`` (SEG dataset); with it the group references the segment.
    source_series_uid : str, optional
        SeriesInstanceUID of the images the segmentation was drawn on.
    """

    lesion_id: str
    tracking_uid: str
    values: Sequence[tuple[str, float, str]]
    segment_number: int | None = None
    source_series_uid: str | None = None


def deterministic_uid(*parts: object) -> str:
    """A ``2.25.<UUIDv5>`` UID (PS3.5 B.2) depending only on ``parts`` (joined by ``/``)."""
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, '/'.join(str(p) for p in parts)).int}"


def tracking_uid(subject: str, lesion_id: str) -> str:
    """The tracking UID of a lesion: the same for the same (subject, lesion id) in every report."""
    return deterministic_uid("tracking", subject, lesion_id)


def ucum_unit(unit: str):
    """The UCUM ``CodedConcept`` of an imagebio unit string; raises ``UnsupportedDataError`` for unknown units."""
    from highdicom.sr import CodedConcept

    if unit not in UCUM_UNITS:
        raise UnsupportedDataError(f"unit {unit!r} has no UCUM mapping; known: {sorted(u for u in UCUM_UNITS if u)}")
    value, meaning = UCUM_UNITS[unit]
    return CodedConcept(value, "UCUM", meaning)


def measurement_concept(name: str):
    """``(concept, derivation)`` codes of an imagebio measurement name (``derivation`` may be ``None``).

    ``suvbw_max`` → (DCM 126401 SUVbw, SCT 56851009 Maximum); ``volume`` → (SCT 118565006 Volume, None); a name
    without DICOM concept → (``99IMAGEBIO`` code whose value is the name, None).
    """
    from highdicom.sr import CodedConcept

    if name in _SCALARS:
        return CodedConcept(*_SCALARS[name]), None
    prefix, _, suffix = name.rpartition("_")
    if prefix in _QUANTITIES and suffix in _DERIVATIONS:
        return CodedConcept(*_QUANTITIES[prefix]), CodedConcept(*_DERIVATIONS[suffix])
    if len(name) > 16:  # SH limit of CodeValue; use LongCodeValue semantics through a hashed value
        raise InvalidParameterError("name", name, "a measurement name of at most 16 characters for a local code")
    return CodedConcept(name, LOCAL_SCHEME, name), None


def _name_of(concept, derivation) -> str:
    key = (str(concept.value), str(concept.scheme_designator))
    if key[1] == LOCAL_SCHEME:
        return str(concept.value)
    for name, code in _SCALARS.items():
        if (code[0], code[1]) == key and derivation is None:
            return name
    for prefix, code in _QUANTITIES.items():
        if (code[0], code[1]) == key and derivation is not None:
            for suffix, dcode in _DERIVATIONS.items():
                if (dcode[0], dcode[1]) == (str(derivation.value), str(derivation.scheme_designator)):
                    return f"{prefix}_{suffix}"
    return str(concept.meaning)


def write_measurement_report(
    lesions: Sequence[LesionMeasurements],
    evidence: Sequence,
    path: str | PathLike,
    *,
    segmentation=None,
    time_point: str | None = None,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    series_number: int = 950,
    series_description: str = "imagebio measurements",
    content_datetime: datetime | None = None,
):
    """Write a TID 1500 Measurement Report (Comprehensive 3D SR) of lesion measurements.

    Parameters
    ----------
    lesions : sequence of LesionMeasurements
        One group per lesion (values with imagebio names and units): a TID 1411 Volumetric ROI group when the
        lesion has a segment in ``segmentation``, else a TID 1501 Measurement Group.
    evidence : sequence of pydicom.Dataset
        Headers of every image instance measured (and of the SEG): the report inherits patient and study from
        them and lists them in the Current Requested Procedure Evidence Sequence.
    path : str or path-like
        Output file.
    segmentation : pydicom.Dataset, optional
        The DICOM SEG whose segments the lesions reference (must also be in ``evidence``).
    time_point : str, optional
        Time point label written as TID 1502 Time Point Context (``"baseline"``, ``"follow-up 1"``).
    series_instance_uid, sop_instance_uid : str, optional
        UIDs of the report; random when omitted (pass them for reproducible output).
    content_datetime : datetime, optional
        ContentDate/Time, InstanceCreation and SeriesDate/Time; the current time when omitted.

    Returns
    -------
    highdicom.sr.Comprehensive3DSR
        The written report.

    Raises
    ------
    InvalidParameterError
        No lesion, a lesion without values, a segment reference without ``segmentation``.
    UnsupportedDataError
        A unit without UCUM mapping.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from imagebio import __version__ as version

    if not lesions:
        raise InvalidParameterError("lesions", [], "at least one lesion with measurements")
    if not evidence:
        raise InvalidParameterError("evidence", [], "the headers of the measured image instances")
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=deterministic_uid("device", "imagebio"), name="imagebio", manufacturer_name="imagebio",
            model_name=f"imagebio {version}",
        ),
    )
    context = hd.sr.ObservationContext(observer_device_context=observer)
    algorithm = hd.sr.AlgorithmIdentification(name="imagebio", version=str(version))
    groups = []
    for order, lesion in enumerate(lesions, start=1):
        if not lesion.values:
            raise InvalidParameterError(f"lesions[{lesion.lesion_id!r}].values", [], "at least one value")
        measurements = []
        for name, value, unit in lesion.values:
            concept, derivation = measurement_concept(name)
            measurements.append(
                hd.sr.Measurement(
                    name=concept, value=float(value), unit=ucum_unit(unit), derivation=derivation,
                    algorithm_id=algorithm,
                )
            )
        referenced_segment = None
        if lesion.segment_number is not None:
            if segmentation is None:
                raise InvalidParameterError(
                    "segmentation", None, f"the SEG dataset holding segment {lesion.segment_number} of "
                    f"lesion {lesion.lesion_id!r}"
                )
            referenced_segment = hd.sr.ReferencedSegment(
                sop_class_uid=str(segmentation.SOPClassUID),
                sop_instance_uid=str(segmentation.SOPInstanceUID),
                segment_number=int(lesion.segment_number),
                source_series=hd.sr.SourceSeriesForSegmentation(
                    lesion.source_series_uid or _seg_source_series(segmentation)
                ),
            )
        time_context = None if time_point is None else hd.sr.TimePointContext(time_point=time_point)
        common = {
            "tracking_identifier": hd.sr.TrackingIdentifier(uid=lesion.tracking_uid, identifier=lesion.lesion_id),
            "finding_type": codes.SCT.Lesion,
            "time_point_context": time_context,
            "measurements": measurements,
        }
        if referenced_segment is not None:
            groups.append(
                hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                    referenced_segment=referenced_segment, **common
                )
            )
        else:  # no mask to point at: a TID 1501 Measurement Group, still tracked by identifier and UID
            groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(**common))
    report = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=codes.SCT.ImagingProcedure,
        imaging_measurements=groups,
        title=codes.DCM.ImagingMeasurementReport,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=list(evidence),
        content=report,
        series_instance_uid=series_instance_uid or hd.UID(),
        series_number=series_number,
        sop_instance_uid=sop_instance_uid or hd.UID(),
        instance_number=1,
        manufacturer="imagebio",
        is_complete=True,
        series_description=series_description,
    )
    if content_datetime is not None:
        date_text, time_text = content_datetime.strftime("%Y%m%d"), content_datetime.strftime("%H%M%S")
        for keyword in ("Content", "InstanceCreation", "Series"):
            setattr(sr, f"{keyword}Date", date_text)
            setattr(sr, f"{keyword}Time", time_text)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sr.save_as(str(path), enforce_file_format=True)
    return sr


def _seg_source_series(segmentation) -> str:
    referenced = segmentation.get("ReferencedSeriesSequence")
    if not referenced:
        raise InvalidParameterError(
            "segmentation", str(segmentation.get("SOPInstanceUID", "")), "a SEG with a ReferencedSeriesSequence"
        )
    return str(referenced[0].SeriesInstanceUID)


def read_measurement_report(path: str | PathLike) -> list[SrMeasurement]:
    """Every lesion measurement of a TID 1500 report, with its tracking UID and segment reference.

    Raises
    ------
    DicomReadError
        The file is not readable DICOM.
    UnsupportedDataError
        The file is not a Comprehensive 3D SR holding a Measurement Report.
    """
    import highdicom as hd
    import pydicom

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise DicomReadError(path, f"cannot read DICOM: {exc}") from exc
    if str(ds.get("SOPClassUID", "")) != COMPREHENSIVE_3D_SR_SOP_CLASS_UID:
        raise UnsupportedDataError(
            f"not a Comprehensive 3D SR (SOPClassUID {ds.get('SOPClassUID', 'missing')}); expected "
            f"{COMPREHENSIVE_3D_SR_SOP_CLASS_UID}",
            path,
        )
    try:
        sr = hd.sr.Comprehensive3DSR.from_dataset(ds)
        report = sr.content
        groups = [*report.get_volumetric_roi_measurement_groups(), *report.get_image_measurement_groups()]
    except (AttributeError, KeyError, ValueError, TypeError) as exc:
        raise UnsupportedDataError(f"no TID 1500 Measurement Report: {type(exc).__name__}: {exc}", path) from exc
    out = []
    for group in groups:
        segment = getattr(group, "referenced_segment", None)
        number = uid = None
        if segment is not None:
            numbers = segment.referenced_segment_numbers
            number = int(numbers[0]) if numbers else None
            uid = str(segment.referenced_sop_instance_uid)
        for item in group.get_measurements():
            code = str(item.unit.value)
            out.append(
                SrMeasurement(
                    lesion_id=str(group.tracking_identifier),
                    tracking_uid=str(group.tracking_uid),
                    name=_name_of(item.name, item.derivation),
                    value=float(item.value),
                    unit=_UNIT_FROM_UCUM.get(code, code),
                    ucum=code,
                    segment_number=number,
                    segmentation_uid=uid,
                )
            )
    return out


def evidence_headers(files: Sequence[str | PathLike]) -> list:
    """Headers (no pixel data) of DICOM files, for the ``evidence`` of a report."""
    import pydicom

    return [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
