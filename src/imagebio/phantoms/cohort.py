"""Write the digital-patient cohort (designed in :mod:`imagebio.phantoms.digital_patients`) as DICOM with its truth.

Layout: ``out_dir/dicom/<PatientID>/<baseline|followup>/<CT|PT|DWI|VFA|DCE|SEG>/*.dcm`` and
``out_dir/ground_truth.json`` (:mod:`imagebio.phantoms.ground_truth`). Every series of a visit lies on
:data:`~imagebio.phantoms.digital_patients.GRID` and shares one StudyInstanceUID and one FrameOfReferenceUID; the
SEG references the CT slices. All UIDs, dates and times derive from the seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.phantoms.digital_patients import (
    BODY_CENTRE_XYZ_MM,
    BODY_SEMI_AXES_MM,
    DCE_PROTOCOL,
    DWI_B_VALUES_S_PER_MM2,
    FAT_THICKNESS_MM,
    FDG_HALF_LIFE_S,
    GRID,
    LESION_S0_DCE,
    LESION_S0_DWI,
    LIVER_CENTRE_XYZ_MM,
    LIVER_SEMI_AXES_MM,
    PET_FRAME_DURATION_S,
    TIMEPOINTS,
    TISSUES,
    DceProtocol,
    LesionDesign,
    PatientDesign,
    VisitDesign,
    dce_signals,
    vfa_signals,
    design_patient,
    dwi_signals,
    parameter_maps,
)
from imagebio.phantoms.dicom_writer import (
    CT_IMAGE_STORAGE,
    MR_IMAGE_STORAGE,
    PET_IMAGE_STORAGE,
    Grid,
    PatientInfo,
    PetAcquisition,
    SeriesInfo,
    StudyInfo,
    deterministic_uid,
    dicom_date,
    dicom_time,
    write_ct_series,
    write_lesion_seg,
    write_mr_series,
    write_pet_series,
)
from imagebio.phantoms.ground_truth import (
    CohortManifest,
    LesionTruth,
    PatientTruth,
    PetTruth,
    SeriesTruth,
    TimepointTruth,
)

__all__ = ["DWI_SERIES_ATTRIBUTES", "generate_cohort"]

ProgressCallback = Callable[[int, int], None]


def _pet_truth(visit: VisitDesign) -> PetTruth:
    uptake_s = (visit.pet_datetime - visit.injection_datetime).total_seconds()
    decayed = visit.injected_dose_bq * 2.0 ** (-uptake_s / FDG_HALF_LIFE_S)
    return PetTruth(
        injected_dose_bq=visit.injected_dose_bq,
        injection_datetime=visit.injection_datetime.isoformat(),
        acquisition_datetime=visit.pet_datetime.isoformat(),
        uptake_time_s=uptake_s,
        half_life_s=FDG_HALF_LIFE_S,
        frame_duration_s=PET_FRAME_DURATION_S,
        patient_weight_kg=visit.weight_kg,
        decayed_dose_bq=decayed,
        bq_per_ml_per_suv=decayed / (visit.weight_kg * 1000.0),
    )


def _lesion_truth(lesion: LesionDesign, mask: np.ndarray, pet: PetTruth, grid: Grid) -> LesionTruth:
    n_voxels = int(mask.sum())
    return LesionTruth(
        name=lesion.name,
        centre_xyz_mm=lesion.centre_xyz_mm,
        radius_mm=lesion.radius_mm,
        diameter_mm=2.0 * lesion.radius_mm,
        volume_ml_analytic=4.0 / 3.0 * math.pi * lesion.radius_mm**3 / 1000.0,
        volume_ml_voxelised=n_voxels * grid.voxel_volume_ml,
        n_voxels=n_voxels,
        hu=lesion.hu,
        suv_max=lesion.suv_bw,
        suv_mean=lesion.suv_bw,
        activity_bq_per_ml=lesion.suv_bw * pet.bq_per_ml_per_suv,
        adc_mm2_per_s=lesion.adc_mm2_per_s,
        s0_dwi=LESION_S0_DWI,
        ktrans_per_min=lesion.ktrans_per_min,
        ve=lesion.ve,
        t1_s=lesion.t1_s,
        is_new=lesion.is_new,
    )


#: MR Image attributes of the DWI series (single-shot fat-suppressed EPI, trace-weighted images).
DWI_SERIES_ATTRIBUTES = {
    "ScanningSequence": "EP", "SequenceVariant": ["SK", "SP"], "ScanOptions": "FS", "MRAcquisitionType": "2D",
    "RepetitionTime": "4000", "EchoTime": "70", "FlipAngle": "90", "MagneticFieldStrength": "1.5",
    "ImagingFrequency": "63.87", "ImagedNucleus": "1H", "EchoTrainLength": 64, "NumberOfAverages": "3",
}


def _dwi_frame_attributes(visit: VisitDesign) -> list[dict[str, object]]:
    """Per-b-value attributes: the standard DiffusionBValue (0018,9087) and one minute per b-value."""
    return [
        {
            "DiffusionBValue": float(b),
            "DiffusionDirectionality": "ISOTROPIC" if b > 0 else "NONE",
            "AcquisitionTime": dicom_time(visit.dwi_datetime + timedelta(seconds=60 * i)),
        }
        for i, b in enumerate(DWI_B_VALUES_S_PER_MM2)
    ]


def _dce_series_attributes_common(protocol: DceProtocol) -> dict[str, object]:
    """Sequence attributes shared by the VFA and DCE series (3D spoiled gradient echo); TR and TE in ms."""
    return {
        "ScanningSequence": "GR", "SequenceVariant": "SP", "MRAcquisitionType": "3D",
        "RepetitionTime": f"{protocol.tr_s * 1000:g}", "EchoTime": f"{protocol.te_s * 1000:g}",
        "MagneticFieldStrength": "1.5", "ImagingFrequency": "63.87", "ImagedNucleus": "1H",
        "ScanOptions": "", "EchoTrainLength": 1,
    }


def _dce_series_attributes(visit: VisitDesign, protocol: DceProtocol) -> dict[str, object]:
    """MR Image attributes of the DCE series; flip angle in degrees."""
    return {
        **_dce_series_attributes_common(protocol),
        "FlipAngle": f"{protocol.flip_angle_deg:g}", "NumberOfTemporalPositions": protocol.n_frames,
        "TemporalResolution": f"{protocol.temporal_resolution_s * 1000:g}",
        "ContrastBolusAgent": "Gadoterate",
        "ContrastBolusStartTime": dicom_time(visit.dce_datetime + timedelta(seconds=protocol.aif_delay_s)),
    }


def _vfa_series_attributes(protocol: DceProtocol) -> dict[str, object]:
    """The VFA T1 series: the DCE sequence without contrast, one frame per flip angle (FlipAngle per frame)."""
    attributes = _dce_series_attributes_common(protocol)
    return attributes


def _vfa_frame_attributes(visit: VisitDesign, protocol: DceProtocol) -> list[dict[str, object]]:
    """Per-flip-angle attributes; the VFA frames are acquired one minute apart before the DCE series."""
    start = visit.dce_datetime - timedelta(minutes=len(protocol.vfa_flip_angles_deg) + 1)
    return [
        {"FlipAngle": f"{angle:g}", "AcquisitionTime": dicom_time(start + timedelta(minutes=i))}
        for i, angle in enumerate(protocol.vfa_flip_angles_deg)
    ]


def _dce_frame_attributes(visit: VisitDesign, protocol: DceProtocol) -> list[dict[str, object]]:
    """Per-frame timing: TemporalPositionIdentifier (1-based) and Acquisition/Content Time.

    TriggerTime is not written: the MR Image module allows it only for gated acquisitions (PS3.3 C.8.3.1).
    """
    attributes = []
    for f, t in enumerate(protocol.frame_times_s):
        when = dicom_time(visit.dce_datetime + timedelta(seconds=float(t)))
        attributes.append(
            {"TemporalPositionIdentifier": f + 1, "AcquisitionTime": when, "ContentTime": when}
        )
    return attributes


def _write_visit(
    root: Path, seed: int, patient: PatientDesign, visit: VisitDesign, protocol: DceProtocol
) -> TimepointTruth:
    def uid(*parts: str) -> str:
        return deterministic_uid("imagebio-digital-cohort", seed, patient.patient_id, visit.name, *parts)

    info = PatientInfo(
        patient_id=patient.patient_id,
        patient_name=patient.patient_name,
        sex=patient.sex,
        age_years=patient.age_years + (visit.days_from_baseline // 365),
        weight_kg=visit.weight_kg,
        height_m=patient.height_m,
        birth_date=patient.birth_date,
    )
    study = StudyInfo(
        study_uid=uid("study"),
        frame_of_reference_uid=uid("frame-of-reference"),
        study_datetime=visit.ct_datetime,
        study_id=f"{visit.days_from_baseline:03d}",
        accession_number=f"A{seed:03d}{patient.patient_id[-3:]}{visit.days_from_baseline:03d}",
        description=f"Digital patient {visit.name} (day {visit.days_from_baseline})",
    )
    folder = Path("dicom") / patient.patient_id / visit.name
    classes, table, masks = parameter_maps(visit.lesions)
    pet = _pet_truth(visit)
    series_truth: dict[str, SeriesTruth] = {}

    def series(key: str, number: int, description: str, when: datetime) -> SeriesInfo:
        return SeriesInfo(uid(key, "series"), number, description, when, (str(seed), patient.patient_id,
                                                                         visit.name, key))

    def record(key: str, modality: str, info_: SeriesInfo, paths: list[Path], sop: str) -> None:
        series_truth[key] = SeriesTruth(key, modality, info_.series_uid, (folder / key).as_posix(), len(paths),
                                        str(sop))

    ct = series("CT", 2, "CT abdomen (digital)", visit.ct_datetime)
    ct_paths = write_ct_series(root / folder / "CT", table["hu"][classes], GRID, info, study, ct)
    record("CT", "CT", ct, ct_paths, CT_IMAGE_STORAGE)

    pt = series("PT", 3, "FDG PET AC (digital)", visit.pet_datetime)
    acquisition = PetAcquisition(visit.injected_dose_bq, visit.injection_datetime, FDG_HALF_LIFE_S,
                                 PET_FRAME_DURATION_S)
    bq_per_ml = table["suv_bw"][classes] * pet.bq_per_ml_per_suv
    record("PT", "PT", pt, write_pet_series(root / folder / "PT", bq_per_ml, GRID, info, study, pt, acquisition),
           PET_IMAGE_STORAGE)

    dwi = series("DWI", 4, "DWI b0-100-500-800 trace (digital)", visit.dwi_datetime)
    dwi_paths = write_mr_series(
        root / folder / "DWI", dwi_signals(classes, table), _dwi_frame_attributes(visit), GRID, info, study, dwi,
        DWI_SERIES_ATTRIBUTES, image_type=("ORIGINAL", "PRIMARY", "DIFFUSION", "TRACEW"),
    )
    record("DWI", "MR", dwi, dwi_paths, MR_IMAGE_STORAGE)

    vfa = series("VFA", 6, "VFA T1 SPGR pre-contrast (digital)", visit.dce_datetime)
    vfa_paths = write_mr_series(
        root / folder / "VFA", vfa_signals(classes, table, protocol), _vfa_frame_attributes(visit, protocol), GRID,
        info, study, vfa, _vfa_series_attributes(protocol),
    )
    record("VFA", "MR", vfa, vfa_paths, MR_IMAGE_STORAGE)

    dce = series("DCE", 5, "DCE SPGR dynamic (digital)", visit.dce_datetime)
    dce_paths = write_mr_series(
        root / folder / "DCE", dce_signals(classes, table, protocol), _dce_frame_attributes(visit, protocol), GRID,
        info, study, dce, _dce_series_attributes(visit, protocol),
    )
    record("DCE", "MR", dce, dce_paths, MR_IMAGE_STORAGE)

    seg = series("SEG", 900, "Lesions ground truth (SEG)", visit.ct_datetime)
    seg_path = root / folder / "SEG" / "SEG00001.dcm"
    sop = write_lesion_seg(masks, ct_paths, seg_path, seg)
    series_truth["SEG"] = SeriesTruth("SEG", "SEG", seg.series_uid, (folder / "SEG").as_posix(), 1, sop)

    return TimepointTruth(
        name=visit.name,
        days_from_baseline=visit.days_from_baseline,
        study_date=dicom_date(study.study_datetime),
        study_time=dicom_time(study.study_datetime),
        study_uid=study.study_uid,
        frame_of_reference_uid=study.frame_of_reference_uid,
        series=series_truth,
        pet=pet,
        lesions=[_lesion_truth(les, masks[les.name], pet, GRID) for les in visit.lesions],
    )


def _cohort_description(protocol: DceProtocol) -> tuple[dict, dict, dict]:
    grid = {
        "shape_zyx": list(GRID.shape_zyx),
        "spacing_zyx_mm": list(GRID.spacing_zyx_mm),
        "origin_xyz_mm": list(GRID.origin_xyz_mm),
        "direction": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        "voxel_volume_ml": GRID.voxel_volume_ml,
        "anatomy": {
            "body_centre_xyz_mm": list(BODY_CENTRE_XYZ_MM),
            "body_semi_axes_mm": list(BODY_SEMI_AXES_MM),
            "fat_thickness_mm": FAT_THICKNESS_MM,
            "liver_centre_xyz_mm": list(LIVER_CENTRE_XYZ_MM),
            "liver_semi_axes_mm": list(LIVER_SEMI_AXES_MM),
        },
    }
    from imagebio.perfusion.aif import ParkerParameters, parker_aif

    aif = parker_aif(protocol.frame_times_s, delay_s=protocol.aif_delay_s, hct=protocol.hct)
    acquisition = {
        "pet": {"radiopharmaceutical": "FDG", "half_life_s": FDG_HALF_LIFE_S, "frame_duration_s": PET_FRAME_DURATION_S,
                "units": "BQML", "decay_correction": "START"},
        "dwi": {"b_values_s_per_mm2": list(DWI_B_VALUES_S_PER_MM2), "lesion_s0": LESION_S0_DWI,
                "noise": "none (signals rounded to integers)"},
        "dce": {
            "n_frames": protocol.n_frames,
            "temporal_resolution_s": protocol.temporal_resolution_s,
            "frame_times_s": protocol.frame_times_s.tolist(),
            "flip_angle_deg": protocol.flip_angle_deg,
            "vfa_flip_angles_deg": list(protocol.vfa_flip_angles_deg),
            "tr_s": protocol.tr_s,
            "te_s": protocol.te_s,
            "relaxivity_per_mM_per_s": protocol.relaxivity_per_mM_per_s,
            "hct": protocol.hct,
            "lesion_s0": LESION_S0_DCE,
            "model": "tofts",
            "signal_model": "SPGR, R1 = 1/T1 + r1 C (fast exchange)",
            "model_step_s": protocol.model_step_s,
            "aif": {
                "model": "parker2006",
                "blood_or_plasma": "plasma (Cb / (1 - hct))",
                "delay_s": protocol.aif_delay_s,
                "parameters": dict(vars(ParkerParameters())),
                "plasma_mM_at_frames": aif.tolist(),
            },
        },
    }
    tissues = {name: {k: v for k, v in props.items()} for name, props in TISSUES.items()}
    return grid, tissues, acquisition


def _is_integer(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def generate_cohort(
    out_dir: str | Path, n_patients: int = 4, seed: int = 0, progress: ProgressCallback | None = None
) -> CohortManifest:
    """Write the digital-patient cohort as DICOM plus ``ground_truth.json``.

    Layout: ``out_dir/dicom/<PatientID>/<baseline|followup>/<CT|PT|DWI|VFA|DCE|SEG>/*.dcm`` and
    ``out_dir/ground_truth.json``. All series of a visit share one grid, one StudyInstanceUID and one
    FrameOfReferenceUID; the SEG references the CT slices.

    Parameters
    ----------
    out_dir : str or Path
        Cohort folder (created; existing files with the same names are overwritten).
    n_patients : int
        Number of patients (>= 1). Patient ``i`` depends only on ``(seed, i)``.
    seed : int
        Seed of every random choice, date and UID (>= 0). The same seed gives byte-identical files.
    progress : callable, optional
        ``progress(done, total)`` after each visit written.

    Returns
    -------
    CohortManifest
        The ground truth, also written to ``out_dir/ground_truth.json``.
    """
    if not _is_integer(n_patients) or n_patients < 1:
        raise InvalidParameterError("n_patients", n_patients, "an integer >= 1")
    if not _is_integer(seed) or seed < 0:
        raise InvalidParameterError("seed", seed, "an integer >= 0")
    n_patients, seed = int(n_patients), int(seed)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    protocol = DCE_PROTOCOL
    total = n_patients * len(TIMEPOINTS)
    done = 0
    patients = []
    for index in range(n_patients):
        design = design_patient(index, seed)
        timepoints = []
        for visit in design.visits:
            timepoints.append(_write_visit(root, seed, design, visit, protocol))
            done += 1
            if progress is not None:
                progress(done, total)
        patients.append(
            PatientTruth(
                patient_id=design.patient_id,
                patient_name=design.patient_name,
                sex=design.sex,
                age_years=design.age_years,
                weight_kg=design.visits[0].weight_kg,
                height_m=design.height_m,
                response_category=design.response_category,
                timepoints=timepoints,
            )
        )
    grid, tissues, acquisition = _cohort_description(protocol)
    manifest = CohortManifest(
        root=root,
        seed=int(seed),
        grid=grid,
        tissues=tissues,
        acquisition=acquisition,
        patients=patients,
        notes=[
            "Values are uniform inside each lesion: SUVmax = SUVmean; ADC, Ktrans, ve exact over the SEG mask.",
            "volume_ml_voxelised counts voxels whose centre lies inside the sphere (the SEG mask).",
            "SUVbw = Bq/mL × weight_g / (dose × 2^(-uptake/T½)); weight is the visit's PatientWeight.",
            "DCE tissue curves: Tofts model with the plasma Parker AIF sampled every model_step_s (= frame interval)"
            " and taken as linear between samples, the convention of imagebio.perfusion fits of the frames.",
        ],
    )
    manifest.write_json()
    return manifest
