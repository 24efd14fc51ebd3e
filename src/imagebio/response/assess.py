"""Run one response criterion over a whole lesion table: the engine behind ``imagebio response assess``.

:func:`assess` returns one row per subject and time point (``timepoint`` as ISO date) plus one ``best`` row
per subject, with ``category`` and ``reason``; ``revised_from`` is filled where a later scan revised an
earlier time point (the reason then says why).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from imagebio.errors import InvalidParameterError, SpecError
from imagebio.response._core import PatientResponse
from imagebio.response.table import read_lesion_table

__all__ = ["CRITERIA", "assess", "assess_subjects", "load_settings"]

#: criterion name -> (module, settings class) under imagebio.response.
CRITERIA: dict[str, tuple[str, str]] = {
    "recist11": ("recist11", "RecistSettings"),
    "irecist": ("irecist", "IrecistSettings"),
    "mrecist": ("mrecist", "MrecistSettings"),
    "choi": ("choi", "ChoiSettings"),
    "percist": ("percist", "PercistSettings"),
    "rano2": ("rano2", "Rano2Settings"),
    "lugano": ("lugano", "LuganoSettings"),
    "volumetric": ("volumetric", "VolumetricSettings"),
}


def _engine(criteria: str):
    if criteria not in CRITERIA:
        raise InvalidParameterError("criteria", criteria, f"one of {', '.join(CRITERIA)}")
    module_name, settings_name = CRITERIA[criteria]
    module = importlib.import_module(f"imagebio.response.{module_name}")
    return module, getattr(module, settings_name)


def load_settings(criteria: str, source: str | PathLike | Mapping[str, Any] | None = None, **overrides: Any):
    """The settings dataclass of a criterion, from defaults, a YAML file or mapping, and keyword overrides.

    Parameters
    ----------
    criteria : str
        A key of :data:`CRITERIA`.
    source : path or mapping, optional
        YAML file (a mapping of setting name to value) or a mapping.
    **overrides
        Settings that take precedence over ``source``.

    Raises
    ------
    SpecError
        The YAML file is unreadable or not a mapping, or names an unknown setting.
    InvalidParameterError
        An unknown criterion or keyword setting, or a value out of range.
    """
    _, settings_cls = _engine(criteria)
    fields = {f.name for f in dataclasses.fields(settings_cls)}
    values: dict[str, Any] = {}
    if source is not None:
        if isinstance(source, Mapping):
            values.update(source)
            origin = "settings mapping"
        else:
            import yaml

            origin = str(source)
            try:
                loaded = yaml.safe_load(Path(source).read_text())
            except (OSError, yaml.YAMLError) as exc:
                raise SpecError(f"{origin}: cannot read {criteria} settings ({exc})") from exc
            if not isinstance(loaded, Mapping):
                raise SpecError(f"{origin}: expected a mapping of {criteria} settings, found {type(loaded).__name__}")
            values.update(loaded)
        unknown = sorted(set(values) - fields)
        if unknown:
            raise SpecError(
                f"{origin}: unknown {criteria} setting(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}"
            )
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise InvalidParameterError(
            unknown[0], overrides[unknown[0]], f"a {criteria} setting: {', '.join(sorted(fields))}"
        )
    values.update(overrides)
    return settings_cls(**values)


def assess_subjects(
    table: str | PathLike | pd.DataFrame,
    criteria: str,
    confirm: bool | None = None,
    settings: str | PathLike | Mapping[str, Any] | None = None,
    **options: Any,
) -> list[PatientResponse]:
    """Per-subject :class:`~imagebio.response._core.PatientResponse` objects (the structured form of :func:`assess`).

    ``settings`` is a YAML file or mapping of the criterion's settings; ``options`` are fields of its settings
    dataclass (e.g. ``cr_reappearance="apply_sum_rule"``, ``min_sd_days=56``) and take precedence; an unknown
    one raises :class:`~imagebio.errors.InvalidParameterError`.
    """
    module, _ = _engine(criteria)
    if confirm is not None:
        options["confirm"] = confirm
    resolved = load_settings(criteria, settings, **options)
    frame = read_lesion_table(table)
    return [
        module.assess_patient(rows, resolved, str(subject)) for subject, rows in frame.groupby("subject", sort=True)
    ]


def assess(
    table: str | PathLike | pd.DataFrame,
    criteria: str,
    confirm: bool | None = None,
    settings: str | PathLike | Mapping[str, Any] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Assess every subject of a lesion table with one criterion.

    Parameters
    ----------
    table : path or pandas.DataFrame
        A lesion table (:mod:`imagebio.response.table`).
    criteria : str
        ``recist11``, ``irecist``, ``mrecist``, ``choi``, ``percist``, ``rano2``, ``lugano`` or ``volumetric``.
    confirm : bool, optional
        Require confirmation of responses for the best overall response (RECIST 1.1 rule 25 and analogues);
        ``None`` keeps the value of ``settings`` (default False).
    settings : path or mapping, optional
        YAML file or mapping of the criterion's settings (see :func:`load_settings`).
    **options
        Settings of the criterion (see its ``*Settings`` dataclass).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject, timepoint, criteria, category, reason, revised_from, numbers`` (``numbers`` a JSON
        string of the values the decision used); one row per subject and time point (baseline included, its
        category ``baseline``) and a ``best`` row per subject.
    """
    frames = [r.to_frame() for r in assess_subjects(table, criteria, confirm, settings, **options)]
    if not frames:
        return pd.DataFrame(
            columns=["subject", "timepoint", "criteria", "category", "reason", "revised_from", "numbers"]
        )
    out = pd.concat(frames, ignore_index=True)
    out["numbers"] = out["numbers"].map(lambda d: json.dumps(d, default=str, sort_keys=True))
    return out
