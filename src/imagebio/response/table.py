"""The lesion table: one row per lesion per time point, the input of every response-criteria engine.

This is the format of ``imagebio response assess TABLE.csv`` (core labs often hold measurements without
images); the store-backed command builds the same frame from its Lesion/Measurement rows.

Columns
-------
Required (a CSV must have every one; an empty cell means "not recorded"):

``subject``
    Patient identifier (text).
``timepoint``
    Scan date, ISO 8601 (``2024-03-05``; a time part is dropped). The earliest date of a subject is its
    **baseline**.
``lesion_id``
    Tracking identifier, kept across time points (rule sheet G4). Unique per subject and time point.
``organ``
    Organ or site (text, case-insensitive). All lymph nodes count as one organ for target selection
    (RECIST 1.1 rule 6); paired organs should share one name (``lung``, ``kidney``).
``role``
    ``target`` | ``non_target`` | ``new``. Targets and non-targets are chosen at baseline and keep their
    role; ``new`` is a lesion first seen after baseline. Leave ``role`` empty at baseline to let
    :func:`imagebio.response.recist11.select_targets` choose.
``is_lymph_node``
    ``true``/``false`` (also ``1/0``, ``yes/no``).
``longest_diameter_mm``
    Longest in-plane diameter in **mm** (non-nodal lesions).
``short_axis_mm``
    Short axis in **mm**, perpendicular to the longest diameter in the same plane (used for nodes).
``status``
    ``present`` | ``absent`` (gone, scored 0 mm) | ``too_small`` (present but too small to measure, scored
    5 mm by RECIST 1.1 rule 10) | ``not_evaluated`` | ``equivocal`` (a new lesion that is not yet certain)
    | ``unequivocal_progression`` (reader's call on non-target progression, RECIST 1.1 rule 19). An empty
    status means ``present`` when a diameter is given and ``not_evaluated`` otherwise.

Optional criterion columns (needed only by the criteria that use them):

``viable_diameter_mm``  mRECIST longest diameter of the arterially enhancing part, mm.
``mean_hu``             Choi: mean attenuation of the lesion in the portal-venous phase, HU.
``volume_ml``           volumetric response (and volume-weighted Choi density), mL.
``sul_peak``            PERCIST lesion SULpeak (SUV normalised to lean body mass, g/mL).
``liver_sul_mean``, ``liver_sul_sd``  PERCIST liver reference (3 cm VOI), SUL; one value per time point.
``uptake_time_min``     PERCIST injection-to-scan time, min; one value per time point.
``perpendicular_diameter_mm``  RANO 2.0 / Lugano: longest diameter perpendicular to the longest one, mm.
``steroid_dose``        RANO 2.0: corticosteroid dose, mg/day dexamethasone equivalent; per time point.
``clinical_status``     RANO 2.0: ``improved`` | ``stable`` | ``worse``; per time point.
``deauville``           Lugano: Deauville 5-point score ``1``–``5`` or ``X``.

Units are part of the column names. A column that names another unit (``longest_diameter_cm``,
``volume_mm3`` ...) is refused with a :class:`~imagebio.errors.SpecError` rather than silently rescaled, and so
is an optional ``unit`` / ``diameter_unit`` column with any value but ``mm``. Values outside a plausible range
(diameters over 1000 mm, HU outside [-1024, 3071], SUL over 200 ...) raise
:class:`~imagebio.errors.InvalidParameterError` naming the column and row.

Reference: Eisenhauer EA et al., New response evaluation criteria in solid tumours: revised RECIST
guideline (version 1.1). Eur J Cancer 2009;45:228-247 (doi:10.1016/j.ejca.2008.10.026).
An example table ships as ``imagebio/response/examples/lesion_table_example.csv``
(:func:`example_table_path`).
"""

from __future__ import annotations

import re
from importlib import resources
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from imagebio.errors import InvalidParameterError, SpecError

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "ROLES",
    "STATUSES",
    "example_table_path",
    "read_lesion_table",
]

REQUIRED_COLUMNS = (
    "subject",
    "timepoint",
    "lesion_id",
    "organ",
    "role",
    "is_lymph_node",
    "longest_diameter_mm",
    "short_axis_mm",
    "status",
)
#: Optional numeric columns and their (inclusive) plausible range, used to catch unit mistakes.
_NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "longest_diameter_mm": (0.0, 1000.0),
    "short_axis_mm": (0.0, 1000.0),
    "viable_diameter_mm": (0.0, 1000.0),
    "perpendicular_diameter_mm": (0.0, 1000.0),
    "mean_hu": (-1024.0, 3071.0),
    "volume_ml": (0.0, 50000.0),
    "sul_peak": (0.0, 200.0),
    "liver_sul_mean": (0.0, 50.0),
    "liver_sul_sd": (0.0, 50.0),
    "uptake_time_min": (0.0, 600.0),
    "steroid_dose": (0.0, 1000.0),
}
OPTIONAL_COLUMNS = (
    "viable_diameter_mm",
    "mean_hu",
    "volume_ml",
    "sul_peak",
    "liver_sul_mean",
    "liver_sul_sd",
    "uptake_time_min",
    "perpendicular_diameter_mm",
    "steroid_dose",
    "clinical_status",
    "deauville",
)
ROLES = ("target", "non_target", "new")
STATUSES = ("present", "absent", "too_small", "not_evaluated", "equivocal", "unequivocal_progression")
CLINICAL_STATUSES = ("improved", "stable", "worse")
DEAUVILLE_SCORES = ("1", "2", "3", "4", "5", "X")

