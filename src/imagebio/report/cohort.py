"""Cohort report: waterfall and swimmer plots, response rates with exact CIs, feature distributions, compliance.

Response rates use the stored best overall responses (``best_response_<criteria>``); the 95 % interval of a
proportion is the exact Clopper–Pearson interval (Clopper & Pearson, Biometrika 1934;26:404–413) from
``scipy.stats.binomtest(...).proportion_ci(method="exact")``.
"""

from __future__ import annotations

import dataclasses
from os import PathLike
from pathlib import Path

from imagebio.errors import StoreError
from imagebio.report.document import Item, Report, Section, not_available, render_html, write_pdf

__all__ = [
    "DISEASE_CONTROL",
    "RESPONDER",
    "ResponseRate",
    "build_cohort_report",
    "clopper_pearson",
    "compliance_documents",
    "response_rates",
    "write_cohort_report",
]

#: Categories counted as objective response and as disease control (RECIST-style names and analogues).
RESPONDER = frozenset({"CR", "PR", "iCR", "iPR", "CMR", "PMR"})
DISEASE_CONTROL = RESPONDER | {"SD", "iSD", "SMD", "NMR", "Non-CR/Non-PD", "non-iCR/non-iUPD", "MR"}
#: Compliance documents looked up in the source checkout's ``docs/``.
COMPLIANCE_DOCS = ("ibsi-compliance.md", "osipi-compliance.md")
_MAX_HISTOGRAMS = 12


@dataclasses.dataclass(frozen=True)
class ResponseRate:
    """A proportion of patients with its exact 95 % confidence interval (percent)."""

    criteria: str
    rate: str
    count: int
    n: int
    percent: float
    ci_low_percent: float
    ci_high_percent: float


