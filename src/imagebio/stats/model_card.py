"""Saved models that know which features they need, and a model card describing them (TRIPOD).

A model is saved together with the exact definition of its inputs: the ordered feature names and the settings
hash of the extraction that produced them (the ``settings_hash`` the store records with every Measurement, see
``imagebio.store.writers.hash_settings``). Scoring data whose features were computed with other settings — a
different bin width, resampling, filter — is refused with an error instead of returning confident nonsense.

The file is a joblib pickle: load only files you trust (pickles can run code).

References
----------
- Collins GS, Reitsma JB, Altman DG, Moons KGM. Transparent reporting of a multivariable prediction model for
  individual prognosis or diagnosis (TRIPOD). Ann Intern Med 2015;162:55-63.
- Mitchell M, Wu S, Zaldivar A, et al. Model cards for model reporting. FAT* 2019:220-229.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from imagebio.errors import InvalidParameterError, StoreError

__all__ = ["FeatureDefinition", "SavedModel", "save_model", "load_model", "render_model_card", "FORMAT"]

FORMAT = "imagebio-model/1"


@dataclasses.dataclass(frozen=True)
class FeatureDefinition:
    """Ordered feature names and the settings hash of their extraction (one hash, or one per feature)."""

    names: tuple[str, ...]
    settings_hash: str | Mapping[str, str]

    def __post_init__(self) -> None:
        if not self.names or len(set(self.names)) != len(self.names):
            raise InvalidParameterError("names", self.names, "a non-empty list of distinct feature names")
        if isinstance(self.settings_hash, Mapping):
            missing = [n for n in self.names if n not in self.settings_hash]
            if missing:
                raise InvalidParameterError("settings_hash", f"no hash for {missing[:5]}", "a hash per feature")
        elif not isinstance(self.settings_hash, str) or not self.settings_hash:
            raise InvalidParameterError("settings_hash", self.settings_hash, "a non-empty hash string")

    def hash_of(self, name: str) -> str:
        return self.settings_hash[name] if isinstance(self.settings_hash, Mapping) else self.settings_hash


@dataclasses.dataclass
class SavedModel:
    """A fitted estimator with the provenance needed to score new data safely."""

    model: Any
    features: FeatureDefinition
    outcome: str
    imagebio_version: str
    sklearn_version: str
    created_utc: str
    validation: dict[str, Any] = dataclasses.field(default_factory=dict)
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    def check_features(self, X: Any, settings_hash: str | Mapping[str, str]) -> Any:
        """Return ``X``'s feature columns in the model's order, or raise if they are not the same features.

        Raises
        ------
        InvalidParameterError
            ``X`` is not a DataFrame, lacks a feature, or a feature's settings hash differs from the one the
            model was trained with.
        """
        import pandas as pd

        if not isinstance(X, pd.DataFrame):
            raise InvalidParameterError("X", type(X).__name__, "a DataFrame with named feature columns")
        missing = [n for n in self.features.names if n not in X.columns]
        if missing:
            raise InvalidParameterError(
                "X", f"missing features {missing[:5]}", f"all of {len(self.features.names)} model features"
            )
        given = FeatureDefinition(self.features.names, settings_hash)
        differ = [n for n in self.features.names if given.hash_of(n) != self.features.hash_of(n)]
        if differ:
            name = differ[0]
            raise InvalidParameterError(
                "settings_hash",
                f"{given.hash_of(name)} for {name!r} ({len(differ)} feature(s) differ)",
                f"{self.features.hash_of(name)}, the extraction settings the model was trained with",
            )
        return X.loc[:, list(self.features.names)]

    def predict_proba(self, X: Any, settings_hash: str | Mapping[str, str]) -> np.ndarray:
        """Probability of the positive outcome for each row of ``X`` (features checked first)."""
        return np.asarray(self.model.predict_proba(self.check_features(X, settings_hash)))[:, 1]

    def predict(self, X: Any, settings_hash: str | Mapping[str, str]) -> np.ndarray:
        """The estimator's ``predict`` (class, or risk score for survival models) after the feature check."""
        return np.asarray(self.model.predict(self.check_features(X, settings_hash)))


