"""`imagebio report cohort`: waterfall/swimmer, response rates with exact CIs, distributions, compliance."""

from __future__ import annotations

import html as html_lib

import pytest
from scipy.stats import beta

from imagebio.cli.main import main
from imagebio.errors import InvalidParameterError
from imagebio.report.cohort import clopper_pearson, compliance_documents, response_rates

from ._checks import embedded_pngs, pdf_pages_as_png, png_is_not_blank


@pytest.mark.parametrize("count, n", [(0, 1), (0, 10), (7, 20), (10, 10), (3, 47)])
def test_clopper_pearson_equals_the_beta_quantiles(count, n):
    """Exact interval: lower = Beta(α/2; k, n-k+1), upper = Beta(1-α/2; k+1, n-k) (Clopper & Pearson 1934)."""
    low, high = clopper_pearson(count, n)
    expected_low = 0.0 if count == 0 else beta.ppf(0.025, count, n - count + 1)
    expected_high = 1.0 if count == n else beta.ppf(0.975, count + 1, n - count)
    assert low == pytest.approx(expected_low, abs=1e-9)
    assert high == pytest.approx(expected_high, abs=1e-9)


def test_clopper_pearson_closed_form_for_zero_events():
    assert clopper_pearson(0, 10)[1] == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-12)
    with pytest.raises(InvalidParameterError):
        clopper_pearson(3, 2)


def test_response_rates_count_ne_in_the_denominator():
    rates = response_rates({"recist11": {"a": "PR", "b": "SD", "c": "PD", "d": "NE"}})
    orr, dcr = rates
    assert (orr.count, orr.n, orr.percent) == (1, 4, 25.0)
    assert (dcr.count, dcr.n, dcr.percent) == (2, 4, 50.0)


@pytest.mark.slow
def test_cohort_report_from_the_demo(demo, demo_subject, tmp_path):
    out = tmp_path / "cohort.html"
    with pytest.raises(SystemExit) as info:
        main(["report", "cohort", "--db", demo.store_url, "--out", str(out), "--pdf"])
    assert info.value.code in (0, None)
    text = html_lib.unescape(out.read_text())
    for section in ("Waterfall plot", "Swimmer plot", "Response rates", "Feature distributions",
                    "IBSI / OSIPI compliance"):
        assert section in text
    # the demo patient progresses (new lesion): best response PD, target sum +28.25 % in the store
    from imagebio.report.data import load_patient
    from imagebio.store import open_store

    store = open_store(demo.store_url)
    try:
        with store.session(readonly=True) as session:
            data = load_patient(session, demo_subject)
    finally:
        store.close()
    change = min(r.numbers["change_from_baseline_pct"] for r in data.responses
                 if not r.best and "change_from_baseline_pct" in r.numbers)
    assert f'data-value="{change!r}"' in text
    best = next(r.category for r in data.responses if r.best)
    responders = int(best in ("CR", "PR"))
    low, high = clopper_pearson(responders, 1)
    assert f'data-value="{100 * high!r}"' in text and f'data-value="{100 * low!r}"' in text
    assert "Clopper–Pearson" in text
    pngs = embedded_pngs(out.read_text())
    assert len(pngs) >= 5 and all(png_is_not_blank(p) for p in pngs)
    if compliance_documents():
        assert next(iter(compliance_documents().values())).splitlines()[0] in text
    else:
        assert "not available: no compliance summary" in text
    assert "not available: the store holds no survival outcomes" in text
    pages = pdf_pages_as_png(out.with_suffix(".pdf"), tmp_path / "pages")
    assert 1 <= len(pages) - len(pngs) <= 3  # text pages (tables, rates), then one page per figure
    assert all(png_is_not_blank(p.read_bytes()) for p in pages)


def test_cohort_report_of_an_empty_store_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["report", "cohort", "--db", str(tmp_path / "empty.db"), "--out", str(tmp_path / "c.html")])
    assert info.value.code == 2
    assert "no subjects" in capsys.readouterr().err
