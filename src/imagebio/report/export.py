"""DICOM objects out of the study store: TID 1500 SR of lesion measurements, SEG of lesion masks, parametric maps.

The store says which series each value was measured on and which SEG/RTSTRUCT series each lesion came from;
this module reads those files back (headers for SR evidence, images for SEG sources and maps), and calls the
writers of :mod:`imagebio.io.sr`, :mod:`imagebio.io.seg` and :mod:`imagebio.io.parametric_map`. Output UIDs are
derived from the study/series they describe, so exporting twice gives the same UIDs.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from pathlib import Path

from imagebio.errors import DicomReadError, InvalidParameterError, StoreError, UnsupportedDataError

__all__ = ["PM_KINDS", "ExportResult", "compute_map", "export_pm", "export_seg", "export_sr", "safe_name"]

log = logging.getLogger(__name__)

#: Parametric maps :func:`export_pm` can compute from a visit's series.
PM_KINDS = ("adc", "suv")


@dataclasses.dataclass
class ExportResult:
    """Files written, per time point label, and values left out with the reason."""

    files: dict[str, list[Path]] = dataclasses.field(default_factory=dict)
    skipped: list[str] = dataclasses.field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        return [p for group in self.files.values() for p in group]


def _subject(session, patient_id: str):
    from sqlalchemy import select

    from imagebio.store import Subject

    subject = session.scalars(select(Subject).where(Subject.patient_id == patient_id)).first()
    if subject is None:
        from imagebio.store.queries import list_subjects

        known = [s.patient_id for s in list_subjects(session)][:10]
        raise StoreError(f"subject {patient_id!r} is not in the store (known: {', '.join(known) or 'none'})")
    return subject


def _timepoints(session, subject, timepoint: str | None):
    from sqlalchemy import select

    from imagebio.store import Timepoint

    rows = session.scalars(
        select(Timepoint).where(Timepoint.subject_id == subject.id).order_by(Timepoint.study_datetime)
    ).all()
    if timepoint is not None:
        rows = [t for t in rows if timepoint in (t.label, t.study_instance_uid)]
        if not rows:
            raise StoreError(f"subject {subject.patient_id!r} has no time point {timepoint!r}")
    return rows


def _series_headers(series) -> list:
    """Headers (no pixel data) of every instance of a stored series."""
    from imagebio.io.dicom import find_series

    if not series.path or not Path(series.path).exists():
        raise DicomReadError(
            series.path or "(no path)",
            f"folder of series {series.series_instance_uid} ({series.modality}) is missing; re-ingest the data",
        )
    return list(find_series(Path(series.path), series.series_instance_uid, image_only=False).headers)


def _mask_file(series) -> Path:
    from imagebio.io.masks import find_mask_file

    if not series.path or not Path(series.path).exists():
        raise DicomReadError(
            series.path or "(no path)", f"folder of mask series {series.series_instance_uid} is missing"
        )
    return find_mask_file(series.path)


def _segment_numbers(seg_ds) -> dict[str, int]:
    return {str(item.get("SegmentLabel", "")): int(item.SegmentNumber) for item in seg_ds.SegmentSequence}


def export_sr(
    store, subject: str, out_dir: str | Path, timepoint: str | None = None,
    content_datetime: datetime | None = None,
) -> ExportResult:
    """Write one TID 1500 Measurement Report per time point of ``subject`` from its stored Measurements.

    Lesions are grouped by ``lesion_id`` (tracking identifier; UID from :func:`imagebio.io.sr.tracking_uid`).
    A lesion drawn in a DICOM SEG references its segment; values that are undefined (stored NULL), categorical
    ``response_*`` values and values in units without UCUM code are left out and listed in ``skipped``.

    Raises
    ------
    StoreError
        Unknown subject or time point, or a subject without any measurement.
    DicomReadError
        A referenced series folder or SEG file is missing.
    """
    import pydicom
    from sqlalchemy import select

    from imagebio.io.sr import UCUM_UNITS, LesionMeasurements, deterministic_uid, tracking_uid, write_measurement_report
    from imagebio.store import Measurement, Roi, Series

    out_dir = Path(out_dir)
    result = ExportResult()
    with store.session(readonly=True) as session:
        subject_row = _subject(session, subject)
        n_written = 0
        for tp in _timepoints(session, subject_row, timepoint):
            rows = session.execute(
                select(Measurement, Roi, Series)
                .join(Roi, Measurement.roi_id == Roi.id)
                .join(Series, Measurement.series_id == Series.id)
                .where(Roi.subject_id == subject_row.id, Series.timepoint_id == tp.id)
                .order_by(Roi.name, Measurement.name, Measurement.created_at, Measurement.id)
            ).all()
            lesions: dict[str, dict] = {}
            measured_series = {}
            for m, roi, series in rows:
                key = roi.lesion_id or roi.name
                if m.name.startswith(("response_", "best_response_")):
                    continue  # categories, not quantities: shown in reports, not in TID 1500
                if m.value is None:
                    result.skipped.append(f"{tp.label}/{key}/{m.name}: undefined value")
                    continue
                if (m.unit or "") not in UCUM_UNITS:
                    result.skipped.append(f"{tp.label}/{key}/{m.name}: unit {m.unit!r} has no UCUM code")
                    continue
                entry = lesions.setdefault(key, {"roi": roi, "values": {}})
                # one value per name: the latest computation wins when settings changed
                entry["values"][m.name] = (m.name, float(m.value), m.unit or "")
                measured_series[series.id] = series
            if not lesions:
                continue
            evidence = []
            for series in measured_series.values():
                evidence.extend(_series_headers(series))
            segmentation = None
            seg_series = {e["roi"].source_series_id for e in lesions.values()} - {None}
            if len(seg_series) > 1:
                log.warning("lesions of %s %s come from several mask series; referencing the first", subject, tp.label)
            if seg_series:
                mask_series = session.get(Series, min(seg_series))
                mask_path = _mask_file(mask_series)
                candidate = pydicom.dcmread(mask_path, stop_before_pixels=True)
                if str(candidate.get("Modality", "")) == "SEG":
                    segmentation = candidate
                    evidence.append(candidate)
            numbers = _segment_numbers(segmentation) if segmentation is not None else {}
            groups = []
            for key, entry in lesions.items():
                roi = entry["roi"]
                number = roi.label if roi.label is not None and segmentation is not None else numbers.get(roi.name)
                groups.append(
                    LesionMeasurements(
                        lesion_id=key,
                        tracking_uid=tracking_uid(subject, key),
                        values=list(entry["values"].values()),
                        segment_number=number,
                    )
                )
            path = out_dir / f"{safe_name(subject)}_{safe_name(tp.label or tp.study_instance_uid)}_SR.dcm"
            write_measurement_report(
                groups, evidence, path, segmentation=segmentation, time_point=tp.label,
                series_instance_uid=deterministic_uid("sr-series", tp.study_instance_uid),
                sop_instance_uid=deterministic_uid("sr-instance", tp.study_instance_uid),
                content_datetime=content_datetime,
            )
            result.files.setdefault(tp.label or tp.study_instance_uid, []).append(path)
            n_written += 1
        if n_written == 0:
            raise StoreError(f"subject {subject!r} has no lesion measurements to export as SR")
    return result


def safe_name(text: str) -> str:
    """``text`` with every character but letters, digits and ``-_.`` replaced by ``_`` (for file names)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text))