def clopper_pearson(count: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) confidence interval of a binomial proportion ``count / n``, as fractions."""
    from scipy.stats import binomtest

    if n <= 0 or not 0 <= count <= n:
        from imagebio.errors import InvalidParameterError

        raise InvalidParameterError("count, n", (count, n), "0 <= count <= n and n >= 1")
    interval = binomtest(count, n).proportion_ci(confidence_level=confidence, method="exact")
    return float(interval.low), float(interval.high)


def response_rates(best: dict[str, dict[str, str]]) -> list[ResponseRate]:
    """Objective response rate and disease control rate per criterion.

    ``best`` maps criteria → {subject: best overall response}; NE counts in the denominator (intention to treat).
    """
    rates = []
    for criteria, categories in sorted(best.items()):
        n = len(categories)
        if n == 0:
            continue
        for rate, members in (("objective response (CR+PR)", RESPONDER), ("disease control (CR+PR+SD)",
                                                                            DISEASE_CONTROL)):
            count = sum(1 for c in categories.values() if c in members)
            low, high = clopper_pearson(count, n)
            rates.append(ResponseRate(criteria, rate, count, n, 100.0 * count / n, 100.0 * low, 100.0 * high))
    return rates


def compliance_documents() -> dict[str, str]:
    """Text of the IBSI/OSIPI compliance documents found in the source checkout (``docs/``), by file name."""
    import imagebio

    root = Path(imagebio.__file__).resolve().parents[2] / "docs"
    found = {}
    for name in COMPLIANCE_DOCS:
        path = root / name
        if path.is_file():
            found[name] = path.read_text(encoding="utf-8")
    return found


def _cohort_data(session):
    from imagebio.report.data import load_patient
    from imagebio.store.queries import list_subjects

    subjects = [s.patient_id for s in list_subjects(session)]
    if not subjects:
        raise StoreError("the store holds no subjects; ingest data first (`imagebio ingest` or `imagebio demo`)")
    return [load_patient(session, s) for s in subjects]


def _per_subject_response(patients):
    """criteria → {subject: best}, criteria → {subject: [(day, category, change %)]}."""
    best: dict[str, dict[str, str]] = {}
    course: dict[str, dict[str, list]] = {}
    for data in patients:
        day_of = {s.label: s.days_since_baseline for s in data.studies}
        for r in data.responses:
            if r.best:
                best.setdefault(r.criteria, {})[data.patient_id] = r.category
            elif day_of.get(r.timepoint) is not None:
                course.setdefault(r.criteria, {}).setdefault(data.patient_id, []).append(
                    (int(day_of[r.timepoint]), r.category, r.numbers.get("change_from_baseline_pct"))
                )
    return best, course


def _waterfall_swimmer(patients, best, course) -> list[Section]:
    import pandas as pd

    from imagebio.report.data import sum_change_series
    from imagebio.response.plots import swimmer_plot, waterfall_plot

    waterfall = Section("Waterfall plot", anchor="waterfall")
    swimmer = Section("Swimmer plot", anchor="swimmer")
    criteria = min(course) if course else None
    best_change, categories, quantity = {}, {}, ""
    for data in patients:
        changes = []
        if criteria is not None:
            changes = [c for _, cat, c in course[criteria].get(data.patient_id, []) if c is not None]
            quantity = f"target sum ({criteria})"
        if not changes:
            found = sum_change_series(data)
            if found is not None:
                quantity = quantity or found[0]
                changes = [c for _, c in found[1]]
        if changes:
            best_change[data.patient_id] = min(changes)
            categories[data.patient_id] = best.get(criteria, {}).get(data.patient_id, "NE") if criteria else "NE"
    if best_change:
        fig = waterfall_plot(best_change, categories, title=f"Best change: {quantity}")
        width, height = fig.get_size_inches()
        fig.set_size_inches(max(width, 6.0), height)
        waterfall.items.append(Item("figure", text=f"Best change of the {quantity}; colour: best overall response "
                                    "(dashed: +20 % / -30 %)", figure=_agg(fig)))
        rows = [[s, float(v), categories.get(s, "NE")] for s, v in sorted(best_change.items(), key=lambda kv: kv[1])]
        waterfall.items.append(Item("table", columns=["subject", "best change (%)", "best response"], rows=rows))
    else:
        waterfall.items.append(not_available("no patient has a baseline and a follow-up lesion size"))
    rows = []
    for data in patients:
        for day, category, _ in (course.get(criteria, {}).get(data.patient_id, []) if criteria else []):
            if day > 0:
                rows.append({"subject": data.patient_id, "day": day, "category": category})
        if not any(r["subject"] == data.patient_id for r in rows):
            for s in data.studies[1:]:
                if s.days_since_baseline is not None:
                    rows.append({"subject": data.patient_id, "day": int(s.days_since_baseline), "category": "NE"})
    if rows:
        fig = swimmer_plot(pd.DataFrame(rows), title="Follow-up per patient" + (f" ({criteria})" if criteria else ""))
        fig.axes[0].set_ylabel("subject")
        fig.axes[0].set_xlabel("days since baseline (d)")
        swimmer.items.append(Item("figure", text="Days on study to the last scan; markers: category at each "
                                  "follow-up (NE where no response is stored)", figure=_agg(fig)))
    else:
        swimmer.items.append(not_available("no follow-up studies"))
    return [waterfall, swimmer]


def _agg(fig):
    """Attach an Agg canvas to a figure made elsewhere (PNG/PDF export needs one)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    return fig


