"""Tests of the digital-patient cohort: files, tags, determinism, SUV, volumes, SEG, response design."""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest

from imagebio.errors import InvalidParameterError
from imagebio.phantoms import generate_cohort, load_manifest
from imagebio.phantoms.digital_patients import (
    DCE_PROTOCOL,
    DWI_B_VALUES_S_PER_MM2,
    GRID,
    RESPONSE_CATEGORIES,
    TISSUES,
    design_patient,
    lesion_masks,
    tissue_labels,
)

SOP_CLASS = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "PT": "1.2.840.10008.5.1.4.1.1.128",
    "DWI": "1.2.840.10008.5.1.4.1.1.4",
    "DCE": "1.2.840.10008.5.1.4.1.1.4",
    "VFA": "1.2.840.10008.5.1.4.1.1.4",
    "SEG": "1.2.840.10008.5.1.4.1.1.66.4",
}
MODALITY = {"CT": "CT", "PT": "PT", "DWI": "MR", "DCE": "MR", "VFA": "MR", "SEG": "SEG"}


def _hashes(root: Path, under: str = "") -> dict[str, str]:
    base = root / under
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def _visits(manifest):
    for patient in manifest.patients:
        for tp in patient.timepoints:
            yield patient, tp


# ------------------------------------------------------------------------------------------------ determinism
def test_same_seed_gives_byte_identical_files_and_patients_do_not_depend_on_cohort_size(cohort, tmp_path):
    manifest, _ = cohort
    again = generate_cohort(tmp_path / "again", n_patients=1, seed=0)
    patient_dir = f"dicom/{again.patients[0].patient_id}"
    hashes = _hashes(again.root, patient_dir)
    n_mr_frames = len(DWI_B_VALUES_S_PER_MM2) + len(DCE_PROTOCOL.vfa_flip_angles_deg) + DCE_PROTOCOL.n_frames
    assert len(hashes) == 2 * (GRID.shape_zyx[0] * (2 + n_mr_frames) + 1)
    # patient 1 of the 4-patient cohort, written separately, is the same patient file for file
    assert _hashes(manifest.root, patient_dir) == hashes
    assert again.patients[0] == manifest.patients[0]
    truth = json.loads(again.ground_truth_path.read_text(encoding="utf-8"))
    assert truth["patients"][0] == json.loads(manifest.ground_truth_path.read_text(encoding="utf-8"))["patients"][0]


def test_another_seed_gives_other_uids_and_values(cohort, tmp_path):
    manifest, _ = cohort
    other = generate_cohort(tmp_path / "s1", n_patients=1, seed=1)
    tp0, tp1 = manifest.patients[0].timepoints[0], other.patients[0].timepoints[0]
    assert tp0.study_uid != tp1.study_uid
    assert tp0.series["CT"].series_uid != tp1.series["CT"].series_uid
    assert [les.radius_mm for les in tp0.lesions] != [les.radius_mm for les in tp1.lesions]


def test_progress_reports_every_visit(cohort):
    _, calls = cohort
    assert calls == [(i, 8) for i in range(1, 9)]


@pytest.mark.parametrize("kwargs", [{"n_patients": 0}, {"n_patients": 1.5}, {"n_patients": "2"}, {"seed": -1}])
def test_invalid_arguments_raise(tmp_path, kwargs):
    with pytest.raises(InvalidParameterError):
        generate_cohort(tmp_path, **kwargs)


def test_ground_truth_json_round_trips(cohort):
    manifest, _ = cohort
    assert manifest.ground_truth_path.is_file()
    assert load_manifest(manifest.root) == manifest


