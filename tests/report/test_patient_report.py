"""`imagebio report patient`: HTML content equals the store, images embedded and not blank, PDF pages not blank."""

from __future__ import annotations

import html as html_lib
import json

import pytest

from imagebio.cli.main import main

from ._checks import embedded_pngs, pdf_pages_as_png, png_is_not_blank

pytestmark = pytest.mark.slow


def _cli(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.fixture(scope="module")
def report(demo, demo_subject, tmp_path_factory):
    out = tmp_path_factory.mktemp("patient_report") / "patient.html"
    with pytest.raises(SystemExit) as info:
        main(["report", "patient", demo_subject, "--db", demo.store_url, "--out", str(out), "--pdf", "--json"])
    assert info.value.code in (0, None)
    return out


@pytest.fixture(scope="module")
def stored(demo, demo_subject):
    from imagebio.store import open_store
    from imagebio.store.queries import measurements_frame

    store = open_store(demo.store_url)
    try:
        with store.session(readonly=True) as session:
            return measurements_frame(session, subject=demo_subject)
    finally:
        store.close()


def test_lesion_tables_hold_every_stored_value_with_its_unit(report, stored):
    text = report.read_text()
    lesions = stored[~stored.name.str.contains("response_") & stored.value.notna()]
    assert len(lesions) > 40
    for row in lesions.itertuples():
        assert f'data-value="{row.value!r}">{row.value:.6g}<' in text, (row.timepoint, row.roi, row.name)
        column = f"{row.name} ({row.unit})" if row.unit else row.name
        assert f"<th>{html_lib.escape(column)}</th>" in text
    for label in stored.timepoint.unique():
        assert label in text


def test_response_category_and_reasons_are_shown(report, demo, demo_subject):
    from imagebio.report.data import load_patient
    from imagebio.store import open_store

    store = open_store(demo.store_url)
    try:
        with store.session(readonly=True) as session:
            data = load_patient(session, demo_subject)
    finally:
        store.close()
    text = html_lib.unescape(report.read_text())
    assert data.responses
    for entry in data.responses:
        assert entry.category in text
        for reason in entry.reasons:
            assert reason in text


def test_images_are_embedded_and_not_blank(report):
    text = report.read_text()
    pngs = embedded_pngs(text)
    # timeline, spider, CT key image per lesion and visit (1 + 2), PET MIP and ADC map per visit (2 + 2)
    assert len(pngs) == 9
    assert all(png_is_not_blank(p) for p in pngs)
    assert "src=\"http" not in text and "<script" not in text  # self-contained
    for caption in ("PET MIP", "ADC map", "CT axial slice", "Spider plot"):
        assert caption in text


def test_missing_results_are_marked_not_available(report):
    text = report.read_text()
    assert "not available: no dosimetry results" in text
    assert "not available: no risk score" in text


def test_pdf_pages_are_not_blank(report, tmp_path):
    pdf = report.with_suffix(".pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    pages = pdf_pages_as_png(pdf, tmp_path)
    assert 1 <= len(pages) - 9 <= 3  # text pages (studies, tables, response), then one page per figure
    assert all(png_is_not_blank(p.read_bytes()) for p in pages)


def test_unknown_patient_is_a_clear_error(demo, tmp_path, capsys):
    code, _, err = _cli(["report", "patient", "NOBODY", "--db", demo.store_url, "--out", str(tmp_path / "x.html")],
                        capsys)
    assert code == 2
    assert "NOBODY" in err and "not in the store" in err
    assert not (tmp_path / "x.html").exists()


def test_patient_without_measurements_gets_marked_sections(demo, tmp_path, capsys):
    import shutil

    from imagebio.store import open_store, upsert_subject

    db = tmp_path / "copy.db"
    shutil.copy(demo.out_dir / "imagebio.db", db)
    store = open_store(db)
    try:
        with store.session() as session:
            upsert_subject(session, "EMPTY-001")
    finally:
        store.close()
    out = tmp_path / "empty.html"
    code, stdout, _ = _cli(["report", "patient", "EMPTY-001", "--db", str(db), "--out", str(out), "--json"], capsys)
    assert code in (0, None)
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["not_available"] >= 5
    text = out.read_text()
    assert "not available: no studies stored" in text
    assert "not available: no lesion measurements stored" in text
    assert "not available: no response assessment stored" in text
    assert embedded_pngs(text) == []  # never an empty plot
