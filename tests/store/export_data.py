"""A small store with known measurements for the export tests (no DICOM: rows written with the store writers).

Two subjects, two time points each (baseline, follow-up 1 at day 60), CT and PET series per time point, two
lesions per time point except S2's follow-up (one lesion). Per lesion: ``volume`` (mL, CT), ``suv_max`` (SUVbw,
PET), ``stat_mean`` (unitless, on CT *and* on PET: the same name from two sources), ``glcm_contrast`` (NaN for
one lesion: undefined values must survive the export).
"""

from __future__ import annotations

import math
from datetime import datetime

from imagebio.store import MeasurementRow, record_measurements, upsert_roi
from imagebio.store.writers import hash_settings, upsert_series, upsert_subject, upsert_timepoint

#: (subject, timepoint label, days since baseline, lesions)
VISITS = [
    ("S1", "baseline", 0, ("lesion_1", "lesion_2")),
    ("S1", "follow-up 1", 60, ("lesion_1", "lesion_2")),
    ("S2", "baseline", 0, ("lesion_1", "lesion_2")),
    ("S2", "follow-up 1", 60, ("lesion_1",)),
]
RADIOMICS_HASH = hash_settings({"preset": "test", "bin_width": 25})
VOLUME_HASH = hash_settings({"volume": "mask"})
PET_HASH = hash_settings({"pet": "default"})


def _value(subject: str, visit: int, lesion: int, name: str) -> float:
    """A distinct, reproducible value per cell (NaN for one undefined texture feature)."""
    if name == "glcm_contrast" and (subject, visit, lesion) == ("S2", 0, 2):
        return math.nan
    base = {"volume": 10.0, "suv_max": 3.0, "stat_mean_CT": 40.0, "stat_mean_PT": 2.5, "glcm_contrast": 7.0}[name]
    return base + 1.25 * lesion + 0.5 * visit + (0.1 if subject == "S2" else 0.0)


def build_store(store) -> dict[tuple, float]:
    """Write the measurements into ``store``; returns ``{(subject, timepoint, roi, modality, name, method,
    settings_hash): value}`` of everything written."""
    expected: dict[tuple, float] = {}
    with store.session() as session:
        for index, (patient, label, days, lesions) in enumerate(VISITS):
            subject = upsert_subject(session, patient)
            visit = 0 if label == "baseline" else 1
            timepoint = upsert_timepoint(
                session, subject, f"1.2.826.0.1.3680043.10.{index}", study_datetime=datetime(2020, 1 + 2 * visit, 1),
                label=label, days_since_baseline=days,
            )
            ct = upsert_series(session, timepoint, f"1.2.826.0.1.3680043.11.{index}", modality="CT")
            pt = upsert_series(session, timepoint, f"1.2.826.0.1.3680043.12.{index}", modality="PT")
            rows = []
            for lesion_name in lesions:
                lesion = int(lesion_name[-1])
                roi = upsert_roi(session, subject, lesion_name, timepoint=timepoint, lesion_id=f"L{lesion}")
                cells = [
                    (ct, "volume", "mL", "mask_volume", VOLUME_HASH, "volume"),
                    (pt, "suv_max", "SUVbw", "pet_lesion_metrics", PET_HASH, "suv_max"),
                    (ct, "stat_mean", None, "radiomics_ibsi_test", RADIOMICS_HASH, "stat_mean_CT"),
                    (pt, "stat_mean", None, "radiomics_ibsi_test", RADIOMICS_HASH, "stat_mean_PT"),
                    (ct, "glcm_contrast", None, "radiomics_ibsi_test", RADIOMICS_HASH, "glcm_contrast"),
                ]
                for series, name, unit, method, digest, key in cells:
                    value = _value(patient, visit, lesion, key)
                    rows.append(MeasurementRow(roi_id=roi.id, series_id=series.id, name=name, value=value, unit=unit,
                                               method=method, settings_hash=digest))
                    expected[(patient, label, lesion_name, series.modality, name, method, digest)] = value
            record_measurements(session, rows)
    return expected


def add_volume_with_new_settings(store) -> str:
    """Record ``volume`` of S1 baseline lesion_1 again under other settings (kept beside the old value)."""
    from sqlalchemy import select

    from imagebio.store.models import Roi, Series, Subject, Timepoint

    digest = hash_settings({"volume": "mask", "resample": True})
    with store.session() as session:
        roi = session.scalars(
            select(Roi).join(Subject, Roi.subject_id == Subject.id).join(Timepoint, Roi.timepoint_id == Timepoint.id)
            .where(Subject.patient_id == "S1", Timepoint.label == "baseline", Roi.name == "lesion_1")
        ).one()
        ct = session.scalars(
            select(Series).where(Series.timepoint_id == roi.timepoint_id, Series.modality == "CT")
        ).one()
        record_measurements(session, [MeasurementRow(roi_id=roi.id, series_id=ct.id, name="volume", value=99.0,
                                                     unit="mL", method="mask_volume", settings_hash=digest)])
    return digest


def same_value(a, b) -> bool:
    """Equality with NaN == NaN (undefined values)."""
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or a == b
