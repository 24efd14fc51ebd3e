"""``imagebio radiomics``: IBSI features of an image + ROI(s) to CSV, or of every stored lesion into the store.

* ``imagebio radiomics IMAGE MASK [--preset ibsi-c | --config FILE.yaml] [--roi NAME] [--out FILE.csv]``
  (the default command ``extract``): IMAGE is a NIfTI/NRRD file or a DICOM series folder, MASK a label map,
  DICOM SEG or RTSTRUCT. The CSV has columns ``tag,value`` (``roi,tag,value`` when several ROIs), the IBSI
  diagnostic rows included.
* ``imagebio radiomics batch --db URL [--preset ibsi-c] [--workers N]``: features of every lesion of every
  stored visit, computed on the visit's CT and recorded as Measurements (name = IBSI tag, method =
  ``radiomics:<preset>``, settings_hash = hash of the settings). Visits run in parallel in a process pool.

Only typer/rich/stdlib are imported here; the radiomics room is imported inside the commands.
"""

from __future__ import annotations

import csv
import logging
import math
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from imagebio.cli._console import console, error_console, progress_bar
from imagebio.cli._groups import default_group

__all__ = ["app", "batch_command", "extract_command", "visit_lesion_features"]

log = logging.getLogger(__name__)

app = typer.Typer(
    help="IBSI radiomics features of an image and ROI mask (CSV), or of every stored lesion (batch).",
    no_args_is_help=True,
    cls=default_group("extract"),
)

PresetOption = Annotated[
    Optional[str],
    typer.Option("--preset", help="Built-in settings: ibsi-dig, ibsi-a ... ibsi-e, pyradiomics-default "
                                  "(default ibsi-c when no --config)."),
]
ConfigOption = Annotated[
    Optional[Path], typer.Option("--config", help="YAML settings file (RadiomicsSettings fields).", exists=True)
]
DEFAULT_PRESET = "ibsi-c"


def _settings_and_label(preset: str | None, config: Path | None):
    """The settings and the label used in ``method`` (preset name, or the YAML file's ``name``)."""
    from imagebio.errors import InvalidParameterError
    from imagebio.radiomics.settings import load_settings

    if preset is not None and config is not None:
        raise InvalidParameterError("--preset/--config", f"{preset} and {config}", "one of --preset or --config")
    if config is not None:
        settings = load_settings(config)
        return settings, settings.name
    name = preset or DEFAULT_PRESET
    return load_settings(name), name


@app.command("extract")
def extract(
    image: Annotated[Path, typer.Argument(help="NIfTI/NRRD image file or DICOM series folder.", exists=True)],
    mask: Annotated[Path, typer.Argument(help="Label map, DICOM SEG or RTSTRUCT (file or folder).", exists=True)],
    preset: PresetOption = None,
    config: ConfigOption = None,
    roi: Annotated[Optional[list[str]], typer.Option("--roi", help="ROI name (repeatable); default all.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the CSV here (default: stdout).")] = None,
    resample: Annotated[bool, typer.Option("--resample", help="Resample a mask on another grid (nearest).")] = False,
) -> None:
    """IBSI features of each ROI of MASK on IMAGE, as CSV rows ``tag,value`` (``roi,tag,value`` for several ROIs)."""
    extract_command(image, mask, preset, config, roi, out, resample)


def extract_command(image_path: Path, mask_path: Path, preset: str | None, config: Path | None,
                    rois: list[str] | None, out: Path | None, resample: bool = False) -> None:
    """Implementation of ``imagebio radiomics extract`` (see :func:`extract`)."""
    from imagebio.io import read_volume
    from imagebio.io.masks import read_roi_masks
    from imagebio.radiomics import extract_features

    settings, _ = _settings_and_label(preset, config)
    image = read_volume(image_path)
    masks = read_roi_masks(mask_path, image, rois=rois or None, resample=resample)
    results = {name: extract_features(image, mask, settings=settings) for name, mask in masks.items()}
    several = len(results) > 1
    header = ["roi", "tag", "value"] if several else ["tag", "value"]
    rows = [([name] if several else []) + [tag, repr(float(value))]
            for name, features in results.items() for tag, value in features.items()]
    if out is None:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        sys.stdout.flush()
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    error_console.print(f"wrote {len(rows)} rows ({len(results)} ROI(s), settings {settings.name}) to {out}",
                        highlight=False)


