"""Measurements of the store as analysis-ready tables: a tidy long table and a wide feature matrix.

::

    from imagebio.store import open_store
    from imagebio.store.export import long_table, wide_table, write_table

    store = open_store("study.db")
    tidy = long_table(store, subjects=["P001"], name_globs=["suv*", "volume*"])
    matrix = wide_table(store)                  # one row per subject / time point / ROI
    write_table(matrix, "features.parquet")     # or .csv

The **long** table has one row per stored value, with the columns of :data:`LONG_COLUMNS` (a subset of
:data:`imagebio.store.queries.MEASUREMENT_COLUMNS` plus nothing new): identity (subject, time point, ROI, lesion),
the biomarker (``name``, ``value``, ``unit``) and its provenance (``method``, ``settings_hash``,
``software_version``). Undefined values (stored as NULL) are NaN.

The **wide** matrix has one row per (subject, time point, ROI) with the identity columns :data:`WIDE_INDEX`
first, then one float column per biomarker named ``<name>[<unit>]`` (``volume[mL]``, ``suvbw_max[SUVbw]``; a
unitless value is just ``<name>``). When the same column name is produced by more than one source in the
selection — the same feature on CT and PET, or the same feature with two settings (changed settings are stored
beside the old ones) — the columns are qualified by what differs between the sources:
``<name>[<unit>]@<modality>/<method>/<settings hash, 8 hex>``, with only the differing parts, e.g.
``stat_mean@CT`` and ``stat_mean@PT``. Nothing is silently dropped or averaged; filter with ``methods``,
``settings_hashes`` or ``modalities`` to get plain names.

Pure functions over the store (read-only session); pandas is imported by :mod:`imagebio.store.queries` only when a
table is asked for, pyarrow only when a parquet file is written.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from imagebio.errors import InvalidParameterError, UnsupportedDataError

if TYPE_CHECKING:
    import pandas as pd

    from imagebio.store.session import Store

__all__ = [
    "LONG_COLUMNS",
    "TABLE_FORMATS",
    "WIDE_INDEX",
    "feature_column",
    "long_table",
    "wide_from_long",
    "wide_table",
    "write_table",
]

#: Columns of the long table, in order.
LONG_COLUMNS = [
    "subject",
    "timepoint",
    "days_since_baseline",
    "roi",
    "lesion_id",
    "modality",
    "name",
    "value",
    "unit",
    "method",
    "settings_hash",
    "software_version",
]

#: Identity columns of the wide matrix (one row per distinct ``(subject, timepoint, roi)``).
WIDE_INDEX = ["subject", "timepoint", "days_since_baseline", "roi", "lesion_id"]

#: File formats :func:`write_table` writes.
TABLE_FORMATS = ("csv", "parquet")

_ROW_KEY = ["subject", "timepoint", "roi"]
_SOURCE = ["modality", "method", "settings_hash"]


def _as_tuple(values: str | Iterable[str] | None, name: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    items = (values,) if isinstance(values, str) else tuple(values)
    for item in items:
        if not isinstance(item, str) or not item:
            raise InvalidParameterError(name, item, "non-empty strings")
    return items or None


def long_table(
    store: Store,
    subjects: str | Iterable[str] | None = None,
    name_globs: str | Iterable[str] | None = None,
    methods: str | Iterable[str] | None = None,
    settings_hashes: str | Iterable[str] | None = None,
    modalities: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Stored measurements as a tidy long table (columns :data:`LONG_COLUMNS`), one row per value.

    Parameters
    ----------
    store : Store
        An open store (:func:`imagebio.store.open_store`); read in one read-only session.
    subjects : str or iterable of str, optional
        PatientIDs to keep (default all).
    name_globs : str or iterable of str, optional
        Shell-style patterns (``fnmatch``, case-sensitive) on the biomarker name, e.g. ``"suv*"``; a value is kept
        when its name matches any pattern.
    methods, settings_hashes, modalities : str or iterable of str, optional
        Keep only values of these methods, settings hashes (full 64-hex or a prefix of at least 8), or measured
        series modalities (case-insensitive).

    Returns
    -------
    pandas.DataFrame
        Ordered by subject, study date, series, ROI and name (as
        :func:`imagebio.store.queries.measurements_frame`); ``value`` is float (NaN where undefined).
    """
    from imagebio.store.queries import measurements_frame

    subjects = _as_tuple(subjects, "subjects")
    name_globs = _as_tuple(name_globs, "name_globs")
    methods = _as_tuple(methods, "methods")
    settings_hashes = _as_tuple(settings_hashes, "settings_hashes")
    modalities = _as_tuple(modalities, "modalities")
    for prefix in settings_hashes or ():
        if len(prefix) < 8:
            raise InvalidParameterError("settings_hashes", prefix, "a settings hash or a prefix of >= 8 characters")

    with store.session(readonly=True) as session:
        # Narrow in SQL when one value is asked for (the common case on a large store); the rest in pandas.
        frame = measurements_frame(
            session,
            subject=subjects[0] if subjects and len(subjects) == 1 else None,
            method=methods[0] if methods and len(methods) == 1 else None,
        )
    keep = frame["subject"].notna()
    if subjects:
        keep &= frame["subject"].isin(subjects)
    if methods:
        keep &= frame["method"].isin(methods)
    if name_globs:
        names = frame["name"].astype(str)
        keep &= names.map(lambda n: any(fnmatch.fnmatchcase(n, p) for p in name_globs)).astype(bool)
    if settings_hashes:
        hashes = frame["settings_hash"].fillna("").astype(str)
        keep &= hashes.map(lambda h: any(h.startswith(p) for p in settings_hashes)).astype(bool)
    if modalities:
        wanted = {m.upper() for m in modalities}
        keep &= frame["modality"].fillna("").str.upper().isin(wanted)
    return frame.loc[keep, LONG_COLUMNS].reset_index(drop=True)