#: Optional columns that state the diameter unit; every value must be "mm".
_UNIT_COLUMNS = ("unit", "diameter_unit")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}
_FOREIGN_UNIT = re.compile(r"_(cm|m|um|in|cm3|mm3|l|dl|cc)$", re.IGNORECASE)


def example_table_path() -> Path:
    """Path of the example lesion table shipped with the package."""
    return Path(str(resources.files("imagebio.response").joinpath("examples/lesion_table_example.csv")))


def _where(index: int, from_csv: bool) -> str:
    # CSV line = header line + 1-based data row.
    return f"row {index} (CSV line {index + 2})" if from_csv else f"row {index}"


def read_lesion_table(source: str | PathLike | pd.DataFrame) -> pd.DataFrame:
    """Read and validate a lesion table (see the module docstring for the format).

    Parameters
    ----------
    source : str, path or pandas.DataFrame
        A CSV file or a frame already in memory (not modified).

    Returns
    -------
    pandas.DataFrame
        A new frame sorted by subject, timepoint and lesion_id, with ``timepoint`` as ``datetime64``
        (date only), ``role``/``status``/``organ`` lower-case text (``role`` may be empty at baseline),
        ``is_lymph_node`` bool, numeric columns float (mm, HU, SUL, mL), and every optional column present
        (NaN / empty where absent). Its ``attrs["source"]`` names the input.

    Raises
    ------
    SpecError
        A required column is missing, a column names a unit other than the documented one, a date does
        not parse, a lesion appears twice at one time point, or the time order is inconsistent (a ``new``
        lesion at baseline, a target or non-target first seen after baseline, a lesion changing role).
    InvalidParameterError
        A value is out of range or of the wrong kind; ``name`` is ``"<column>[row i]"``.
    """
    from_csv = not isinstance(source, pd.DataFrame)
    if from_csv:
        path = Path(source)
        if not path.is_file():
            raise SpecError(f"{path}: lesion table not found")
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        label = str(path)
    else:
        frame = source.copy()
        label = "lesion table"
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.reset_index(drop=True)

    for column in frame.columns:
        if _FOREIGN_UNIT.search(column):
            raise SpecError(
                f"{label}: column {column!r} is in a unit the lesion table does not take; "
                "diameters must be in mm (…_mm), volumes in mL (volume_ml), SUL in g/mL"
            )
    for column in _UNIT_COLUMNS:
        if column in frame.columns:
            for i, v in frame[column].items():
                if _text(v) not in ("", "mm"):
                    raise SpecError(
                        f"{label}: {column} is {_text(v)!r} at {_where(i, from_csv)}; diameters must all be in mm "
                        "(convert before assessment)"
                    )
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise SpecError(f"{label}: missing column(s) {', '.join(missing)}; required: {', '.join(REQUIRED_COLUMNS)}")

    out = pd.DataFrame(index=frame.index)
    for column in ("subject", "lesion_id"):
        values = frame[column].map(_text)
        for i, v in values.items():
            if v == "":
                raise InvalidParameterError(
                    f"{column}[{_where(i, from_csv)}]", frame[column][i], "a non-empty identifier"
                )
        out[column] = values
    out["timepoint"] = [_parse_date(v, i, from_csv, label) for i, v in frame["timepoint"].items()]
    out["organ"] = frame["organ"].map(lambda v: _text(v).lower())
    out["role"] = _categorical(frame["role"], "role", ROLES, from_csv, allow_empty=True)
    out["is_lymph_node"] = [_parse_bool(v, i, from_csv) for i, v in frame["is_lymph_node"].items()]
    for column, (low, high) in _NUMERIC_RANGES.items():
        if column in frame.columns:
            out[column] = _numeric(frame[column], column, low, high, from_csv)
        else:
            out[column] = np.nan
    status = _categorical(frame["status"], "status", STATUSES, from_csv, allow_empty=True)
    measured = out["longest_diameter_mm"].notna() | out["short_axis_mm"].notna()
    status = status.where(status != "", np.where(measured, "present", "not_evaluated"))
    out["status"] = status
    if "clinical_status" in frame.columns:
        out["clinical_status"] = _categorical(
            frame["clinical_status"], "clinical_status", CLINICAL_STATUSES, from_csv, True
        )
    else:
        out["clinical_status"] = ""
    if "deauville" in frame.columns:
        out["deauville"] = _categorical(
            frame["deauville"].map(lambda v: _text(v).upper().removesuffix(".0")),
            "deauville",
            DEAUVILLE_SCORES,
            from_csv,
            True,
            lower=False,
        )
    else:
        out["deauville"] = ""

    _check_consistency(out, from_csv, label)
    out = out.sort_values(["subject", "timepoint", "lesion_id"], kind="stable").reset_index(drop=True)
    out.attrs["source"] = label
    return out


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip()