@app.command("batch")
def batch(
    db: Annotated[Optional[str], typer.Option("--db", help="Store URL or SQLite path (default $IMAGEBIO_DB).")] = None,
    preset: PresetOption = None,
    config: ConfigOption = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes (visits in parallel).")] = 1,
    subject: Annotated[Optional[list[str]], typer.Option("--subject", help="Only this PatientID (repeatable).")] = None,
) -> None:
    """Compute the features of every stored lesion on its visit's CT and record them as Measurements."""
    with progress_bar("radiomics") as progress:
        summary = batch_command(db, preset, config, workers, subject, progress=progress)
    console.print(f"run {summary['run_id']}: {summary['n_lesions']} lesions, {summary['n_values']} values recorded "
                  f"({summary['method']}, settings_hash {summary['settings_hash']}); "
                  f"{len(summary['failed'])} visit(s) failed", highlight=False)
    for where, reason in summary["failed"].items():
        error_console.print(f"failed {where}: {reason}", highlight=False)


def visit_lesion_features(visit: list[tuple[str, str, str, int | None]], settings_dict: dict[str, Any]) -> dict:
    """Worker: load one visit's CT and lesion masks and compute every lesion's features.

    ``visit`` holds ``(role, series_uid, folder, store_id)`` of the visit's series (picklable). Returns
    ``{"rois": {name: features}, "errors": {name: message}, "ct_store_id": id, "mask_store_id": id}``; a lesion
    whose features fail with an :class:`~imagebio.errors.ImagebioError` is reported in ``errors``.
    """
    import warnings

    from imagebio.errors import ImagebioError, UnsupportedDataError
    from imagebio.pipeline.visit import VisitSeries, load_visit
    from imagebio.radiomics import RadiomicsSettings, extract_features

    settings = RadiomicsSettings.from_dict(settings_dict)
    items = [VisitSeries(role, uid, Path(folder), store_id) for role, uid, folder, store_id in visit]
    # Only the CT and the lesion masks are needed: skip reading PET/DWI/DCE series.
    wanted = [v for v in items if v.role in ("CT", "SEG", "RTSTRUCT")]
    if not any(v.role == "CT" for v in wanted):
        raise UnsupportedDataError("visit without a CT series (radiomics batch measures lesions on the CT)")
    images, masks, used = load_visit(wanted)
    result: dict[str, Any] = {"rois": {}, "errors": {}, "ct_store_id": used["CT"].store_id,
                              "mask_store_id": (used.get("SEG") or used.get("RTSTRUCT")).store_id}
    for name, mask in masks.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # NaN features of tiny lesions are recorded as NULL
                result["rois"][name] = extract_features(images.ct, mask, settings=settings)
        except ImagebioError as exc:
            result["errors"][name] = str(exc)
    return result


def _stored_visits(session, subjects: list[str] | None) -> list[tuple[int, str, int, list]]:
    """``(subject_id, patient_id, timepoint_id, visit series)`` of every stored visit, by patient then date."""
    from sqlalchemy import select

    from imagebio.io.dicom import find_series
    from imagebio.pipeline.visit import classify_series
    from imagebio.store import Series, Subject, Timepoint

    query = select(Subject).order_by(Subject.patient_id)
    if subjects:
        query = query.where(Subject.patient_id.in_(list(subjects)))
    visits = []
    for subject in session.scalars(query):
        timepoints = session.scalars(
            select(Timepoint).where(Timepoint.subject_id == subject.id).order_by(Timepoint.study_datetime))
        for timepoint in timepoints:
            series = []
            for row in session.scalars(select(Series).where(Series.timepoint_id == timepoint.id).order_by(Series.id)):
                if not row.path:
                    continue
                scanned = find_series(Path(row.path), row.series_instance_uid, image_only=False)
                series.append((classify_series(scanned), row.series_instance_uid, row.path, row.id))
            visits.append((subject.id, subject.patient_id, timepoint.id, series))
    return visits


