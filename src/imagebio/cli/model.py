"""``imagebio model``: fit a predictive model of a binary outcome by nested cross-validation, and score new data.

Features come from the store (Measurements of one time point pivoted to one row per subject, ROIs aggregated) or
from a CSV; the outcome from a CSV ``subject,outcome`` or from the store's best overall response categories
(``best_response_<criteria>``: CR/PR = 1, other categories 0). ``fit`` writes the model (joblib), a Markdown model
card, ROC, calibration and decision-curve PNGs and ``validation.json``; ``predict`` refuses features computed
with other extraction settings (their settings hash differs from the model's).

Feature CSVs are either *long* (columns ``subject, name, value`` and optionally ``settings_hash``, e.g. an export
of the store's measurements; ``timepoint``/``roi`` columns are filtered and aggregated like the store) or *wide*
(a ``subject`` column and one column per feature; their settings hash is ``--settings-hash``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="Predictive models of a binary outcome (nested cross-validation, model card, scoring).",
                  no_args_is_help=True)

MODEL_FILE = "model.joblib"
CARD_FILE = "model_card.md"
#: Response codes of imagebio.pipeline.response_run counted as response (1 complete, 2 partial response).
RESPONDER_CODES = (1.0, 2.0)
AGGREGATES = ("mean", "max", "min", "sum")
UNSPECIFIED_HASH = "unspecified"

DbOption = Annotated[Optional[str], typer.Option("--db", help="Store: SQLite path or SQLAlchemy URL.")]
FeaturesOption = Annotated[Optional[Path], typer.Option("--features", help="Feature CSV (long or wide).",
                                                        exists=True, dir_okay=False)]
TimepointOption = Annotated[str, typer.Option("--timepoint", help="Time point label of the features (store or "
                                              "long CSV with a timepoint column).")]
SettingsHashOption = Annotated[str, typer.Option("--settings-hash", help="Extraction settings hash of a wide "
                                                 "feature CSV.")]


@app.command("fit")
def fit(
    out: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    outcome: Annotated[str, typer.Option("--outcome", help="What the model predicts (e.g. response).")] = "response",
    db: DbOption = None,
    features: FeaturesOption = None,
    outcomes: Annotated[Optional[Path], typer.Option("--outcomes", help="Outcome CSV: subject and outcome columns.",
                                                     exists=True, dir_okay=False)] = None,
    positive: Annotated[Optional[list[str]], typer.Option("--positive", help="Outcome value counted as positive "
                                                          "(repeatable; needed unless the outcome is 0/1).")] = None,
    criteria: Annotated[Optional[str], typer.Option("--criteria", help="Stored response criteria "
                                                    "(best_response_<criteria>); default: the only one stored.")
                        ] = None,
    timepoint: TimepointOption = "baseline",
    feature: Annotated[Optional[list[str]], typer.Option("--feature", help="Feature name or glob (repeatable); "
                                                         "default: all.")] = None,
    roi: Annotated[Optional[list[str]], typer.Option("--roi", help="Only these ROIs (repeatable).")] = None,
    roi_aggregate: Annotated[str, typer.Option("--roi-aggregate", help="Combine a subject's ROIs: mean, max, min "
                                               "or sum.")] = "mean",
    settings_hash: SettingsHashOption = UNSPECIFIED_HASH,
    outer_splits: Annotated[int, typer.Option("--outer-splits", min=2)] = 5,
    outer_repeats: Annotated[int, typer.Option("--outer-repeats", min=1)] = 3,
    inner_splits: Annotated[int, typer.Option("--inner-splits", min=2)] = 3,
    n_boot: Annotated[int, typer.Option("--n-boot", min=100, help="Bootstrap resamples of the AUC CI.")] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Fit a model of OUTCOME by repeated nested cross-validation; write model, model card and validation PNGs."""
    spec = _FeatureSpec(timepoint, tuple(feature or ()), tuple(roi or ()), roi_aggregate)
    fit_model(out, outcome, db, features, outcomes, tuple(positive or ()), criteria, spec, settings_hash,
              outer_splits, outer_repeats, inner_splits, n_boot, seed)