def _rates_section(best) -> Section:
    from imagebio.report.figures import bar_figure

    section = Section("Response rates", anchor="rates")
    rates = response_rates(best)
    if not rates:
        section.items.append(not_available("no best overall response stored (run `imagebio response assess`)"))
        return section
    section.items.append(Item("table", columns=["criteria", "rate", "patients", "n", "rate (%)", "95 % CI low (%)",
                                                "95 % CI high (%)"],
                              rows=[[r.criteria, r.rate, r.count, r.n, r.percent, r.ci_low_percent, r.ci_high_percent]
                                    for r in rates]))
    section.items.append(Item("text", text="95 % confidence intervals: exact Clopper–Pearson; NE counts as "
                              "non-response."))
    fig = bar_figure([f"{r.criteria}\n{r.rate.split(' (')[0]}" for r in rates], [r.percent for r in rates],
                     [r.ci_low_percent for r in rates], [r.ci_high_percent for r in rates],
                     "patients (%)", "Response rates with exact 95 % CIs")
    section.items.append(Item("figure", text="Response rates (bars) with Clopper–Pearson 95 % CIs", figure=fig))
    return section


def _distributions_section(patients) -> Section:
    import pandas as pd

    from imagebio.report.figures import histogram_figure

    section = Section("Feature distributions", anchor="features")
    frames = [p.lesion_measurements for p in patients if len(p.lesion_measurements)]
    if not frames:
        section.items.append(not_available("no lesion measurements in the store"))
        return section
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[frame["value"].notna()]
    summary = []
    for (name, unit), group in sorted(frame.groupby(["name", frame["unit"].fillna("")]), key=lambda kv: kv[0]):
        values = group["value"].astype(float)
        summary.append([name, unit, len(values), float(values.mean()), float(values.median()), float(values.min()),
                        float(values.max())])
    section.items.append(Item("table", columns=["feature", "unit", "n", "mean", "median", "min", "max"],
                              rows=summary))
    for name, unit, *_ in summary[:_MAX_HISTOGRAMS]:
        values = frame[(frame["name"] == name) & (frame["unit"].fillna("") == unit)]["value"].tolist()
        section.items.append(Item("figure", text=f"Distribution of {name}", figure=histogram_figure(values, name,
                                                                                                     unit)))
    if len(summary) > _MAX_HISTOGRAMS:
        section.items.append(Item("text", text=f"{len(summary) - _MAX_HISTOGRAMS} more features in the table only."))
    return section


def _survival_section() -> Section:
    section = Section("Survival by risk group", anchor="survival")
    section.items.append(not_available("the store holds no survival outcomes or risk groups"))
    return section


def _compliance_section() -> Section:
    from imagebio import __version__

    section = Section("IBSI / OSIPI compliance", anchor="compliance")
    section.items.append(Item("text", text=f"Software version: imagebio {__version__}."))
    documents = compliance_documents()
    if not documents:
        section.items.append(not_available("no compliance summary (docs/ibsi-compliance.md) in this installation"))
    for name, text in documents.items():
        section.items.append(Item("pre", text=f"{name}\n\n{text}"))
    return section


def build_cohort_report(store) -> Report:
    """The cohort report of every subject in the store.

    Raises
    ------
    StoreError
        The store holds no subjects.
    """
    from imagebio import __version__

    with store.session(readonly=True) as session:
        patients = _cohort_data(session)
    best, course = _per_subject_response(patients)
    sections = [
        *_waterfall_swimmer(patients, best, course),
        _rates_section(best),
        _survival_section(),
        _distributions_section(patients),
        _compliance_section(),
    ]
    n_values = sum(len(p.lesion_measurements) for p in patients)
    return Report(
        title="Imaging biomarker cohort report",
        subtitle=f"{len(patients)} subjects, {sum(len(p.studies) for p in patients)} studies, {n_values} lesion "
        "values in the store",
        sections=sections,
        software_version=__version__,
    )


@dataclasses.dataclass
class CohortReportResult:
    html: Path
    pdf: Path | None
    report: Report


def write_cohort_report(store, out: str | PathLike, pdf: bool = False) -> CohortReportResult:
    """Write the cohort report as HTML (and PDF beside it with ``pdf=True``)."""
    report = build_cohort_report(store)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(report), encoding="utf-8")
    pdf_path = write_pdf(report, out.with_suffix(".pdf")) if pdf else None
    return CohortReportResult(out, pdf_path, report)
