"""Feature filters for model pipelines: repeatability (from an external test–retest study) and redundancy.

Both are scikit-learn selectors, so they go inside a :class:`sklearn.pipeline.Pipeline` and are refitted on each
training fold of a cross-validation. This module imports scikit-learn.

References
----------
- Zwanenburg A. Radiomics in nuclear medicine: robustness, reproducibility, standardization, and how to avoid
  data analysis traps and replication crisis. Eur J Nucl Med Mol Imaging 2019;46:2638-2655 (repeatability
  filtering, redundancy removal, selection inside cross-validation).
- Koo TK, Li MY. A guideline of selecting and reporting intraclass correlation coefficients for reliability
  research. J Chiropr Med 2016;15:155-163 (ICC >= 0.75: good reliability).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from imagebio.errors import InvalidParameterError

__all__ = ["RepeatabilityFilter", "CorrelationFilter"]


class RepeatabilityFilter(SelectorMixin, BaseEstimator):
    """Keep the features whose test–retest ICC is at least ``threshold``.

    The ICCs come from a separate test–retest (or multi-reader) study, not from the training data, so the
    filter does not look at the outcome and cannot leak it.

    Parameters
    ----------
    feature_icc : mapping or pandas.Series or array_like
        ICC per feature. A mapping/Series is matched to the column names of the data passed to ``fit`` (a
        DataFrame, or ``feature_names_in_``); an array must have one value per column, in column order.
    threshold : float
        Minimum ICC kept (0.75 = "good" reliability, Koo & Li 2016).

    Raises
    ------
    InvalidParameterError
        (at ``fit``) A column has no ICC, the ICC array length differs from the number of columns, an ICC is
        missing/NaN, or no feature reaches the threshold.

    See Also
    --------
    imagebio.stats.agreement.feature_icc : ICC per feature from test and retest tables.
    """

    def __init__(self, feature_icc: Any = None, threshold: float = 0.75):
        self.feature_icc = feature_icc
        self.threshold = threshold

    def fit(self, X: Any, y: Any = None) -> RepeatabilityFilter:
        validate_data(self, X, reset=True, ensure_all_finite="allow-nan")
        n_features = self.n_features_in_
        if self.feature_icc is None:
            raise InvalidParameterError("feature_icc", None, "ICC per feature from a test-retest study")
        if hasattr(self.feature_icc, "keys"):
            names = getattr(self, "feature_names_in_", None)
            if names is None:
                raise InvalidParameterError(
                    "X", "an array without column names", "a DataFrame when feature_icc is keyed by feature name"
                )
            missing = [n for n in names if n not in self.feature_icc]
            if missing:
                raise InvalidParameterError("feature_icc", f"no ICC for {missing[:5]}", "an ICC for every column")
            values = np.array([float(self.feature_icc[n]) for n in names])
        else:
            values = np.asarray(self.feature_icc, dtype=float).ravel()
            if values.size != n_features:
                raise InvalidParameterError(
                    "feature_icc", f"{values.size} values", f"one ICC per column ({n_features})"
                )
        if not np.all(np.isfinite(values)):
            raise InvalidParameterError("feature_icc", "NaN or infinite ICC values", "finite ICCs")
        self.icc_ = values
        self.support_ = values >= self.threshold
        if not self.support_.any():
            raise InvalidParameterError(
                "threshold", self.threshold, f"at most the largest ICC ({values.max():.3f}); no feature kept"
            )
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class CorrelationFilter(SelectorMixin, BaseEstimator):
    """Remove redundant features: of each pair with |Pearson r| > ``threshold``, drop one.

    Greedy pass over the features in column order (or, with ``use_outcome``, by decreasing |corr(feature, y)|
    so that the more predictive member of a redundant pair stays): a feature is kept unless it correlates above
    the threshold with a feature already kept. Using the outcome is a selection step, so the filter must be
    fitted on training folds only — as it is inside a cross-validated pipeline.

    Parameters
    ----------
    threshold : float
        Absolute correlation above which two features count as redundant, in (0, 1].
    use_outcome : bool
        Rank features by |corr(feature, y)| before the greedy pass (needs ``y`` at ``fit``).

    Raises
    ------
    InvalidParameterError
        (at ``fit``) A feature with zero variance (its correlation is undefined: remove it first, e.g. with
        :class:`sklearn.feature_selection.VarianceThreshold`), or missing values.
    """

    def __init__(self, threshold: float = 0.9, use_outcome: bool = False):
        self.threshold = threshold
        self.use_outcome = use_outcome

    def fit(self, X: Any, y: Any = None) -> CorrelationFilter:
        if not 0.0 < float(self.threshold) <= 1.0:
            raise InvalidParameterError("threshold", self.threshold, "an absolute correlation in (0, 1]")
        X = validate_data(self, X, reset=True, dtype=np.float64)
        sd = X.std(axis=0)
        if np.any(sd == 0):
            bad = np.flatnonzero(sd == 0)
            names = getattr(self, "feature_names_in_", None)
            which = [names[i] for i in bad[:5]] if names is not None else bad[:5].tolist()
            raise InvalidParameterError(
                "X", f"zero-variance feature(s) {which}", "features that vary (drop constant ones first)"
            )
        z = (X - X.mean(axis=0)) / sd
        corr = np.abs(z.T @ z) / X.shape[0]
        order = np.arange(X.shape[1])
        if self.use_outcome:
            if y is None:
                raise InvalidParameterError("y", None, "an outcome when use_outcome=True")
            yv = np.asarray(y, dtype=float).ravel()
            yz = (yv - yv.mean()) / (yv.std() or 1.0)
            relevance = np.abs(z.T @ yz) / X.shape[0]
            order = np.argsort(-relevance, kind="stable")
        keep: list[int] = []
        for j in order:
            if not keep or np.all(corr[j, keep] <= self.threshold):
                keep.append(int(j))
        support = np.zeros(X.shape[1], dtype=bool)
        support[keep] = True
        self.support_ = support
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_
