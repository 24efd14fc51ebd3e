"""`imagebio export seg|pm|sr` from the store: SEG voxel-exact, maps equal the stored lesion values, dciodvfy-valid."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest

from imagebio.cli.main import main

from ._checks import dciodvfy_errors

pytestmark = pytest.mark.slow
WHEN = datetime(2024, 1, 2, 3, 4, 5)


def _export(kind, demo, subject, out, *extra):
    with pytest.raises(SystemExit) as info:
        main(["export", kind, "--subject", subject, "--db", demo.store_url, "--out", str(out), *extra, "--json"])
    return info.value.code


def _visit_ct_and_seg(demo, subject, visit):
    from imagebio.io.dicom import find_series, read_dicom_series

    folder = demo.cohort_dir / "dicom" / subject / visit
    ct = read_dicom_series(find_series(folder / "CT"))
    seg = next((folder / "SEG").glob("*.dcm"))
    return ct, seg


def test_seg_export_round_trip_is_voxel_exact(demo, demo_subject, tmp_path, capsys):
    from imagebio.io.seg import read_seg

    assert _export("seg", demo, demo_subject, tmp_path) in (0, None)
    files = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["files"]
    assert set(files) == {"baseline", "follow-up 1"}
    for label, visit in (("baseline", "baseline"), ("follow-up 1", "followup")):
        ct, original = _visit_ct_and_seg(demo, demo_subject, visit)
        (exported,) = files[label]
        before, after = read_seg(original, ct), read_seg(exported, ct)
        assert set(before) == set(after) and before
        for name in before:
            np.testing.assert_array_equal(after[name].array, before[name].array)
        assert dciodvfy_errors(exported) == []


def test_seg_export_is_reproducible(demo, demo_subject, tmp_path):
    from imagebio.report.export import export_seg
    from imagebio.store import open_store

    store = open_store(demo.store_url)
    try:
        first = export_seg(store, demo_subject, tmp_path / "a", timepoint="baseline", content_datetime=WHEN)
        second = export_seg(store, demo_subject, tmp_path / "b", timepoint="baseline", content_datetime=WHEN)
    finally:
        store.close()
    assert first.paths[0].read_bytes() == second.paths[0].read_bytes()


def test_adc_map_export_agrees_with_the_stored_lesion_adc(demo, demo_subject, tmp_path, capsys):
    from imagebio.io.masks import read_roi_masks
    from imagebio.io.nifti import read_image
    from imagebio.io.parametric_map import read_parametric_map
    from imagebio.store import open_store
    from imagebio.store.queries import measurements_frame

    assert _export("pm", demo, demo_subject, tmp_path, "--map", "adc", "--timepoint", "baseline") in (0, None)
    (dicom_map, nifti_map) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["files"]["baseline"]
    adc = read_parametric_map(dicom_map)
    assert adc.unit == "mm2/s" and adc.metadata["quantity"] == "Apparent Diffusion Coefficient"
    # NIfTI keeps the float64 map, the Parametric Map its float32 rounding
    np.testing.assert_array_equal(read_image(nifti_map).array.astype(np.float32).astype(np.float64), adc.array)
    assert dciodvfy_errors(dicom_map) == []
    _, seg = _visit_ct_and_seg(demo, demo_subject, "baseline")
    masks = read_roi_masks(seg, adc, resample=True)
    store = open_store(demo.store_url)
    try:
        with store.session(readonly=True) as session:
            stored = measurements_frame(session, subject=demo_subject, name="adc_mean")
    finally:
        store.close()
    stored = stored[stored.timepoint == "baseline"]
    assert len(stored)
    for row in stored.itertuples():
        inside = masks[row.roi].array
        # the stored value is the mean of the same voxel-wise fit (float64); the map holds float32
        assert float(adc.array[inside].mean()) == pytest.approx(row.value, rel=1e-6)


def test_suv_map_export_equals_the_pet_in_suvbw(demo, demo_subject, tmp_path):
    from imagebio.io.dicom import find_series
    from imagebio.io.parametric_map import read_parametric_map
    from imagebio.io.pet import read_pet
    from imagebio.report.export import export_pm
    from imagebio.store import open_store

    store = open_store(demo.store_url)
    try:
        result = export_pm(store, demo_subject, tmp_path, kind="suv", timepoint="baseline", nifti=False)
    finally:
        store.close()
    suv = read_parametric_map(result.paths[0])
    pet = read_pet(find_series(demo.cohort_dir / "dicom" / demo_subject / "baseline" / "PT"), quantity="suvbw")
    np.testing.assert_array_equal(suv.array, pet.array.astype(np.float32).astype(np.float64))
    assert suv.same_grid(pet) and suv.unit == "SUVbw"


def test_export_bad_input(demo, demo_subject, tmp_path, capsys):
    assert _export("pm", demo, demo_subject, tmp_path, "--map", "magic") == 2
    assert "magic" in capsys.readouterr().err
    assert _export("sr", demo, "NOBODY", tmp_path) == 2
    assert "NOBODY" in capsys.readouterr().err