def _record_visit(session, subject_id: int, timepoint_id: int, result: dict, method: str, settings_hash: str,
                  preset: str, run_id: int) -> int:
    from imagebio.store import MeasurementRow, Series, Subject, Timepoint, record_measurements, upsert_roi

    subject = session.get(Subject, subject_id)
    timepoint = session.get(Timepoint, timepoint_id)
    source = session.get(Series, result["mask_store_id"]) if result["mask_store_id"] else None
    rows = []
    for name, features in result["rois"].items():
        roi = upsert_roi(session, subject, name, timepoint=timepoint, lesion_id=name, source_series=source)
        for tag, value in features.items():
            value = float(value)
            rows.append(MeasurementRow(
                roi_id=roi.id, series_id=result["ct_store_id"], name=tag,
                value=value if math.isfinite(value) else None, unit=None, method=method,
                parameters={"preset": preset}, settings_hash=settings_hash, run_id=run_id))
    record_measurements(session, rows)
    return len(rows)


def batch_command(db: str | None, preset: str | None, config: Path | None, workers: int = 1,
                  subjects: list[str] | None = None, progress=None) -> dict:
    """Implementation of ``imagebio radiomics batch``; returns a summary dict (run id, counts, failures).

    Visits are the unit of parallel work (the lesions of a visit share one CT read); each visit's values are
    recorded in one transaction as soon as it is done, and a subject is marked ``failed`` in the Run when any of
    its visits or lesions failed.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from imagebio.errors import ImagebioError
    from imagebio.store import finish_run, hash_settings, mark_subject, open_store, start_run

    settings, label = _settings_and_label(preset, config)
    settings_dict = settings.to_dict()
    method = f"radiomics:{label}"
    settings_hash = hash_settings(settings_dict)
    store = open_store(db)
    with store.session() as session:
        run_id = start_run(session, "radiomics batch", {"method": method, "settings": settings_dict,
                                                        "subjects": subjects or "all"}).id
        visits = _stored_visits(session, subjects)
    failed: dict[str, str] = {}
    subject_failed: dict[int, str] = {}
    n_values = n_lesions = 0

    def handle(visit, result=None, error=None) -> None:
        nonlocal n_values, n_lesions
        subject_id, patient_id, timepoint_id, _ = visit
        where = f"{patient_id} timepoint {timepoint_id}"
        if error is None:
            with store.session() as session:
                n_values += _record_visit(session, subject_id, timepoint_id, result, method, settings_hash,
                                          label, run_id)
            n_lesions += len(result["rois"])
            for name, message in result["errors"].items():
                error = f"lesion {name}: {message}"
                failed[f"{where} lesion {name}"] = message
        else:
            failed[where] = error
        if error is not None:
            subject_failed.setdefault(subject_id, error)

    done = 0
    if workers == 1 or len(visits) <= 1:
        for visit in visits:
            try:
                handle(visit, visit_lesion_features(visit[3], settings_dict))
            except ImagebioError as exc:
                handle(visit, error=str(exc))
            done += 1
            if progress is not None:
                progress(done, len(visits))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(visit_lesion_features, visit[3], settings_dict): visit for visit in visits}
            for future in as_completed(futures):
                try:
                    handle(futures[future], future.result())
                except ImagebioError as exc:
                    handle(futures[future], error=str(exc))
                done += 1
                if progress is not None:
                    progress(done, len(visits))
    with store.session() as session:
        for subject_id in sorted({v[0] for v in visits}):
            status = "failed" if subject_id in subject_failed else "done"
            mark_subject(session, run_id, subject_id, status, error=subject_failed.get(subject_id))
        finish_run(session, run_id)
    return {"run_id": run_id, "n_visits": len(visits), "n_lesions": n_lesions, "n_values": n_values,
            "failed": failed, "method": method, "settings_hash": settings_hash}
