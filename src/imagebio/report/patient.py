"""Patient report: studies, lesion values per time point, response with reasons, spider plot, key images.

Numbers come from the store as stored (tables show 6 significant digits and carry the exact value in
``data-value``); a missing result is a clearly marked "not available" line, never an empty plot.
"""

from __future__ import annotations

import dataclasses
import logging
from os import PathLike
from pathlib import Path

import numpy as np

from imagebio.errors import StoreError
from imagebio.report.document import Item, Report, Section, not_available, render_html, write_pdf

__all__ = ["PatientReportResult", "build_patient_report", "write_patient_report"]

log = logging.getLogger(__name__)

#: Sections of other rooms shown when their results exist: (title, measurement name prefixes, missing note).
OTHER_RESULTS = (
    ("Dosimetry", ("dose", "absorbed_dose", "bed", "eqd2", "dvh"),
     "no dosimetry results (dose, DVH) stored for this patient"),
    ("Risk score", ("risk", "score", "prediction"), "no risk score stored for this patient"),
)


@dataclasses.dataclass
class PatientReportResult:
    html: Path
    pdf: Path | None
    report: Report


def _timeline_section(data) -> Section:
    from imagebio.report.figures import timeline_figure

    section = Section("Timeline of studies", anchor="timeline")
    if not data.studies:
        section.items.append(not_available("no studies stored for this patient"))
        return section
    rows = []
    for s in data.studies:
        when = s.study_datetime.strftime("%Y-%m-%d %H:%M") if s.study_datetime else "not available"
        series = ", ".join(f"{m} ({n})" for m, _, n in s.series) or "none"
        rows.append([s.label, when, s.days_since_baseline if s.days_since_baseline is not None else "not available",
                     s.description, series])
    section.items.append(Item("table", columns=["time point", "study date", "days since baseline", "description",
                                                "series (files)"], rows=rows))
    if any(s.days_since_baseline is not None for s in data.studies):
        fig = timeline_figure([s.days_since_baseline for s in data.studies], [s.label for s in data.studies],
                              ["/".join(sorted({m for m, _, _ in s.series})) for s in data.studies])
        section.items.append(Item("figure", text="Studies by days since baseline", figure=fig))
    return section


def _lesion_section(data) -> Section:
    from imagebio.report.data import lesion_tables

    section = Section("Lesion measurements per time point", anchor="lesions")
    tables = lesion_tables(data)
    if not tables:
        section.items.append(not_available("no lesion measurements stored for this patient (run the lesion "
                                           "biomarkers, e.g. `imagebio demo` or `imagebio run`)"))
        return section
    for study in data.studies:
        wide = tables.get(study.label)
        if wide is None:
            section.items.append(not_available(f"no lesion measurements at {study.label}"))
            continue
        rows = [[lesion, *(float(v) for v in wide.loc[lesion].tolist())] for lesion in wide.index]
        section.items.append(Item("table", text=f"{study.label} (day {study.days_since_baseline})",
                                  columns=["lesion", *wide.columns], rows=rows))
    return section


def _response_section(data) -> Section:
    section = Section("Response", anchor="response")
    if not data.responses:
        section.items.append(not_available("no response assessment stored (run `imagebio response assess`)"))
        return section
    rows = []
    for r in data.responses:
        rows.append([r.criteria, "best overall (as of " + r.timepoint + ")" if r.best else r.timepoint, r.category,
                     "; ".join(r.reasons) or "not available"])
    section.items.append(Item("table", columns=["criteria", "time point", "category", "reasons"], rows=rows))
    return section


def _spider_section(data) -> Section:
    from imagebio.report.data import sum_change_series
    from imagebio.report.figures import spider_figure

    section = Section("Spider plot", anchor="spider")
    best = next((r.category for r in data.responses if r.best), "NE")
    day_of = {s.label: s.days_since_baseline for s in data.studies}
    points = []
    for r in data.responses:
        change = r.numbers.get("change_from_baseline_pct")
        if not r.best and change is not None and day_of.get(r.timepoint) is not None:
            points.append((int(day_of[r.timepoint]), float(change)))
    quantity = f"target sum ({data.responses[0].criteria})" if points else ""
    if not points:
        found = sum_change_series(data)
        if found is not None:
            quantity, points = found
    if not points:
        section.items.append(not_available("needs a baseline and at least one follow-up with lesion sizes"))
        return section
    section.items.append(Item("figure", text=f"Change of the {quantity} from baseline; dashed lines +20 % / -30 %",
                              figure=spider_figure(data.patient_id, sorted(points), best, quantity)))
    return section


