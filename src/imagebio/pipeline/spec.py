"""Study specification: a YAML file saying which data to read, which analyses to run and where to write results.

::

    name: my-study
    inputs:
      store: imagebio.db              # SQLite path or SQLAlchemy URL (``imagebio run --db`` overrides it)
      dicom: [dicom/]                 # folders ingested (idempotently) before the run
    select:                           # applies to every analysis unless the analysis has its own ``select``
      subjects: null                  # PatientIDs; null = all
      timepoints: null                # time point labels (baseline, follow-up 1...); null = all
      modalities: [CT, PT, MR]        # image series modalities read
      series_description: null        # regular expression searched in SeriesDescription of image series
      rois: null                      # ROI names (regular expressions, full match); null = all
    analyses:
      - name: lesions
        kind: lesion_biomarkers
      - name: radiomics_ct
        kind: radiomics
        settings: {preset: ibsi_config_a, image: CT}
    outputs:
      csv: results/measurements.csv

Validation happens entirely before any work: unknown keys, wrong types, unknown presets or analysis kinds,
missing input folders raise :class:`imagebio.errors.SpecError` naming the offending path in the file, e.g.
``study.yaml: analyses[1].settings.bin_width: expected a number, got 'x'``. Relative paths are resolved against
the folder of the spec file.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from imagebio.errors import SpecError

__all__ = [
    "StudySpec",
    "Selection",
    "AnalysisSpec",
    "load_spec",
    "parse_spec",
    "ANALYSIS_KINDS",
    "SUBJECT_LEVEL_KINDS",
]

#: Analysis kinds a study may list, with the one-line description shown by ``imagebio init-study``.
ANALYSIS_KINDS = {
    "lesion_biomarkers": "volume, HU, SUV, ADC, T1 and DCE Ktrans/ve of each lesion (imagebio.pipeline.lesions)",
    "radiomics": "IBSI radiomics features of each ROI on one image (imagebio.radiomics.extract_features)",
    "pet_metrics": "SUVmax/peak/mean, MTV and TLG of each lesion (imagebio.pet.metrics.lesion_metrics)",
    "response": "response category per subject and time point (imagebio.pipeline.response_run.assess_store)",
}

#: Analyses that run once per subject (over all its time points) instead of once per time point.
SUBJECT_LEVEL_KINDS = frozenset({"response"})

_TOP_KEYS = {"name", "description", "inputs", "select", "analyses", "outputs"}
_INPUT_KEYS = {"store", "dicom"}
_SELECT_KEYS = {"subjects", "timepoints", "modalities", "series_description", "rois"}
_ANALYSIS_KEYS = {"name", "kind", "settings", "select", "depends_on"}
_OUTPUT_KEYS = {"csv"}
_ROLES = ("CT", "PT", "DWI", "VFA", "DCE")
_PET_QUANTITIES = ("suvbw", "suvlbm", "sul", "suvbsa", "suvibw", "bqml")


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which subjects, time points, series and ROIs an analysis reads (``None`` = no restriction)."""

    subjects: tuple[str, ...] | None = None
    timepoints: tuple[str, ...] | None = None
    modalities: tuple[str, ...] | None = None
    series_description: str | None = None
    rois: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    def roi_wanted(self, name: str) -> bool:
        """Whether ROI ``name`` matches one of the ``rois`` patterns (full match)."""
        return self.rois is None or any(re.fullmatch(p, name) for p in self.rois)


@dataclasses.dataclass(frozen=True)
class AnalysisSpec:
    """One analysis of the study: its ``kind``, validated ``settings``, selection and upstream analyses."""

    name: str
    kind: str
    settings: Mapping[str, Any]
    select: Selection
    depends_on: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain data sent to the workers (picklable, JSON-able)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "settings": dict(self.settings),
            "select": self.select.as_dict(),
            "depends_on": list(self.depends_on),
        }


@dataclasses.dataclass(frozen=True)
class StudySpec:
    """A validated study specification (see the module docstring for the YAML layout)."""

    name: str
    store: str | None
    dicom_roots: tuple[Path, ...]
    analyses: tuple[AnalysisSpec, ...]
    csv: Path | None = None
    source: Path | None = None
    description: str | None = None

    def analysis(self, name: str) -> AnalysisSpec:
        for item in self.analyses:
            if item.name == name:
                return item
        raise KeyError(name)