# ------------------------------------------------------------------------------------------------ tags
def test_every_file_reads_back_with_consistent_uids_and_expected_tags(cohort):
    manifest, _ = cohort
    sop_uids = set()
    for patient, tp in _visits(manifest):
        for key, series in tp.series.items():
            files = sorted((manifest.root / series.folder).glob("*.dcm"))
            assert len(files) == series.n_files
            positions = defaultdict(int)
            for path in files:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
                assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
                assert ds.SOPClassUID == ds.file_meta.MediaStorageSOPClassUID == SOP_CLASS[key]
                assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
                assert ds.SOPInstanceUID not in sop_uids
                sop_uids.add(ds.SOPInstanceUID)
                assert ds.Modality == MODALITY[key]
                assert (ds.StudyInstanceUID, ds.SeriesInstanceUID) == (tp.study_uid, series.series_uid)
                assert ds.FrameOfReferenceUID == tp.frame_of_reference_uid
                assert (ds.PatientID, ds.PatientSex) == (patient.patient_id, patient.sex)
                assert float(ds.PatientWeight) == tp.pet.patient_weight_kg
                assert float(ds.PatientSize) == patient.height_m
                assert ds.PatientAge == f"{patient.age_years:03d}Y"
                assert (ds.StudyDate, ds.StudyTime) == (tp.study_date, tp.study_time)
                if key == "SEG":
                    continue
                assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
                assert [float(v) for v in ds.PixelSpacing] == list(GRID.spacing_zyx_mm[1:])
                assert float(ds.SliceThickness) == float(ds.SpacingBetweenSlices) == GRID.spacing_zyx_mm[0]
                assert (ds.Rows, ds.Columns) == GRID.shape_zyx[1:]
                x, y, z = (float(v) for v in ds.ImagePositionPatient)
                assert (x, y) == GRID.origin_xyz_mm[:2]
                k = (z - GRID.origin_xyz_mm[2]) / GRID.spacing_zyx_mm[0]
                assert k == pytest.approx(round(k), abs=1e-6)
                positions[round(k)] += 1
            if key != "SEG":
                # every frame / b-value covers the same slice positions
                assert sorted(positions) == list(range(GRID.shape_zyx[0]))
                assert len(set(positions.values())) == 1


def test_modality_specific_tags(cohort):
    manifest, _ = cohort
    _, tp = next(_visits(manifest))
    folder = lambda key: manifest.root / tp.series[key].folder  # noqa: E731
    ct = pydicom.dcmread(next(folder("CT").glob("*.dcm")), stop_before_pixels=True)
    assert (float(ct.RescaleSlope), float(ct.RescaleIntercept), ct.RescaleType) == (1.0, -1024.0, "HU")
    assert ct.PixelRepresentation == 1 and ct.BitsAllocated == 16

    pt = pydicom.dcmread(next(folder("PT").glob("*.dcm")), stop_before_pixels=True)
    assert (pt.Units, pt.DecayCorrection) == ("BQML", "START")
    assert {"DECY", "ATTN"} <= set(pt.CorrectedImage)
    rad = pt.RadiopharmaceuticalInformationSequence[0]
    assert float(rad.RadionuclideHalfLife) == 6586.2
    assert float(rad.RadionuclideTotalDose) == tp.pet.injected_dose_bq
    assert (pt.SeriesDate, pt.SeriesTime) == (pt.AcquisitionDate, pt.AcquisitionTime)
    assert int(pt.ActualFrameDuration) == 180000 and float(pt.FrameReferenceTime) > 0

    b_values, dwi_positions = [], defaultdict(set)
    for path in sorted(folder("DWI").glob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert 0x00189087 in ds  # DiffusionBValue, standard tag
        b_values.append(float(ds.DiffusionBValue))
        dwi_positions[float(ds.DiffusionBValue)].add(float(ds.ImagePositionPatient[2]))
    assert sorted(set(b_values)) == list(DWI_B_VALUES_S_PER_MM2)
    assert len({frozenset(p) for p in dwi_positions.values()}) == 1

    dce = manifest.acquisition["dce"]
    frames = defaultdict(set)
    for path in sorted(folder("DCE").glob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert float(ds.FlipAngle) == dce["flip_angle_deg"]
        assert float(ds.RepetitionTime) == pytest.approx(dce["tr_s"] * 1000.0)
        frames[int(ds.TemporalPositionIdentifier)].add(ds.AcquisitionTime)
    assert sorted(frames) == list(range(1, dce["n_frames"] + 1))
    assert all(len(v) == 1 for v in frames.values())  # one time per frame across its slices
    times = [datetime.strptime(next(iter(frames[f])).split(".")[0], "%H%M%S") for f in sorted(frames)]
    frame_s = [(t - times[0]).total_seconds() for t in times]
    assert frame_s == pytest.approx(dce["frame_times_s"])


# ------------------------------------------------------------------------------------------------ SUV by hand
def _dicom_datetime(date: str, time: str) -> datetime:
    return datetime.strptime(date + time.split(".")[0], "%Y%m%d%H%M%S")


def test_suv_from_tags_by_hand_matches_the_designed_suv(cohort):
    manifest, _ = cohort
    for patient, tp in _visits(manifest):
        slices = [pydicom.dcmread(p) for p in sorted((manifest.root / tp.series["PT"].folder).glob("*.dcm"))]
        slices.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
        first = slices[0]
        rad = first.RadiopharmaceuticalInformationSequence[0]
        start = datetime.strptime(rad.RadiopharmaceuticalStartDateTime, "%Y%m%d%H%M%S")
        series_start = _dicom_datetime(first.SeriesDate, first.SeriesTime)
        decayed = float(rad.RadionuclideTotalDose) * 2.0 ** (
            -(series_start - start).total_seconds() / float(rad.RadionuclideHalfLife)
        )
        suv_per_bq_ml = float(first.PatientWeight) * 1000.0 / decayed
        suv = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in slices])
        suv = suv * suv_per_bq_ml
        # int16 storage: each voxel is within half a rescale step of the designed value
        half_step = np.array([float(ds.RescaleSlope) for ds in slices])[:, None, None] / 2.0 * suv_per_bq_ml
        masks = lesion_masks(_design_visit(patient.patient_id, tp.name).lesions)
        for lesion in tp.lesions:
            inside = masks[lesion.name]
            assert np.all(np.abs(suv - lesion.suv_max)[inside] <= np.broadcast_to(half_step, suv.shape)[inside] + 1e-9)
            assert suv[inside].max() == pytest.approx(lesion.suv_max, rel=1e-4)
            assert suv[inside].mean() == pytest.approx(lesion.suv_mean, rel=1e-4)
        liver = tissue_labels() == TISSUES["liver"]["label"]
        assert suv[liver & ~np.any(list(masks.values()), axis=0)].mean() == pytest.approx(2.0, rel=1e-4)
        assert tp.pet.bq_per_ml_per_suv == pytest.approx(1.0 / suv_per_bq_ml, rel=1e-12)