def feature_column(name: str, unit: str | None) -> str:
    """Wide-matrix column name of a biomarker: ``<name>[<unit>]``, or ``<name>`` when it has no unit."""
    return f"{name}[{unit}]" if unit else name


def _source_label(row: Sequence, varying: Sequence[int]) -> str:
    parts = []
    for index in varying:
        value = row[index]
        if _SOURCE[index] == "settings_hash" and value:
            value = value[:8]
        parts.append("-" if value is None or value == "" else str(value))
    return "/".join(parts)


def wide_from_long(frame: pd.DataFrame) -> pd.DataFrame:
    """Pivot a long table (:func:`long_table`) to one row per (subject, time point, ROI).

    Columns are :data:`WIDE_INDEX` then the biomarkers, named by :func:`feature_column` and qualified with
    ``@modality/method/hash`` only where one name comes from several sources (see the module docstring), sorted
    by name. Rows keep the order of the long table.

    Raises
    ------
    InvalidParameterError
        When one cell would get two different values even after qualification (e.g. two same-named ROIs of one
        time point measured on two series of the same modality): filter the long table first.
    """
    import pandas as pd

    missing = [c for c in WIDE_INDEX + ["name", "value", "unit"] + _SOURCE if c not in frame.columns]
    if missing:
        raise InvalidParameterError("frame", f"columns {list(frame.columns)}", f"a long table with {missing}")
    if frame.empty:
        return pd.DataFrame(columns=WIDE_INDEX)

    data = frame.copy()
    data["_base"] = [feature_column(n, u) for n, u in zip(data["name"], data["unit"], strict=True)]
    labels: dict[tuple, str] = {}
    for base, group in data.groupby("_base", sort=False):
        sources = group[_SOURCE].drop_duplicates().itertuples(index=False, name=None)
        sources = list(sources)
        if len(sources) == 1:
            labels[(base, *sources[0])] = base
            continue
        varying = [i for i in range(len(_SOURCE)) if len({s[i] for s in sources}) > 1]
        for source in sources:
            labels[(base, *source)] = f"{base}@{_source_label(source, varying)}"
    data["_column"] = [labels[key] for key in zip(data["_base"], *(data[c] for c in _SOURCE), strict=True)]

    # Identity columns: NaN-safe keys (a time point without a study date has no label).
    for column in _ROW_KEY:
        data[column] = data[column].astype(object).where(data[column].notna(), None)
    clash = data.duplicated(_ROW_KEY + ["_column"], keep=False)
    if clash.any():
        first = data.loc[clash].iloc[0]
        raise InvalidParameterError(
            "long table",
            f"{int(clash.sum())} rows with the same subject/timepoint/ROI/column, e.g. {first['subject']} "
            f"{first['timepoint']} {first['roi']} {first['_column']}",
            "one value per cell: restrict to one series per modality (methods / settings_hashes / modalities)",
        )

    order = data[_ROW_KEY].drop_duplicates().reset_index(drop=True)
    order["_row"] = range(len(order))
    data = data.merge(order, on=_ROW_KEY, how="left", sort=False)
    values = data.pivot(index="_row", columns="_column", values="value")
    values = values.reindex(columns=sorted(values.columns)).astype(float)
    identity = data.groupby("_row", sort=True).agg(
        {c: (lambda s: s.dropna().iloc[0] if s.notna().any() else None) for c in WIDE_INDEX}
    )
    out = identity.join(values).reset_index(drop=True)
    out.columns.name = None
    return out


def wide_table(
    store: Store,
    subjects: str | Iterable[str] | None = None,
    name_globs: str | Iterable[str] | None = None,
    methods: str | Iterable[str] | None = None,
    settings_hashes: str | Iterable[str] | None = None,
    modalities: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Wide feature matrix of the store: one row per (subject, time point, ROI), one column per biomarker.

    Same filters as :func:`long_table`; see :func:`wide_from_long` for the columns.
    """
    return wide_from_long(long_table(store, subjects, name_globs, methods, settings_hashes, modalities))


def _check_format(fmt: str | None, path: Path) -> str:
    if fmt is None:
        fmt = path.suffix.lstrip(".").lower()
    if fmt not in TABLE_FORMATS:
        raise InvalidParameterError("format", fmt, f"one of {', '.join(TABLE_FORMATS)}")
    return fmt


def write_table(frame: pd.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    """Write a long or wide table as CSV or Parquet (``fmt`` default: from the file suffix).

    CSV is UTF-8 with a header and no index; NaN is an empty field. Parquet needs the ``pyarrow`` package.

    Raises
    ------
    InvalidParameterError
        For an unknown format.
    UnsupportedDataError
        When Parquet is asked for and ``pyarrow`` is not installed (the message says what to install).
    """
    path = Path(path)
    fmt = _check_format(fmt, path)
    if fmt == "parquet":
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise UnsupportedDataError(
                "writing Parquet needs the 'pyarrow' package, which is not installed (pip install pyarrow); "
                "use --format csv instead",
                path,
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False, engine="pyarrow")
    return path