def is_dwi_series(row) -> bool:
    """Whether a stored MR series is a diffusion series, from the header of one of its files.

    Checking one header avoids scanning long dynamic series (DCE, hundreds of files) only to skip them.
    """
    from imagebio.errors import ImagebioError
    from imagebio.io.dicom import b_value_of, read_header

    for path in sorted(Path(row.path).iterdir()):
        if path.is_file():
            try:
                header = read_header(path)
            except ImagebioError:
                continue
            if str(header.get("SeriesInstanceUID", "")) == row.series_instance_uid:
                return b_value_of(header) is not None
    return False


def _visit(session, tp, modalities: tuple[str, ...], dwi_only: bool = False):
    """(VisitSeries, scanned series) of a visit's stored series of the given modalities (folders that exist)."""
    from sqlalchemy import select

    from imagebio.io.dicom import find_series
    from imagebio.pipeline.visit import VisitSeries, classify_series
    from imagebio.store import Series

    items = []
    for row in session.scalars(select(Series).where(Series.timepoint_id == tp.id).order_by(Series.id)):
        if not row.path or not Path(row.path).exists() or (row.modality or "").upper() not in modalities:
            continue
        if dwi_only and (row.modality or "").upper() == "MR" and not is_dwi_series(row):
            continue
        scanned = find_series(Path(row.path), row.series_instance_uid, image_only=False)
        items.append((VisitSeries(classify_series(scanned), row.series_instance_uid, Path(row.path), row.id), scanned))
    return items