@app.command("predict")
def predict(
    model_dir: Annotated[Path, typer.Argument(help="Folder written by `imagebio model fit`.", exists=True)],
    db: DbOption = None,
    features: FeaturesOption = None,
    settings_hash: SettingsHashOption = UNSPECIFIED_HASH,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write subject,probability,predicted CSV here.")
                   ] = None,
    threshold: Annotated[float, typer.Option("--threshold", min=0.0, max=1.0, help="Probability from which "
                                             "the outcome is predicted positive.")] = 0.5,
) -> None:
    """Score subjects with a saved model; features computed with other settings are refused."""
    predict_model(model_dir, db, features, settings_hash, out, threshold)


# --------------------------------------------------------------------------------------------- features
class _FeatureSpec:
    """How features are taken from measurements: time point, feature filter, ROI filter and aggregation."""

    def __init__(self, timepoint: str, features: tuple[str, ...], rois: tuple[str, ...], aggregate: str):
        from imagebio.errors import InvalidParameterError

        if aggregate not in AGGREGATES:
            raise InvalidParameterError("--roi-aggregate", aggregate, f"one of {', '.join(AGGREGATES)}")
        self.timepoint = timepoint
        self.features = features
        self.rois = rois
        self.aggregate = aggregate

    def as_dict(self) -> dict:
        return {"timepoint": self.timepoint, "features": list(self.features), "rois": list(self.rois),
                "roi_aggregate": self.aggregate}

    @classmethod
    def from_dict(cls, data: dict) -> _FeatureSpec:
        return cls(data["timepoint"], tuple(data["features"]), tuple(data["rois"]), data["roi_aggregate"])


def _is_outcome_name(name: str) -> bool:
    # response categories are outcomes, never features (that would leak the answer)
    return name.startswith(("response_", "best_response_"))


def _pivot_long(frame, spec: _FeatureSpec, source: str):
    """Long measurements → (X indexed by subject, {feature: settings hash})."""
    import fnmatch

    import pandas as pd

    from imagebio.errors import InvalidParameterError

    if "timepoint" in frame.columns:
        frame = frame[frame["timepoint"] == spec.timepoint]
    if spec.rois and "roi" in frame.columns:
        frame = frame[frame["roi"].isin(spec.rois)]
    frame = frame[~frame["name"].astype(str).map(_is_outcome_name)]
    if spec.features:
        keep = frame["name"].astype(str).map(lambda n: any(fnmatch.fnmatchcase(n, p) for p in spec.features))
        frame = frame[keep]
    if frame.empty:
        raise InvalidParameterError("features", f"no measurement in {source} for time point {spec.timepoint!r}"
                                    + (f" and features {list(spec.features)}" if spec.features else ""),
                                    "measurements of the chosen time point, ROIs and features")
    frame = frame.copy()
    if "settings_hash" not in frame.columns:
        frame["settings_hash"] = UNSPECIFIED_HASH
    frame["settings_hash"] = frame["settings_hash"].fillna("").replace("", UNSPECIFIED_HASH)
    method = frame["method"].fillna("") if "method" in frame.columns else pd.Series("", index=frame.index)
    # one column per (name, method, settings): the plain name when unambiguous
    combos = frame.assign(method=method).groupby("name")[["method", "settings_hash"]].nunique()
    ambiguous = set(combos.index[(combos["method"] > 1) | (combos["settings_hash"] > 1)])

    def column(row) -> str:
        if row["name"] not in ambiguous:
            return str(row["name"])
        return f"{row['name']}@{row['method']}#{row['settings_hash'][:10]}"

    frame["feature"] = frame.assign(method=method).apply(column, axis=1)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    wide = frame.pivot_table(index="subject", columns="feature", values="value", aggfunc=spec.aggregate,
                             dropna=False)
    hashes = frame.groupby("feature")["settings_hash"].first().to_dict()
    wide.columns = [str(c) for c in wide.columns]
    wide.index = wide.index.astype(str)
    return wide, {str(k): str(v) for k, v in hashes.items()}


