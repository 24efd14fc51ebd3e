"""DICOM Parametric Map objects for quantitative maps (ADC, Ktrans, SUV...): write with highdicom, read back.

A map is written either as 32-bit float frames (Float Pixel Data, identity real-world value mapping) or as
unsigned 16-bit integers with a Real World Value Mapping (slope, intercept) that restores the quantity. The
mapping carries the quantity concept (e.g. DCM 113041 Apparent Diffusion Coefficient) and its UCUM unit.
Geometry (plane positions, orientation, pixel spacing) is written from the :class:`~imagebio.volume.Volume`, so
the map sits on its own grid whatever the source images; the source images are referenced for provenance and
give the patient/study attributes.

References
----------
DICOM PS3.3 A.75 Parametric Map IOD, C.7.6.16.2.11 Real World Value Mapping Functional Group Macro;
PS3.16 CID 7180 Abstract Multi-dimensional Image Model Component Semantics, CID 7181 Units.
Herrmann MD et al. Highdicom. J Digit Imaging 2022;35:1719–1737.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from os import PathLike
from pathlib import Path

import numpy as np

from imagebio import units
from imagebio.errors import DicomReadError, InvalidParameterError, MissingDicomTagError, UnsupportedDataError
from imagebio.volume import Volume

__all__ = ["MAP_QUANTITIES", "PARAMETRIC_MAP_SOP_CLASS_UID", "read_parametric_map", "write_parametric_map"]

PARAMETRIC_MAP_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.30"

#: map kind -> (quantity concept (value, scheme, meaning), imagebio unit).
MAP_QUANTITIES: dict[str, tuple[tuple[str, str, str], str]] = {
    "adc": (("113041", "DCM", "Apparent Diffusion Coefficient"), units.MM2_PER_S),
    "ktrans": (("126312", "DCM", "Ktrans"), units.PER_MIN),
    "kep": (("126313", "DCM", "kep"), units.PER_MIN),
    "ve": (("126314", "DCM", "ve"), units.FRACTION),
    "suv": (("126401", "DCM", "SUVbw"), units.SUV_BW),
    "t1": (("113063", "DCM", "T1"), units.S),
}
_UINT16_MAX = 65535


def _geometry(volume: Volume):
    import highdicom as hd

    nz = volume.shape[0]
    index = np.zeros((nz, 3))
    index[:, 0] = np.arange(nz)
    positions = volume.index_to_physical(index)
    direction = np.asarray(volume.direction, dtype=float)
    orientation = [*direction[:, 0].tolist(), *direction[:, 1].tolist()]  # row (x) then column (y) cosines
    dz, dy, dx = (float(s) for s in volume.spacing)
    return (
        hd.PixelMeasuresSequence(pixel_spacing=[dy, dx], slice_thickness=dz, spacing_between_slices=dz),
        hd.PlaneOrientationSequence(coordinate_system="PATIENT", image_orientation=orientation),
        [
            hd.PlanePositionSequence(coordinate_system="PATIENT", image_position=[float(v) for v in p])
            for p in positions
        ],
    )


def write_parametric_map(
    volume: Volume,
    source_images: Sequence,
    path: str | PathLike,
    quantity: str,
    *,
    unit: str | None = None,
    integer: bool = False,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    series_number: int = 960,
    series_description: str | None = None,
    content_datetime: datetime | None = None,
):
    """Write a quantitative map as a DICOM Parametric Map.

    Parameters
    ----------
    volume : Volume
        The map (z, y, x) with its geometry; non-finite voxels are written as 0.
    source_images : sequence of pydicom.Dataset
        Headers of the images the map was computed from (referenced; patient and study come from them).
    path : str or path-like
        Output file.
    quantity : str
        A key of :data:`MAP_QUANTITIES` (``adc``, ``ktrans``, ``suv``...).
    unit : str, optional
        imagebio unit of the values; default the quantity's (``mm2/s`` for ADC...).
    integer : bool
        Store uint16 with a Real World Value Mapping slope/intercept (quantisation step (max-min)/65535)
        instead of float32.
    series_instance_uid, sop_instance_uid : str, optional
        UIDs (random when omitted).
    content_datetime : datetime, optional
        Content/InstanceCreation/Series Date and Time (default now).

    Returns
    -------
    highdicom.pm.ParametricMap
    """
    import highdicom as hd
    from highdicom.sr import CodedConcept

    from imagebio import __version__ as version
    from imagebio.io.sr import ucum_unit

    if quantity not in MAP_QUANTITIES:
        raise InvalidParameterError("quantity", quantity, f"one of {', '.join(MAP_QUANTITIES)}")
    if not source_images:
        raise InvalidParameterError("source_images", [], "the headers of the images the map was computed from")
    concept, default_unit = MAP_QUANTITIES[quantity]
    unit = default_unit if unit is None else unit
    values = np.where(np.isfinite(volume.array), volume.array, 0.0).astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if integer:
        slope = (high - low) / _UINT16_MAX if high > low else 1.0
        intercept = low
        pixels = np.rint((values - intercept) / slope).astype(np.uint16)
        value_range = (0, _UINT16_MAX)
    else:
        slope, intercept = 1.0, 0.0
        pixels = values.astype(np.float32)
        value_range = (float(pixels.min()), float(pixels.max()))
    mapping = hd.pm.RealWorldValueMapping(
        lut_label=quantity.upper()[:16],
        lut_explanation=f"{concept[2]} ({unit})"[:64],
        unit=ucum_unit(unit),
        value_range=value_range,
        slope=slope,
        intercept=intercept,
        quantity_definition=CodedConcept(*concept),
    )
    measures, orientation, positions = _geometry(volume)
    pm = hd.pm.ParametricMap(
        source_images=list(source_images),
        pixel_array=pixels,
        series_instance_uid=series_instance_uid or hd.UID(),
        series_number=series_number,
        sop_instance_uid=sop_instance_uid or hd.UID(),
        instance_number=1,
        manufacturer="imagebio",
        manufacturer_model_name="imagebio",
        software_versions=str(version),
        device_serial_number="0",
        contains_recognizable_visual_features=False,
        real_world_value_mappings=[mapping],
        voi_lut_transformations=[
            # LINEAR_EXACT: map values (e.g. ADC ~1e-3 mm2/s) need windows narrower than 1 (PS3.3 C.11.2.1.3.2)
            hd.VOILUTTransformation(
                window_center=(low + high) / 2.0, window_width=max(high - low, 1e-9), voi_lut_function="LINEAR_EXACT"
            )
        ],
        pixel_measures=measures,
        plane_orientation=orientation,
        plane_positions=positions,
        content_label=quantity.upper()[:16],
        content_description=f"{concept[2]} map"[:64],
        series_description=series_description or f"imagebio {concept[2]} map",
    )
    if "Laterality" not in pm:
        # General Series Type 2C: the map covers the same (unpaired or unknown) body part as its sources
        pm.Laterality = None
    if content_datetime is not None:
        date_text, time_text = content_datetime.strftime("%Y%m%d"), content_datetime.strftime("%H%M%S")
        for keyword in ("Content", "InstanceCreation", "Series"):
            setattr(pm, f"{keyword}Date", date_text)
            setattr(pm, f"{keyword}Time", time_text)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.save_as(str(path), enforce_file_format=True)
    return pm


def _group(ds, frame, sequence: str, path):
    if frame is not None and sequence in frame:
        return frame[sequence].value[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and sequence in shared[0]:
        return shared[0][sequence].value[0]
    raise MissingDicomTagError(sequence, path=path, needed_for="reading a Parametric Map")


def read_parametric_map(path: str | PathLike) -> Volume:
    """Read a DICOM Parametric Map into a Volume of real-world values (slope/intercept applied).

    ``unit`` is the imagebio unit of the mapping's UCUM code (or the code itself), ``metadata`` holds
    ``quantity`` (code meaning), ``quantity_code`` and ``ucum``.
    """
    import pydicom

    from imagebio.io.sr import UCUM_UNITS

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise DicomReadError(path, f"cannot read DICOM: {exc}") from exc
    if str(ds.get("SOPClassUID", "")) != PARAMETRIC_MAP_SOP_CLASS_UID:
        raise UnsupportedDataError(
            f"not a Parametric Map (SOPClassUID {ds.get('SOPClassUID', 'missing')}); expected "
            f"{PARAMETRIC_MAP_SOP_CLASS_UID}",
            path,
        )
    pixels = np.asarray(ds.pixel_array, dtype=np.float64).reshape(-1, int(ds.Rows), int(ds.Columns))
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or [None] * len(pixels)
    mapping = _group(ds, per_frame[0], "RealWorldValueMappingSequence", path)
    slope = float(mapping.RealWorldValueSlope)
    intercept = float(mapping.RealWorldValueIntercept)
    values = pixels * slope + intercept
    positions = np.array(
        [[float(v) for v in _group(ds, f, "PlanePositionSequence", path).ImagePositionPatient] for f in per_frame]
    )
    plane = _group(ds, None, "PlaneOrientationSequence", path)
    orientation = np.array([float(v) for v in plane.ImageOrientationPatient])
    row, column = orientation[:3], orientation[3:]
    normal = np.cross(row, column)
    order = np.argsort(positions @ normal)
    values, positions = values[order], positions[order]
    measures = _group(ds, None, "PixelMeasuresSequence", path)
    dy, dx = (float(v) for v in measures.PixelSpacing)
    heights = positions @ normal
    dz = float(np.median(np.diff(heights))) if len(heights) > 1 else float(measures.get("SliceThickness", 1.0))
    code = str(mapping.MeasurementUnitsCodeSequence[0].CodeValue)
    unit = next((name for name, (ucum, _) in UCUM_UNITS.items() if ucum == code and name), code)
    quantity = ""
    quantity_code = ""
    for item in mapping.get("QuantityDefinitionSequence", []):
        if "ConceptCodeSequence" in item:
            quantity = str(item.ConceptCodeSequence[0].CodeMeaning)
            quantity_code = str(item.ConceptCodeSequence[0].CodeValue)
    return Volume(
        array=values,
        spacing=(dz, dy, dx),
        origin=tuple(float(v) for v in positions[0]),
        direction=np.column_stack([row, column, normal]),
        modality=str(ds.get("Modality", "")),
        unit=unit,
        identifiers={"path": str(path), "series_uid": str(ds.SeriesInstanceUID)},
        metadata={"quantity": quantity, "quantity_code": quantity_code, "ucum": code},
    )