def export_seg(
    store, subject: str, out_dir: str | Path, timepoint: str | None = None,
    content_datetime: datetime | None = None,
) -> ExportResult:
    """Write the lesion masks of each time point as a BINARY DICOM SEG referencing the CT slices.

    Masks are read from the visit's SEG or RTSTRUCT on the CT grid (PET grid without CT) and written with
    :func:`imagebio.io.seg.write_seg`; UIDs derive from the study so a re-export gives the same UIDs.
    """
    import pydicom

    from imagebio.io.dicom import read_dicom_series
    from imagebio.io.masks import read_roi_masks
    from imagebio.io.seg import write_seg
    from imagebio.io.sr import deterministic_uid

    out_dir = Path(out_dir)
    result = ExportResult()
    with store.session(readonly=True) as session:
        subject_row = _subject(session, subject)
        for tp in _timepoints(session, subject_row, timepoint):
            visit = {
                item.role: (item, scanned)
                for item, scanned in reversed(_visit(session, tp, ("CT", "PT", "SEG", "RTSTRUCT")))
            }
            image_role = next((r for r in ("CT", "PT") if r in visit), None)
            mask_role = next((r for r in ("SEG", "RTSTRUCT") if r in visit), None)
            if image_role is None or mask_role is None:
                result.skipped.append(f"{tp.label}: needs a CT or PET series and a SEG/RTSTRUCT series")
                continue
            scanned = visit[image_role][1]
            reference = read_dicom_series(scanned)
            mask_file = visit[mask_role][1].files[0]
            masks = read_roi_masks(mask_file, reference)
            arrays = {name: vol.array for name, vol in masks.items() if vol.array.any()}
            if not arrays:
                result.skipped.append(f"{tp.label}: every lesion mask is empty")
                continue
            sources = [pydicom.dcmread(f) for f in scanned.files]
            path = out_dir / f"{safe_name(subject)}_{safe_name(tp.label or tp.study_instance_uid)}_SEG.dcm"
            write_seg(
                arrays, sources, path, series_description="imagebio lesion SEG", algorithm="imagebio",
                series_instance_uid=deterministic_uid("seg-series", tp.study_instance_uid),
                sop_instance_uid=deterministic_uid("seg-instance", tp.study_instance_uid),
                dimension_organization_uid=deterministic_uid("seg-dimension", tp.study_instance_uid),
                content_datetime=content_datetime,
            )
            result.files.setdefault(tp.label or tp.study_instance_uid, []).append(path)
    if not result.paths:
        raise StoreError(f"subject {subject!r}: no time point has images and lesion masks to export as SEG")
    return result


def _first_frame_files(scanned, n_slices: int) -> list[Path]:
    return list(scanned.files[:n_slices])