def _read_feature_csv(path: Path, spec: _FeatureSpec, settings_hash: str):
    import pandas as pd

    from imagebio.errors import InvalidParameterError

    frame = _read_csv(path)
    if "subject" not in frame.columns:
        raise InvalidParameterError("--features", str(path), "a CSV with a 'subject' column")
    if {"name", "value"} <= set(frame.columns):
        frame["subject"] = frame["subject"].astype(str)
        return _pivot_long(frame, spec, str(path))
    wide = frame.set_index(frame["subject"].astype(str)).drop(columns=["subject"])
    if "timepoint" in wide.columns:
        wide = wide[wide["timepoint"] == spec.timepoint].drop(columns=["timepoint"])
    if spec.features:
        import fnmatch

        wide = wide[[c for c in wide.columns if any(fnmatch.fnmatchcase(str(c), p) for p in spec.features)]]
    if wide.index.duplicated().any():
        raise InvalidParameterError("--features", f"subjects repeated in {path}: "
                                    f"{list(wide.index[wide.index.duplicated()][:5])}", "one row per subject")
    wide = wide.apply(pd.to_numeric, errors="coerce")
    wide.columns = [str(c) for c in wide.columns]
    return wide, {c: settings_hash for c in wide.columns}


def _read_csv(path: Path):
    import pandas as pd

    from imagebio.errors import InvalidParameterError

    try:
        return pd.read_csv(path, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InvalidParameterError("CSV", str(path), f"a CSV table with a header row ({exc})") from None


def _store_frame(db: str):
    from imagebio.store import open_store
    from imagebio.store.queries import measurements_frame

    store = open_store(db)
    with store.session(readonly=True) as session:
        return measurements_frame(session), store.display_url


def _features(db: str | None, features: Path | None, spec: _FeatureSpec, settings_hash: str):
    from imagebio.errors import InvalidParameterError

    if (db is None) == (features is None):
        raise InvalidParameterError("--db/--features", "both" if db else "neither", "exactly one feature source")
    if features is not None:
        X, hashes = _read_feature_csv(features, spec, settings_hash)
        return X, hashes, f"feature table {features.name}", None
    frame, shown = _store_frame(db)
    X, hashes = _pivot_long(frame, spec, f"the store {shown}")
    return X, hashes, f"store {shown}", frame


# --------------------------------------------------------------------------------------------- outcome
def _outcome_from_csv(path: Path, outcome: str, positive: tuple[str, ...]):
    import numpy as np
    import pandas as pd

    from imagebio.errors import InvalidParameterError

    frame = _read_csv(path)
    if "subject" not in frame.columns or len(frame.columns) < 2:
        raise InvalidParameterError("--outcomes", str(path), "a CSV with 'subject' and an outcome column")
    column = "outcome" if "outcome" in frame.columns else (outcome if outcome in frame.columns else
                                                           [c for c in frame.columns if c != "subject"][0])
    values = frame.set_index(frame["subject"].astype(str))[column].dropna()
    if values.index.duplicated().any():
        raise InvalidParameterError("--outcomes", f"subjects repeated in {path}", "one row per subject")
    if positive:
        wanted = {str(p) for p in positive}
        text = values.map(lambda v: str(int(v)) if isinstance(v, float) and float(v).is_integer() else str(v))
        # a single class (no value or every value positive) is refused by the model fit, naming the counts
        return (text.isin(wanted)).astype(int), f"{column} in {sorted(wanted)} (CSV {path.name})"
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and set(np.unique(numeric)) <= {0.0, 1.0}:
        return numeric.astype(int), f"{column} = 1 (CSV {path.name})"
    raise InvalidParameterError("--positive", None, f"the value(s) of {column!r} that count as positive; "
                                f"found {sorted(map(str, set(values)))[:6]}")


def _outcome_from_store(frame, criteria: str | None):
    import math

    from imagebio.errors import InvalidParameterError

    stored = sorted({n for n in frame["name"].unique() if str(n).startswith("best_response_")})
    if criteria is not None:
        name = f"best_response_{criteria}"
        if name not in stored:
            raise InvalidParameterError("--criteria", criteria, f"one of the stored criteria "
                                        f"{[s.removeprefix('best_response_') for s in stored] or 'none'}; run "
                                        "`imagebio response` first")
    elif len(stored) == 1:
        name = stored[0]
    else:
        found = [s.removeprefix("best_response_") for s in stored] or "(none: run `imagebio response` first)"
        raise InvalidParameterError("--criteria", None, f"one of the stored response criteria {found}")
    rows = frame[frame["name"] == name].sort_values("created_at").groupby("subject").last()
    codes = rows["value"]
    codes = codes[codes.map(lambda v: v is not None and not math.isnan(v))]  # NE has no code: left out
    y = codes.isin(RESPONDER_CODES).astype(int)
    y.index = y.index.astype(str)
    return y, f"{name} in CR/PR (store)"


# --------------------------------------------------------------------------------------------- commands
def fit_model(out: Path, outcome: str, db: str | None, features: Path | None, outcomes: Path | None,
              positive: tuple[str, ...], criteria: str | None, spec: _FeatureSpec, settings_hash: str,
              outer_splits: int, outer_repeats: int, inner_splits: int, n_boot: int, seed: int) -> None:
    """See :func:`fit`."""
    import json

    from imagebio.cli._console import console, error_console
    from imagebio.errors import InvalidParameterError
    from imagebio.stats.model_card import render_model_card, save_model
    from imagebio.stats.models import build_pipeline, calibration, decision_curve
    from imagebio.stats.plots import plot_calibration, plot_decision_curve, plot_roc

    X, hashes, source, frame = _features(db, features, spec, settings_hash)
    if outcomes is not None:
        y, outcome_rule = _outcome_from_csv(outcomes, outcome, positive)
    elif frame is not None:
        y, outcome_rule = _outcome_from_store(frame, criteria)
    else:
        raise InvalidParameterError("--outcomes", None, "an outcome CSV (or --db with stored response categories)")
    subjects = sorted(set(X.index) & set(y.index))
    dropped = sorted(set(X.index) ^ set(y.index))
    if dropped:
        error_console.print(f"note: {len(dropped)} subject(s) without both features and outcome left out "
                            f"(e.g. {dropped[:3]})", highlight=False)
    if not subjects:
        raise InvalidParameterError("subjects", "none with both features and an outcome",
                                    "the same subject identifiers in the features and the outcome")
    X, y = X.loc[subjects], y.loc[subjects].to_numpy()
    # "all" below 10 features: the redundancy filter may leave fewer than a fixed k (sklearn then warns)
    pipeline = build_pipeline(k_best=10 if X.shape[1] > 10 else "all")
    grid = {"classifier__C": [0.01, 0.1, 1.0, 10.0]}
    model, summary, oof = _validate_and_fit(pipeline, grid, X, y, outer_splits, outer_repeats, inner_splits, n_boot,
                                            seed)
    out.mkdir(parents=True, exist_ok=True)
    metadata = {
        "outcome_definition": outcome_rule,
        "feature_source": source,
        "feature_spec": spec.as_dict(),
        "settings_hash_of_wide_csv": settings_hash if features is not None else None,
        "n_features": int(X.shape[1]),
        "n_subjects": len(subjects),
    }
    saved = save_model(out / MODEL_FILE, model, list(X.columns), hashes, outcome, validation=summary,
                       metadata=metadata)
    description = (f"{len(subjects)} subjects ({int(y.sum())} with {outcome}: {outcome_rule}); features from "
                   f"{source}, time point {spec.timepoint!r}, ROIs {list(spec.rois) or 'all'} "
                   f"({spec.aggregate} over ROIs)")
    (out / CARD_FILE).write_text(render_model_card(saved, description) + _figures_section(), encoding="utf-8")
    plot_roc(y, oof, out / "roc.png", label="nested CV (out of fold)")
    plot_calibration(calibration(y, oof), out / "calibration.png")
    plot_decision_curve(decision_curve(y, oof), out / "decision_curve.png")
    (out / "validation.json").write_text(json.dumps(summary, indent=2, default=float))
    console.print(f"{outcome}: nested-CV AUC {summary['auc_nested_cv']:.3f} (SD {summary['auc_nested_cv_sd']:.3f}); "
                  f"out-of-fold AUC {summary['auc_oof']:.3f} [{summary['auc_oof_ci'][0]:.3f}, "
                  f"{summary['auc_oof_ci'][1]:.3f}]; calibration slope {summary['calibration_slope']:.2f}; "
                  f"{len(subjects)} subjects, {X.shape[1]} features → {out}", highlight=False)


def _validate_and_fit(pipeline, grid, X, y, outer_splits: int, outer_repeats: int, inner_splits: int, n_boot: int,
                      seed: int):
    """:func:`imagebio.stats.models.fit_with_validation`, step by step, also returning the out-of-fold
    probabilities (mean over repeats) that the ROC, calibration and decision-curve figures need.

    Same summary keys and the same folds (``seed``) as ``fit_with_validation``; the nested cross-validation is run
    once instead of twice.
    """
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from imagebio.stats.models import bootstrap_auc_ci, calibration, check_binary_outcome, nested_cross_validate

    y01 = check_binary_outcome(y, min_per_class=outer_splits)
    cv = nested_cross_validate(pipeline, grid, X, y01, outer_splits, outer_repeats, inner_splits, random_state=seed)
    oof = cv.oof_probability.mean(axis=0)
    point, ci = bootstrap_auc_ci(y01, oof, n_boot=n_boot, random_state=seed)
    cal = calibration(y01, oof)
    inner = StratifiedKFold(n_splits=inner_splits, shuffle=True, random_state=seed)
    final = GridSearchCV(clone(pipeline), grid, scoring="roc_auc", cv=inner, refit=True).fit(X, y01)
    summary = {
        "auc_nested_cv": cv.auc_mean,
        "auc_nested_cv_sd": cv.auc_sd,
        "auc_oof": point,
        "auc_oof_ci": list(ci),
        "calibration_slope": cal.slope,
        "calibration_intercept": cal.intercept,
        "best_params": {k: (v.item() if hasattr(v, "item") else v) for k, v in final.best_params_.items()},
        "n_samples": int(len(y01)),
        "n_events": int(y01.sum()),
        "outer_splits": outer_splits,
        "outer_repeats": outer_repeats,
        "inner_splits": inner_splits,
    }
    return final.best_estimator_, summary, oof


def _figures_section() -> str:
    return ("\n## Figures\n\n- ROC of the out-of-fold probabilities: `roc.png`\n- Calibration: `calibration.png`\n"
            "- Decision curve: `decision_curve.png`\n")


def predict_model(model_dir: Path, db: str | None, features: Path | None, settings_hash: str, out: Path | None,
                  threshold: float) -> None:
    """See :func:`predict`."""
    import csv

    from imagebio.cli._console import console, error_console
    from imagebio.stats.model_card import load_model

    path = model_dir / MODEL_FILE if model_dir.is_dir() else model_dir
    saved = load_model(path)
    spec = _FeatureSpec.from_dict(saved.metadata["feature_spec"])
    X, hashes, _, _ = _features(db, features, spec, settings_hash)
    # a feature the model needs but that is absent is reported by check_features; extra ones are ignored
    hashes = {name: hashes.get(name, "absent") for name in saved.features.names}
    X = saved.check_features(X, hashes)
    incomplete = X.index[X.isna().any(axis=1)]
    if len(incomplete):
        error_console.print(f"note: {len(incomplete)} subject(s) with missing feature values not scored "
                            f"(e.g. {list(incomplete[:3])})", highlight=False)
        X = X.drop(index=incomplete)
    if X.empty:
        from imagebio.errors import InvalidParameterError

        raise InvalidParameterError("features", "no subject with every model feature", "complete feature rows")
    probability = saved.predict_proba(X, hashes)
    rows = [(subject, float(p), int(p >= threshold)) for subject, p in zip(X.index, probability, strict=True)]
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["subject", "probability", "predicted"])
            writer.writerows((s, repr(p), c) for s, p, c in rows)
        error_console.print(f"wrote {len(rows)} predictions to {out}", highlight=False)
        return
    from rich.table import Table

    table = Table(title=f"P({saved.outcome}) by {path}")
    for column in ("subject", "probability", "predicted"):
        table.add_column(column, justify="left" if column == "subject" else "right")
    for subject, p, c in rows:
        table.add_row(subject, f"{p:.4f}", str(c))
    console.print(table)