def _design_visit(patient_id: str, name: str):
    seed, index = patient_id[2:].split("-")
    design = design_patient(int(index) - 1, int(seed))
    return next(v for v in design.visits if v.name == name)


# ------------------------------------------------------------------------------------------------ volumes
def test_voxelised_lesion_volumes_are_within_2_percent_of_the_sphere_volume(cohort):
    manifest, _ = cohort
    for _, tp in _visits(manifest):
        for lesion in tp.lesions:
            assert lesion.volume_ml_analytic == pytest.approx(4.0 / 3.0 * math.pi * lesion.radius_mm**3 / 1000.0)
            assert lesion.volume_ml_voxelised == pytest.approx(lesion.n_voxels * GRID.voxel_volume_ml)
            assert abs(lesion.volume_ml_voxelised / lesion.volume_ml_analytic - 1.0) < 0.02


def test_lesion_design_holds_over_many_seeds():
    """Over seeds 0-9 (80 patients): lesions voxelise within 2 %, stay in the body, never touch each other."""
    body = tissue_labels() > 0
    for seed in range(10):
        for index in range(8):
            for visit in design_patient(index, seed).visits:
                masks = lesion_masks(visit.lesions)
                stacked = np.stack(list(masks.values()))
                assert stacked.sum(axis=0).max() <= 1
                for lesion in visit.lesions:
                    mask = masks[lesion.name]
                    assert body[mask].all()
                    volume = mask.sum() * GRID.voxel_volume_ml
                    assert abs(volume / (4.0 / 3.0 * math.pi * lesion.radius_mm**3 / 1000.0) - 1.0) < 0.02


# ------------------------------------------------------------------------------------------------ response design
def test_response_categories_follow_their_definitions():
    seen = set()
    for seed in range(5):
        for index in range(6):
            design = design_patient(index, seed)
            seen.add(design.response_category)
            base, follow = design.visits
            assert follow.days_from_baseline == 56
            before = {les.name: les for les in base.lesions}
            after = {les.name: les for les in follow.lesions}
            assert set(before) <= set(after)
            assert all(after[name].is_new for name in set(after) - set(before))
            assert all(after[n].centre_xyz_mm == before[n].centre_xyz_mm for n in before)
            pairs = [(before[n], after[n]) for n in before]
            sum_before = sum(2 * b.radius_mm for b, _ in pairs)
            sum_after = sum(2 * a.radius_mm for _, a in pairs)
            if design.response_category == "responder":
                assert all(a.radius_mm <= 0.7 * b.radius_mm for b, a in pairs)  # >= 30 % diameter decrease
                assert all(a.suv_bw < b.suv_bw and a.ktrans_per_min < b.ktrans_per_min for b, a in pairs)
                assert all(a.adc_mm2_per_s > b.adc_mm2_per_s for b, a in pairs)
                assert len(after) == len(before)
            elif design.response_category == "non_responder":
                assert sum_after >= 1.2 * sum_before and sum_after - sum_before >= 5.0
                assert all(a.suv_bw > b.suv_bw for b, a in pairs)
            else:
                assert abs(sum_after / sum_before - 1.0) <= 0.05
                assert len(after) == len(before)
    assert seen == set(RESPONSE_CATEGORIES)