def compute_map(kind: str, visit: dict):
    """The parametric map ``kind`` of a visit (``adc`` from its DWI, ``suv`` from its PET) and its source files.

    ADC: voxel-wise weighted log-linear mono-exponential fit (:func:`imagebio.diffusion.adc.fit_adc`) over all
    b-values, mm²/s (voxels where the fit is undefined are 0). SUV: the PET series in SUVbw (g/mL).
    """
    import numpy as np

    from imagebio.io.dicom import read_dynamic_series
    from imagebio.io.pet import read_pet

    if kind == "suv":
        if "PT" not in visit:
            raise UnsupportedDataError("an SUV map needs a PET series at this time point")
        scanned = visit["PT"][1]
        return read_pet(scanned, quantity="suvbw"), list(scanned.files)
    if kind == "adc":
        if "DWI" not in visit:
            raise UnsupportedDataError("an ADC map needs a DWI series at this time point")
        from imagebio.diffusion.adc import fit_adc

        scanned = visit["DWI"][1]
        frames = read_dynamic_series(scanned)
        b_values = np.array([float(f.metadata["b_value_s_per_mm2"]) for f in frames])
        signals = np.stack([np.asarray(f.array, dtype=np.float64) for f in frames], axis=-1)
        fit = fit_adc(signals.reshape(-1, len(frames)), b_values)
        adc = np.asarray(fit["adc_mm2_per_s"], dtype=np.float64).reshape(frames[0].shape)
        adc = np.where(np.isfinite(adc), np.clip(adc, 0.0, None), 0.0)
        from imagebio import units

        volume = frames[0].with_array(adc, unit=units.MM2_PER_S)
        return volume, _first_frame_files(scanned, frames[0].shape[0])
    raise InvalidParameterError("kind", kind, f"one of {', '.join(PM_KINDS)}")


def export_pm(
    store, subject: str, out_dir: str | Path, kind: str = "adc", timepoint: str | None = None,
    nifti: bool = True, content_datetime: datetime | None = None,
) -> ExportResult:
    """Compute a parametric map per time point and write it as a DICOM Parametric Map (and NIfTI).

    See :func:`compute_map` for the maps; the writer is :func:`imagebio.io.parametric_map.write_parametric_map`.
    """
    import pydicom

    from imagebio.io.nifti import write_image
    from imagebio.io.parametric_map import write_parametric_map
    from imagebio.io.sr import deterministic_uid

    if kind not in PM_KINDS:
        raise InvalidParameterError("kind", kind, f"one of {', '.join(PM_KINDS)}")
    out_dir = Path(out_dir)
    result = ExportResult()
    with store.session(readonly=True) as session:
        subject_row = _subject(session, subject)
        for tp in _timepoints(session, subject_row, timepoint):
            modalities = ("PT",) if kind == "suv" else ("MR",)
            visit = {
                item.role: (item, scanned)
                for item, scanned in reversed(_visit(session, tp, modalities, dwi_only=kind == "adc"))
            }
            try:
                volume, files = compute_map(kind, visit)
            except UnsupportedDataError as exc:
                result.skipped.append(f"{tp.label}: {exc}")
                continue
            sources = [pydicom.dcmread(f, stop_before_pixels=True) for f in files[: volume.shape[0]]]
            stem = f"{safe_name(subject)}_{safe_name(tp.label or tp.study_instance_uid)}_{kind.upper()}"
            path = out_dir / f"{stem}_PM.dcm"
            write_parametric_map(
                volume, sources, path, quantity=kind,
                series_instance_uid=deterministic_uid("pm-series", kind, tp.study_instance_uid),
                sop_instance_uid=deterministic_uid("pm-instance", kind, tp.study_instance_uid),
                content_datetime=content_datetime,
            )
            written = [path]
            if nifti:
                written.append(write_image(volume, out_dir / f"{stem}.nii.gz"))
            result.files.setdefault(tp.label or tp.study_instance_uid, []).extend(written)
    if not result.paths:
        raise StoreError(f"subject {subject!r}: no time point has the series a {kind} map needs")
    return result