class _Checker:
    """Type checks that raise SpecError with the path of the value in the file."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, path: str, message: str) -> SpecError:
        where = f"{self.source}: " if self.source else ""
        return SpecError(f"{where}{path}: {message}")

    def mapping(self, value: Any, path: str, allowed: set[str] | None = None) -> dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {_shown(value)}")
        if allowed is not None:
            unknown = sorted(str(k) for k in value if k not in allowed)
            if unknown:
                raise self.fail(
                    _join(path, unknown[0]),
                    f"unknown key {unknown[0]!r} (expected one of: {', '.join(sorted(allowed))})",
                )
        return dict(value)

    def string(self, value: Any, path: str, optional: bool = False) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"expected a non-empty string, got {_shown(value)}")
        return value

    def number(self, value: Any, path: str, optional: bool = False, integer: bool = False) -> float | int | None:
        if value is None and optional:
            return None
        wanted = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, wanted):
            raise self.fail(path, f"expected {'an integer' if integer else 'a number'}, got {_shown(value)}")
        # 25 and 25.0 are the same setting: normalise so that they hash the same.
        return int(value) if integer else float(value)

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {_shown(value)}")
        return value

    def strings(self, value: Any, path: str, optional: bool = True) -> tuple[str, ...] | None:
        if value is None and optional:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, Sequence):
            raise self.fail(path, f"expected a list of strings, got {_shown(value)}")
        return tuple(self.string(v, f"{path}[{i}]") for i, v in enumerate(value))

    def numbers(self, value: Any, path: str) -> tuple[float, ...]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise self.fail(path, f"expected a list of numbers, got {_shown(value)}")
        return tuple(float(self.number(v, f"{path}[{i}]")) for i, v in enumerate(value))

    def regex(self, value: Any, path: str) -> str:
        text = self.string(value, path)
        try:
            re.compile(text)
        except re.error as exc:
            raise self.fail(path, f"invalid regular expression {text!r} ({exc})") from None
        return text

    def choice(self, value: Any, path: str, choices: Sequence[str]) -> str:
        text = self.string(value, path)
        if text not in choices:
            raise self.fail(path, f"expected one of {', '.join(choices)}, got {_shown(value)}")
        return text


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    return f"{value!r} ({type(value).__name__})" if not isinstance(value, (Mapping, list)) else type(value).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _selection(check: _Checker, raw: Any, path: str, base: Selection | None = None) -> Selection:
    data = check.mapping(raw, path, _SELECT_KEYS)
    values = {} if base is None else dataclasses.asdict(base)
    for key in ("subjects", "timepoints", "rois"):
        if key in data:
            values[key] = check.strings(data[key], _join(path, key))
    if "rois" in data and values["rois"]:
        for i, pattern in enumerate(values["rois"]):
            check.regex(pattern, f"{_join(path, 'rois')}[{i}]")
    if "modalities" in data:
        mods = check.strings(data["modalities"], _join(path, "modalities"))
        values["modalities"] = None if mods is None else tuple(m.upper() for m in mods)
    if "series_description" in data:
        raw_pattern = data["series_description"]
        values["series_description"] = (
            None if raw_pattern is None else check.regex(raw_pattern, _join(path, "series_description"))
        )
    return Selection(**values)


# ---------------------------------------------------------------------------------------------------------------
# Settings of each analysis kind


def _lesion_settings(check: _Checker, raw: Any, path: str) -> dict[str, Any]:
    from imagebio.pipeline.lesions import DceSettings

    data = check.mapping(raw, path, {"series", "pet_quantity", "dce"})
    out: dict[str, Any] = {
        "series": list(_ROLES),
        "pet_quantity": "suvbw",
        "dce": None,
    }
    if "series" in data:
        roles = check.strings(data["series"], _join(path, "series"), optional=False)
        for i, role in enumerate(roles):
            check.choice(role, f"{_join(path, 'series')}[{i}]", _ROLES)
        out["series"] = list(roles)
    if "pet_quantity" in data:
        out["pet_quantity"] = check.choice(data["pet_quantity"], _join(path, "pet_quantity"), _PET_QUANTITIES)
    if data.get("dce") is not None:
        dce_path = _join(path, "dce")
        fields = {f.name: f for f in dataclasses.fields(DceSettings)}
        dce = check.mapping(data["dce"], dce_path, set(fields))
        for key, value in dce.items():
            kind = str(fields[key].type)
            if kind == "str":
                check.string(value, _join(dce_path, key))
            else:
                dce[key] = check.number(value, _join(dce_path, key), integer=(kind == "int"))
        out["dce"] = dataclasses.asdict(DceSettings(**dce))
    return out


def _annotation_check(check: _Checker, annotation: str, value: Any, path: str) -> Any:
    """Check a dataclass field value against its (string) annotation: numbers, strings, booleans, lists."""
    optional = "None" in annotation
    if value is None:
        if optional:
            return None
        raise check.fail(path, f"expected a value of type {annotation}, got null")
    if annotation.startswith("tuple") or annotation.startswith("list"):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise check.fail(path, f"expected a list, got {_shown(value)}")
        inner = "float" if "float" in annotation else ("str" if "str" in annotation else "")
        items = list(value)
        for i, item in enumerate(items):
            if inner == "float" and item is not None:
                items[i] = check.number(item, f"{path}[{i}]")
            elif inner == "str":
                check.string(item, f"{path}[{i}]")
        return items
    if annotation.startswith("bool"):
        return check.boolean(value, path)
    if annotation.startswith("int"):
        return check.number(value, path, integer=True)
    if annotation.startswith("float"):
        return check.number(value, path)
    if annotation.startswith("str"):
        return check.string(value, path)
    return value  # nested settings (e.g. a filter mapping) are validated by the room itself


def _radiomics_settings(check: _Checker, raw: Any, path: str) -> dict[str, Any]:
    from imagebio.errors import ImagebioError
    from imagebio.radiomics.settings import (
        RadiomicsSettings,
        available_presets,
        load_settings,
        resolve_preset_name,
    )

    fields = {f.name: str(f.type) for f in dataclasses.fields(RadiomicsSettings)}
    own = {"preset", "image", "pet_quantity"}
    data = check.mapping(raw, path, own | (set(fields) - {"name"}))
    preset = check.string(data.get("preset", "ibsi_config_a"), _join(path, "preset"))
    if resolve_preset_name(preset) not in available_presets():
        raise check.fail(
            _join(path, "preset"), f"unknown radiomics preset {preset!r} (available: {', '.join(available_presets())})"
        )
    image = check.choice(data.get("image", "CT"), _join(path, "image"), ("CT", "PT"))
    quantity = check.choice(data.get("pet_quantity", "suvbw"), _join(path, "pet_quantity"), _PET_QUANTITIES)
    overrides = {}
    for key, value in data.items():
        if key in own:
            continue
        overrides[key] = _annotation_check(check, fields[key], value, _join(path, key))
    try:
        merged = load_settings(preset).to_dict() | overrides
        resolved = RadiomicsSettings.from_dict(merged).to_dict()
    except ImagebioError as exc:
        raise check.fail(path, str(exc)) from None
    return {"preset": preset, "image": image, "pet_quantity": quantity, "overrides": overrides, "resolved": resolved}


def _pet_settings(check: _Checker, raw: Any, path: str) -> dict[str, Any]:
    from imagebio.pet.metrics import LesionMetricSettings

    fields = {f.name: f for f in dataclasses.fields(LesionMetricSettings)}
    data = check.mapping(raw, path, set(fields) | {"pet_quantity"})
    out = dataclasses.asdict(LesionMetricSettings())
    out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}
    out["pet_quantity"] = check.choice(data.get("pet_quantity", "suvbw"), _join(path, "pet_quantity"), _PET_QUANTITIES)
    for key, value in data.items():
        if key == "pet_quantity":
            continue
        sub = _join(path, key)
        if key == "peak_method":
            out[key] = check.choice(value, sub, ("partial", "ibsi"))
        elif key == "peak_volume_ml":
            out[key] = float(check.number(value, sub))
        else:
            out[key] = list(check.numbers(value, sub))
    return out


def _response_settings(check: _Checker, raw: Any, path: str) -> dict[str, Any]:
    import dataclasses as dc

    from imagebio.errors import ImagebioError
    from imagebio.response.assess import CRITERIA, load_settings

    data = check.mapping(raw, path)
    criteria = check.choice(data.pop("criteria", "recist11"), _join(path, "criteria"), tuple(CRITERIA))
    try:
        resolved = load_settings(criteria, data)
    except ImagebioError as exc:
        raise check.fail(path, str(exc)) from None
    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dc.asdict(resolved).items()}
    return {"criteria": criteria, "settings": settings}


_SETTINGS_PARSERS = {
    "lesion_biomarkers": _lesion_settings,
    "radiomics": _radiomics_settings,
    "pet_metrics": _pet_settings,
    "response": _response_settings,
}


def _analyses(check: _Checker, raw: Any, base: Selection) -> tuple[AnalysisSpec, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)) or not raw:
        raise check.fail("analyses", f"expected a non-empty list of analyses, got {_shown(raw)}")
    out: list[AnalysisSpec] = []
    names: set[str] = set()
    for index, item in enumerate(raw):
        path = f"analyses[{index}]"
        data = check.mapping(item, path, _ANALYSIS_KEYS)
        if "kind" not in data:
            raise check.fail(path, f"missing key 'kind' (one of: {', '.join(ANALYSIS_KINDS)})")
        kind = check.string(data["kind"], f"{path}.kind")
        if kind not in _SETTINGS_PARSERS:
            raise check.fail(
                f"{path}.kind", f"unknown analysis kind {kind!r} (expected one of: {', '.join(ANALYSIS_KINDS)})"
            )
        name = check.string(data.get("name", kind), f"{path}.name")
        if name in names:
            raise check.fail(f"{path}.name", f"duplicate analysis name {name!r}")
        names.add(name)
        settings = _SETTINGS_PARSERS[kind](check, data.get("settings"), f"{path}.settings")
        select = _selection(check, data.get("select"), f"{path}.select", base) if "select" in data else base
        depends = check.strings(data.get("depends_on"), f"{path}.depends_on") or ()
        kinds = {a.name: a.kind for a in out}
        for i, upstream in enumerate(depends):
            if upstream not in kinds:
                raise check.fail(
                    f"{path}.depends_on[{i}]",
                    f"unknown analysis {upstream!r} (an analysis may depend only on analyses listed before it)",
                )
            if kinds[upstream] in SUBJECT_LEVEL_KINDS and kind not in SUBJECT_LEVEL_KINDS:
                raise check.fail(
                    f"{path}.depends_on[{i}]",
                    f"{upstream!r} runs once per subject; a per-visit analysis cannot wait for it",
                )
        out.append(AnalysisSpec(name, kind, settings, select, tuple(depends)))
    return tuple(out)


def parse_spec(data: Any, base_dir: str | Path = ".", source: str = "", check_paths: bool = True) -> StudySpec:
    """Validate a parsed study spec (a mapping, e.g. from YAML) and build a :class:`StudySpec`.

    Parameters
    ----------
    data : mapping
        The parsed YAML document.
    base_dir : path
        Folder that relative paths are resolved against (the spec file's folder).
    source : str
        Name of the file, prefixed to error messages.
    check_paths : bool
        Check that input DICOM folders exist.

    Raises
    ------
    SpecError
        Naming the path in the document of the first invalid value.
    """
    check = _Checker(source)
    top = check.mapping(data, "", _TOP_KEYS) if data is not None else {}
    if not top:
        raise check.fail("(document)", "the study spec is empty; expected keys: inputs, analyses, outputs")
    base = Path(base_dir)
    name = check.string(top.get("name", "study"), "name")
    description = check.string(top.get("description"), "description", optional=True)
    inputs = check.mapping(top.get("inputs"), "inputs", _INPUT_KEYS)
    store = check.string(inputs.get("store"), "inputs.store", optional=True)
    if store is not None and "://" not in store and store != ":memory:":
        store = str((base / store).resolve())
    roots = []
    for i, root in enumerate(check.strings(inputs.get("dicom"), "inputs.dicom") or ()):
        path = (base / root).resolve()
        if check_paths and not path.is_dir():
            raise check.fail(f"inputs.dicom[{i}]", f"DICOM folder {path} does not exist")
        roots.append(path)
    selection = _selection(check, top.get("select"), "select")
    if "analyses" not in top:
        raise check.fail("analyses", "missing: list at least one analysis")
    analyses = _analyses(check, top["analyses"], selection)
    outputs = check.mapping(top.get("outputs"), "outputs", _OUTPUT_KEYS)
    csv = check.string(outputs.get("csv"), "outputs.csv", optional=True)
    return StudySpec(
        name=name,
        store=store,
        dicom_roots=tuple(roots),
        analyses=analyses,
        csv=None if csv is None else (base / csv).resolve(),
        source=Path(source) if source else None,
        description=description,
    )


def load_spec(path: str | Path, check_paths: bool = True) -> StudySpec:
    """Read and validate a study spec YAML file (see :func:`parse_spec`)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: study spec file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    return parse_spec(data, base_dir=path.parent, source=str(path), check_paths=check_paths)