def _key_images_section(session, data, with_maps: bool) -> Section:
    from imagebio.report.figures import (
        key_image_figure,
        largest_cross_section,
        map_overlay_figure,
        pet_mip_figure,
    )
    from imagebio.report.images import load_visit_images

    section = Section("Key images", anchor="images")
    if not data.studies:
        section.items.append(not_available("no studies"))
        return section
    for study in data.studies:
        images = load_visit_images(session, study.study_instance_uid, with_map=with_maps)
        section.items.append(Item("text", text=f"{study.label}"))
        if images.ct is not None and images.masks:
            for lesion, mask in images.masks.items():
                if not np.asarray(mask).any():
                    section.items.append(not_available(f"{lesion}: empty mask at {study.label}"))
                    continue
                k = largest_cross_section(mask)
                section.items.append(Item(
                    "figure", text=f"{study.label}, {lesion}: CT axial slice through the largest cross-section "
                    "with the SEG contour", figure=key_image_figure(images.ct, images.masks, lesion, k)))
        else:
            reason = images.problems.get("ct") or images.problems.get("masks") or "no lesion masks"
            section.items.append(not_available(f"CT key images at {study.label}: {reason}"))
        if images.pet is not None:
            masks = images.masks if images.ct is None or images.ct.same_grid(images.pet) else None
            section.items.append(Item("figure", text=f"{study.label}: PET MIP ({images.pet.unit})",
                                      figure=pet_mip_figure(images.pet, masks)))
        else:
            section.items.append(not_available(f"PET MIP at {study.label}: {images.problems.get('pet', '')}"))
        if not with_maps:
            continue
        if images.parameter_map is not None and images.map_background is not None:
            pm = images.parameter_map
            union = None
            if images.masks and images.ct is not None and images.ct.same_grid(pm):
                union = np.any(np.stack([np.asarray(m, bool) for m in images.masks.values()]), axis=0)
            k = largest_cross_section(union) if union is not None and union.any() else pm.shape[0] // 2
            finite = pm.array[np.isfinite(pm.array) & (pm.array > 0)]
            value_range = (float(np.percentile(finite, 1)), float(np.percentile(finite, 99))) if finite.size else None
            quantity = pm.metadata.get("quantity") or "ADC"
            section.items.append(Item(
                "figure", text=f"{study.label}: {quantity} map ({images.map_source})",
                figure=map_overlay_figure(images.map_background, pm, union, k, quantity, pm.unit, value_range)))
        else:
            section.items.append(not_available(f"parametric map at {study.label}: "
                                               f"{images.problems.get('map', 'none')}"))
    return section


def _other_sections(data) -> list[Section]:
    frame = data.lesion_measurements
    sections = []
    for title, prefixes, missing in OTHER_RESULTS:
        hits = frame[frame["name"].str.lower().str.startswith(prefixes)]
        section = Section(title, anchor=title.lower().replace(" ", "-"))
        if hits.empty:
            section.items.append(not_available(missing))
        else:
            rows = [[r.timepoint, r.roi, r.name, float(r.value) if r.value == r.value else None, r.unit or "",
                     r.method] for r in hits.itertuples()]
            section.items.append(Item("table", columns=["time point", "ROI", "name", "value", "unit", "method"],
                                      rows=rows))
        sections.append(section)
    return sections


def build_patient_report(store, patient_id: str, with_maps: bool = True) -> Report:
    """The patient report of ``patient_id`` as a :class:`~imagebio.report.document.Report`.

    Raises
    ------
    StoreError
        The patient is not in the store.
    """
    from imagebio import __version__
    from imagebio.report.data import load_patient

    with store.session(readonly=True) as session:
        data = load_patient(session, patient_id)
        sections = [_timeline_section(data), _lesion_section(data), _response_section(data), _spider_section(data),
                    _key_images_section(session, data, with_maps), *_other_sections(data)]
    sex = f", sex {data.sex}" if data.sex else ""
    n_values = len(data.lesion_measurements)
    return Report(
        title=f"Imaging biomarker report: {patient_id}",
        subtitle=f"Patient {patient_id}{sex}; {len(data.studies)} studies; {n_values} lesion values in the store",
        sections=sections,
        software_version=__version__,
    )


def write_patient_report(
    store, patient_id: str, out: str | PathLike, pdf: bool = False, with_maps: bool = True
) -> PatientReportResult:
    """Write the patient report as HTML (and PDF beside it, same stem, with ``pdf=True``)."""
    if not patient_id:
        raise StoreError("no patient ID given")
    report = build_patient_report(store, patient_id, with_maps=with_maps)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(report), encoding="utf-8")
    pdf_path = write_pdf(report, out.with_suffix(".pdf")) if pdf else None
    return PatientReportResult(out, pdf_path, report)