def _parse_date(value: object, index: int, from_csv: bool, label: str) -> pd.Timestamp:
    text = _text(value)
    try:
        stamp = pd.Timestamp(text) if not isinstance(value, pd.Timestamp) else value
        if pd.isna(stamp):
            raise ValueError
    except (ValueError, TypeError):
        raise SpecError(
            f"{label}: timepoint {text!r} at {_where(index, from_csv)} is not an ISO 8601 date (YYYY-MM-DD)"
        ) from None
    return stamp.normalize().tz_localize(None) if stamp.tzinfo else stamp.normalize()


def _parse_bool(value: object, index: int, from_csv: bool) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidParameterError(f"is_lymph_node[{_where(index, from_csv)}]", value, "true or false")


def _categorical(
    series: pd.Series, column: str, allowed: tuple[str, ...], from_csv: bool, allow_empty: bool, lower: bool = True
) -> pd.Series:
    values = series.map(lambda v: _text(v).lower() if lower else _text(v))
    for i, v in values.items():
        if v == "" and allow_empty:
            continue
        if v not in allowed:
            raise InvalidParameterError(f"{column}[{_where(i, from_csv)}]", series[i], f"one of {', '.join(allowed)}")
    return values


def _numeric(series: pd.Series, column: str, low: float, high: float, from_csv: bool) -> pd.Series:
    values = []
    for i, v in series.items():
        text = _text(v)
        if text == "":
            values.append(np.nan)
            continue
        try:
            number = float(text)
        except ValueError:
            raise InvalidParameterError(f"{column}[{_where(i, from_csv)}]", v, "a number") from None
        if not np.isfinite(number) or not (low <= number <= high):
            unit = column.rsplit("_", 1)[-1]
            raise InvalidParameterError(
                f"{column}[{_where(i, from_csv)}]", number, f"a finite value in [{low:g}, {high:g}] ({unit})"
            )
        values.append(number)
    return pd.Series(values, index=series.index, dtype=float)


def _check_consistency(table: pd.DataFrame, from_csv: bool, label: str) -> None:
    duplicated = table.duplicated(["subject", "timepoint", "lesion_id"], keep="first")
    if duplicated.any():
        i = int(np.flatnonzero(duplicated.to_numpy())[0])
        row = table.loc[i]
        raise SpecError(
            f"{label}: lesion {row.lesion_id!r} of subject {row.subject!r} appears twice on "
            f"{row.timepoint.date()} ({_where(i, from_csv)})"
        )
    for subject, rows in table.groupby("subject", sort=False):
        baseline = rows["timepoint"].min()
        at_baseline = rows["timepoint"] == baseline
        baseline_ids = set(rows.loc[at_baseline, "lesion_id"])
        for i, row in rows.iterrows():
            if row.role == "new" and at_baseline[i]:
                raise SpecError(
                    f"{label}: lesion {row.lesion_id!r} of subject {subject!r} has role 'new' on the baseline date "
                    f"{baseline.date()} ({_where(i, from_csv)}); a new lesion is one first seen after baseline"
                )
            if row.role == "" and not at_baseline[i] and row.lesion_id not in baseline_ids:
                raise InvalidParameterError(
                    f"role[{_where(i, from_csv)}]",
                    "",
                    "target, non_target or new (empty only for a lesion recorded at baseline)",
                )
            if row.status in ("absent", "too_small", "equivocal") and at_baseline[i] and row.role != "":
                raise SpecError(
                    f"{label}: lesion {row.lesion_id!r} of subject {subject!r} has status {row.status!r} at baseline "
                    f"({_where(i, from_csv)}); baseline lesions must be present and measured"
                )
        for lesion_id, history in rows.groupby("lesion_id", sort=False):
            history = history.sort_values("timepoint")
            roles = set(history["role"]) - {""}
            first = history.iloc[0]
            if len(roles) > 1:
                raise SpecError(
                    f"{label}: lesion {lesion_id!r} of subject {subject!r} changes role ({', '.join(sorted(roles))}); "
                    "a lesion keeps its role across time points (rule sheet G4)"
                )
            if roles & {"target", "non_target"} and first.timepoint != baseline:
                i = int(history.index[0])
                raise SpecError(
                    f"{label}: {first.role or 'baseline'} lesion {lesion_id!r} of subject {subject!r} is first seen "
                    f"on {first.timepoint.date()}, after the baseline {baseline.date()} ({_where(i, from_csv)}); "
                    "targets and non-targets are chosen at baseline — a lesion appearing later has role 'new'"
                )