def save_model(
    path: str | os.PathLike,
    model: Any,
    feature_names: Sequence[str],
    settings_hash: str | Mapping[str, str],
    outcome: str,
    validation: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> SavedModel:
    """Save a fitted estimator with its feature definition, versions and validation figures (joblib).

    Parameters
    ----------
    path : path-like
        Output file (``.joblib``).
    model : fitted estimator
        Trained on a DataFrame whose columns are ``feature_names`` in this order.
    feature_names : sequence of str
    settings_hash : str or mapping
        The extraction settings hash of the features (one for all, or one per feature name).
    outcome : str
        What the model predicts (e.g. ``"response"``).
    validation, metadata : mapping, optional
        Plain-value validation figures (AUC and CI, calibration, ...) and free metadata for the model card.
    """
    import joblib
    import sklearn

    from imagebio import __version__

    saved = SavedModel(
        model=model,
        features=FeatureDefinition(tuple(str(n) for n in feature_names), settings_hash),
        outcome=outcome,
        imagebio_version=__version__,
        sklearn_version=sklearn.__version__,
        created_utc=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        validation=dict(validation or {}),
        metadata=dict(metadata or {}),
    )
    joblib.dump({"format": FORMAT, "saved": saved}, path)
    return saved


def load_model(path: str | os.PathLike) -> SavedModel:
    """Load a model written by :func:`save_model` (trusted files only).

    Warns when it was saved with another scikit-learn version (pickled estimators may then behave differently).

    Raises
    ------
    StoreError
        The file is missing, unreadable, or not an imagebio model file.
    """
    import joblib
    import sklearn

    try:
        payload = joblib.load(path)
    except Exception as exc:  # joblib raises many types for a bad file
        raise StoreError(f"{path}: cannot read model file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise StoreError(f"{path}: not an imagebio model file (expected format {FORMAT})")
    saved: SavedModel = payload["saved"]
    if saved.sklearn_version != sklearn.__version__:
        warnings.warn(
            f"{path}: saved with scikit-learn {saved.sklearn_version}, running {sklearn.__version__}",
            stacklevel=2,
        )
    return saved


def render_model_card(saved: SavedModel, data_description: str = "") -> str:
    """A Markdown model card: data, features, pipeline, validation, calibration, and the TRIPOD items covered."""
    model = saved.model
    steps = getattr(model, "steps", None)
    pipeline = " → ".join(f"{name} ({type(step).__name__})" for name, step in steps) if steps else type(model).__name__
    hashes = sorted({saved.features.hash_of(n) for n in saved.features.names})
    v = saved.validation
    lines = [
        f"# Model card: {saved.outcome}",
        "",
        f"- created (UTC): {saved.created_utc}; imagebio {saved.imagebio_version}; scikit-learn {saved.sklearn_version}",
        f"- data: {data_description or 'not described'}",
        f"- features ({len(saved.features.names)}): {', '.join(saved.features.names)}",
        f"- feature settings hash(es): {', '.join(hashes)}",
        f"- pipeline: {pipeline}",
        "",
        "## Validation",
    ]
    lines += [f"- {k}: {val}" for k, val in v.items()] or ["- none recorded"]
    tripod = ["7a (predictors defined: names + extraction settings hash)", "10b (model building: pipeline above)"]
    if any(k.startswith("auc") for k in v):
        tripod.append("10d/16 (discrimination with uncertainty)")
    if any(k.startswith("calibration") for k in v):
        tripod.append("10d/16 (calibration)")
    if any("nested" in k or "cv" in k for k in v):
        tripod.append("10b/10d (internal validation by nested cross-validation)")
    tripod.append("15a/15b (full model saved for use)")
    lines += ["", "## TRIPOD items addressed", *[f"- {t}" for t in tripod]]
    if saved.metadata:
        lines += ["", "## Metadata", *[f"- {k}: {val}" for k, val in saved.metadata.items()]]
    return "\n".join(lines) + "\n"