def test_lesions_keep_their_names_and_centres_in_the_truth(cohort):
    manifest, _ = cohort
    assert {p.response_category for p in manifest.patients} == set(RESPONSE_CATEGORIES)
    for patient in manifest.patients:
        base, follow = patient.timepoints
        for lesion in base.lesions:
            assert follow.lesion(lesion.name).centre_xyz_mm == lesion.centre_xyz_mm


# ------------------------------------------------------------------------------------------------ SEG
def test_seg_reads_back_with_highdicom_to_the_generator_masks(cohort):
    import highdicom as hd

    manifest, _ = cohort
    for patient, tp in _visits(manifest):
        ct_files = sorted((manifest.root / tp.series["CT"].folder).glob("*.dcm"))
        ct_uids = [pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in ct_files]
        seg = hd.seg.segread(next((manifest.root / tp.series["SEG"].folder).glob("*.dcm")))
        assert seg.SeriesInstanceUID == tp.series["SEG"].series_uid
        assert seg.FrameOfReferenceUID == tp.frame_of_reference_uid
        labels = [s.SegmentLabel for s in seg.SegmentSequence]
        assert labels == [les.name for les in tp.lesions]
        referenced = {item.SeriesInstanceUID for item in seg.ReferencedSeriesSequence}
        assert referenced == {tp.series["CT"].series_uid}
        pixels = seg.get_pixels_by_source_instance(ct_uids, segment_numbers=list(range(1, len(labels) + 1)))
        expected = lesion_masks(_design_visit(patient.patient_id, tp.name).lesions)
        for i, lesion in enumerate(tp.lesions):
            np.testing.assert_array_equal(pixels[..., i].astype(bool), expected[lesion.name])
            assert int(pixels[..., i].sum()) == lesion.n_voxels


# ------------------------------------------------------------------------------------------------ reading path
def test_reading_the_ct_with_imagebio_gives_the_lesion_hu(cohort):
    from imagebio.io.dicom import read_dicom_series

    manifest, _ = cohort
    for patient, tp in list(_visits(manifest))[:4]:
        ct = read_dicom_series(manifest.root / tp.series["CT"].folder)
        assert ct.array.shape == GRID.shape_zyx
        assert ct.spacing == pytest.approx(GRID.spacing_zyx_mm)
        assert ct.origin == pytest.approx(GRID.origin_xyz_mm)
        masks = lesion_masks(_design_visit(patient.patient_id, tp.name).lesions)
        for lesion in tp.lesions:
            values = ct.array[masks[lesion.name]]
            assert values.min() == values.max() == lesion.hu
        assert ct.array[0, 0, 0] == TISSUES["air"]["hu"]


@pytest.mark.slow
def test_dwi_adc_and_dce_ktrans_are_recovered_through_imagebio(cohort):
    """End to end on one patient: read the MR series with imagebio, fit ADC and Tofts with the truth protocol."""
    from imagebio.diffusion.adc import fit_adc
    from imagebio.io.dicom import read_dynamic_series
    from imagebio.perfusion.concentration import signal_to_concentration
    from imagebio.perfusion.dce import fit_roi_curve

    manifest, _ = cohort
    dce = manifest.acquisition["dce"]
    t = np.asarray(dce["frame_times_s"])
    cp = np.asarray(dce["aif"]["plasma_mM_at_frames"])
    n_baseline = int(np.sum(t < dce["aif"]["delay_s"]))
    patient = manifest.patients[0]
    for tp in patient.timepoints:
        dwi = read_dynamic_series(manifest.root / tp.series["DWI"].folder)
        frames = read_dynamic_series(manifest.root / tp.series["DCE"].folder)
        b = np.array([v.metadata["b_value_s_per_mm2"] for v in dwi])
        dwi_signal = np.stack([v.array for v in dwi], axis=-1)
        dce_signal = np.stack([v.array for v in frames], axis=-1)
        masks = lesion_masks(_design_visit(patient.patient_id, tp.name).lesions)
        for lesion in tp.lesions:
            inside = masks[lesion.name]
            adc = fit_adc(dwi_signal[inside].mean(axis=0), b)["adc_mm2_per_s"]
            # signals are noise-free but rounded to integers: ADC to 0.1 %
            assert float(adc) == pytest.approx(lesion.adc_mm2_per_s, rel=1e-3)
            conc = signal_to_concentration(
                dce_signal[inside].mean(axis=0), lesion.t1_s, dce["flip_angle_deg"], dce["tr_s"],
                dce["relaxivity_per_mM_per_s"], n_baseline=n_baseline,
            )
            fit = fit_roi_curve(t, conc, cp)
            assert fit["ktrans_per_min"] == pytest.approx(lesion.ktrans_per_min, rel=1e-2)
            assert fit["ve"] == pytest.approx(lesion.ve, rel=1e-2)
