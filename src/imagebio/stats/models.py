"""Honest predictive models of a binary outcome: pipelines, nested cross-validation, and their validation figures.

Every data-driven step (harmonisation, redundancy removal, feature selection, hyper-parameters) is a step of a
scikit-learn :class:`~sklearn.pipeline.Pipeline` and is refitted inside each training fold; performance is read
only from outer test folds (nested cross-validation, Varma & Simon 2006), so selecting on all the data and then
cross-validating — the commonest leak in radiomics — cannot happen through this API.

Validation figures: bootstrap CI of the AUC (percentile, Efron & Tibshirani 1993), calibration slope and
intercept (Cox 1958; Van Calster et al. 2016), calibration curve, decision-curve net benefit (Vickers & Elkin
2006), permutation test of the cross-validated AUC (Ojala & Garriga 2010).

References
----------
- Varma S, Simon R. Bias in error estimation when using cross-validation for model selection. BMC
  Bioinformatics 2006;7:91.
- Ambroise C, McLachlan GJ. Selection bias in gene extraction on the basis of microarray gene-expression data.
  PNAS 2002;99:6562-6566.
- Van Calster B, Nieboer D, Vergouwe Y, et al. A calibration hierarchy for risk models was defined: from utopia
  to empirical data. J Clin Epidemiol 2016;74:167-176.
- Vickers AJ, Elkin EB. Decision curve analysis: a novel method for evaluating prediction models. Med Decis
  Making 2006;26:565-574.
- Ojala M, Garriga GC. Permutation tests for studying classifier performance. JMLR 2010;11:1833-1863.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from imagebio.errors import FitError, InvalidParameterError

__all__ = [
    "NestedCVResult",
    "CalibrationResult",
    "build_pipeline",
    "check_binary_outcome",
    "nested_cross_validate",
    "auc",
    "bootstrap_auc_ci",
    "calibration",
    "decision_curve",
    "permutation_test_auc",
    "fit_with_validation",
]


@dataclasses.dataclass(frozen=True)
class NestedCVResult:
    """Outcome of repeated nested cross-validation.

    ``fold_auc`` has shape (n_repeats, n_outer_splits); ``auc_per_repeat`` is its mean over folds;
    ``oof_probability`` (n_repeats, n_samples) holds each sample's out-of-fold predicted probability of the
    positive class; ``best_params`` lists the inner grid search's choice for every outer fold.
    """

    fold_auc: np.ndarray
    auc_per_repeat: np.ndarray
    auc_mean: float
    auc_sd: float
    oof_probability: np.ndarray
    best_params: list[dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class CalibrationResult:
    """Calibration of predicted probabilities.

    ``slope`` and ``intercept`` (calibration-in-the-large, logit(p) as offset) are dimensionless; ideal 1 and
    0. ``prob_pred``/``prob_true`` are the binned calibration curve (mean predicted, observed fraction).
    """

    slope: float
    intercept: float
    prob_pred: np.ndarray
    prob_true: np.ndarray


def check_binary_outcome(y: Any, min_per_class: int = 1, name: str = "y") -> np.ndarray:
    """Return ``y`` as 0/1 integers; raise if it is not binary with ``min_per_class`` members per class.

    Raises
    ------
    InvalidParameterError
        Missing values, more or fewer than two classes, or a class too small for the requested folds.
    """
    arr = np.asarray(y)
    if arr.ndim != 1:
        arr = arr.ravel()
    if arr.dtype.kind == "f" and np.any(~np.isfinite(arr)):
        raise InvalidParameterError(name, "missing outcome values", "a 0/1 outcome for every sample")
    classes, counts = np.unique(arr, return_counts=True)
    if len(classes) != 2:
        raise InvalidParameterError(
            name, f"{len(classes)} class(es) {classes.tolist()[:5]}", "a binary outcome with both classes present"
        )
    if counts.min() < min_per_class:
        raise InvalidParameterError(
            name,
            f"class counts {dict(zip(classes.tolist(), counts.tolist()))}",
            f"at least {min_per_class} samples in each class",
        )
    return (arr == classes[1]).astype(int)


def _check_features(X: Any, allow_missing: bool) -> None:
    import pandas as pd

    values = X.select_dtypes("number").to_numpy(float) if isinstance(X, pd.DataFrame) else np.asarray(X, float)
    if not allow_missing and np.any(~np.isfinite(values)):
        raise InvalidParameterError(
            "X",
            f"{int(np.count_nonzero(~np.isfinite(values)))} missing/non-finite values",
            "complete features, or allow_missing=True with an imputer as the pipeline's first step",
        )


def build_pipeline(
    classifier: Any = None,
    combat: Any = None,
    repeatability: Any = None,
    correlation_threshold: float | None = 0.9,
    k_best: int | str = 10,
):
    """The standard radiomics pipeline: [ComBat] → [repeatability] → drop constants → scale → redundancy →
    univariate selection → classifier.

    Parameters
    ----------
    classifier : sklearn classifier, optional
        Defaults to L2 logistic regression (``C`` tunable as ``classifier__C``).
    combat : ComBat, optional
        Harmonisation step (input then carries the batch / covariate columns it names).
    repeatability : RepeatabilityFilter, optional
        Drops features below an ICC threshold from a test–retest study.
    correlation_threshold : float or None
        |r| above which one of two features is dropped; None skips the step.
    k_best : int or "all"
        Features kept by the ANOVA F-test (``select__k`` in a grid).

    Notes
    -----
    Zero-variance features are dropped by a :class:`~sklearn.feature_selection.VarianceThreshold` fitted on the
    training fold (documented handling: a constant feature carries no information and would give NaN F
    statistics otherwise).
    """
    from sklearn.feature_selection import SelectKBest, VarianceThreshold, f_classif
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from imagebio.stats.selection import CorrelationFilter

    steps: list[tuple[str, Any]] = []
    if combat is not None:
        steps.append(("combat", combat))
    if repeatability is not None:
        steps.append(("repeatability", repeatability))
    steps.append(("constant", VarianceThreshold(0.0)))
    steps.append(("scale", StandardScaler()))
    if correlation_threshold is not None:
        steps.append(("redundancy", CorrelationFilter(threshold=correlation_threshold)))
    steps.append(("select", SelectKBest(f_classif, k=k_best)))
    steps.append(("classifier", classifier if classifier is not None else LogisticRegression(max_iter=1000)))
    return Pipeline(steps)


def _take(X: Any, idx: np.ndarray) -> Any:
    return X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X)[idx]


def nested_cross_validate(
    pipeline: Any,
    param_grid: dict[str, list[Any]] | list[dict[str, list[Any]]],
    X: Any,
    y: Any,
    outer_splits: int = 5,
    outer_repeats: int = 3,
    inner_splits: int = 3,
    random_state: int = 0,
    allow_missing: bool = False,
    n_jobs: int | None = None,
) -> NestedCVResult:
    """Repeated stratified nested cross-validation of a pipeline's AUC.

    The outer loop (``outer_repeats`` × ``outer_splits`` stratified folds) estimates performance; inside every
    outer training set a stratified ``inner_splits`` grid search over ``param_grid`` (scored by AUC) picks the
    hyper-parameters and refits the whole pipeline, so no test sample influences any fitted step.

    Parameters
    ----------
    pipeline : sklearn estimator with ``predict_proba``
    param_grid : dict or list of dict
        Grid for :class:`~sklearn.model_selection.GridSearchCV` (may be ``{}``).
    X : array_like or DataFrame, shape (n_samples, n_columns)
    y : array_like, shape (n_samples,)
        Binary outcome.

    Raises
    ------
    InvalidParameterError
        Non-binary / single-class outcome, a class with fewer members than ``outer_splits``, or missing
        feature values (unless ``allow_missing``).
    FitError
        A fold produced non-finite predictions.
    """
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold, StratifiedKFold

    y01 = check_binary_outcome(y, min_per_class=outer_splits)
    _check_features(X, allow_missing)
    n = len(y01)
    outer = RepeatedStratifiedKFold(n_splits=outer_splits, n_repeats=outer_repeats, random_state=random_state)
    fold_auc = np.empty((outer_repeats, outer_splits))
    oof = np.full((outer_repeats, n), np.nan)
    best_params: list[dict[str, Any]] = []
    for k, (train, test) in enumerate(outer.split(np.zeros(n), y01)):
        rep, fold = divmod(k, outer_splits)
        inner = StratifiedKFold(n_splits=inner_splits, shuffle=True, random_state=random_state + 1 + k)
        search = GridSearchCV(clone(pipeline), param_grid, scoring="roc_auc", cv=inner, n_jobs=n_jobs, refit=True)
        search.fit(_take(X, train), y01[train])
        prob = search.predict_proba(_take(X, test))[:, 1]
        if not np.all(np.isfinite(prob)):
            raise FitError(f"outer fold {fold} of repeat {rep} gave non-finite predicted probabilities")
        oof[rep, test] = prob
        fold_auc[rep, fold] = roc_auc_score(y01[test], prob)
        best_params.append(dict(search.best_params_))
    per_repeat = fold_auc.mean(axis=1)
    return NestedCVResult(
        fold_auc=fold_auc,
        auc_per_repeat=per_repeat,
        auc_mean=float(per_repeat.mean()),
        auc_sd=float(fold_auc.std(ddof=1)) if fold_auc.size > 1 else 0.0,
        oof_probability=oof,
        best_params=best_params,
    )


def auc(y_true: Any, score: Any) -> float:
    """Area under the ROC curve (Mann–Whitney statistic; ties count one half)."""
    from scipy.stats import rankdata

    y01 = check_binary_outcome(y_true)
    s = np.asarray(score, dtype=float)
    if s.shape != y01.shape or not np.all(np.isfinite(s)):
        raise InvalidParameterError("score", "non-finite or mis-shaped scores", "one finite score per sample")
    ranks = rankdata(s)
    n1 = y01.sum()
    n0 = len(y01) - n1
    return float((ranks[y01 == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def bootstrap_auc_ci(
    y_true: Any, score: Any, n_boot: int = 2000, confidence: float = 0.95, random_state: int = 0
) -> tuple[float, tuple[float, float]]:
    """AUC with its percentile-bootstrap confidence interval (resampling patients with replacement).

    Resamples containing a single class are redrawn. Returns ``(auc, (lower, upper))``.
    """
    from scipy.stats import rankdata

    y01 = check_binary_outcome(y_true, min_per_class=2)
    s = np.asarray(score, dtype=float)
    point = auc(y01, s)
    rng = np.random.default_rng(random_state)
    n = len(y01)
    stats = np.empty(n_boot)
    done = 0
    while done < n_boot:
        idx = rng.integers(0, n, size=(n_boot - done, n))
        yb = y01[idx]
        n1 = yb.sum(axis=1)
        ok = (n1 > 0) & (n1 < n)
        idx, yb, n1 = idx[ok], yb[ok], n1[ok]
        ranks = rankdata(s[idx], axis=1)
        vals = ((ranks * yb).sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * (n - n1))
        stats[done : done + len(vals)] = vals
        done += len(vals)
    alpha = 1 - confidence
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return point, (float(lo), float(hi))


def _logit(p: np.ndarray, eps: float) -> np.ndarray:
    p = np.clip(p, eps, 1 - eps)
    return np.log(p / (1 - p))


def calibration(y_true: Any, prob: Any, n_bins: int = 10, eps: float = 1e-8) -> CalibrationResult:
    """Calibration slope, calibration-in-the-large intercept and binned curve of predicted probabilities.

    slope: coefficient of logit(p) in ``logit P(y=1) = a + b·logit(p)``; intercept: ``a`` in
    ``logit P(y=1) = a + logit(p)`` (offset), both by maximum likelihood (Van Calster et al. 2016). Probabilities
    are clipped to [eps, 1 - eps] before the logit. Curve: quantile bins of p.

    Raises
    ------
    InvalidParameterError
        Single-class outcome, probabilities outside [0, 1] or non-finite.
    FitError
        Perfect separation (the slope is infinite).
    """
    from scipy.optimize import minimize
    from sklearn.calibration import calibration_curve

    y01 = check_binary_outcome(y_true)
    p = np.asarray(prob, dtype=float)
    if p.shape != y01.shape or not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise InvalidParameterError("prob", "values outside [0, 1], non-finite or mis-shaped", "probabilities")
    lp = _logit(p, eps)

    def nll(theta: np.ndarray, offset_slope: float | None) -> float:
        eta = theta[0] + (theta[1] if offset_slope is None else offset_slope) * lp
        return float(np.sum(np.logaddexp(0, eta) - y01 * eta))

    fit2 = minimize(nll, np.array([0.0, 1.0]), args=(None,), method="BFGS")
    fit1 = minimize(lambda t: nll(np.array([t[0], 1.0]), 1.0), np.array([0.0]), method="BFGS")
    slope = float(fit2.x[1])
    if not (fit2.success or fit2.status == 2) or not np.isfinite(slope) or abs(slope) > 1e6:
        raise FitError(f"calibration slope could not be estimated ({fit2.message})")
    prob_true, prob_pred = calibration_curve(y01, p, n_bins=n_bins, strategy="quantile")
    return CalibrationResult(slope=slope, intercept=float(fit1.x[0]), prob_pred=prob_pred, prob_true=prob_true)


def decision_curve(y_true: Any, prob: Any, thresholds: Any = None) -> Any:
    """Net benefit of treating patients whose predicted probability is at least each threshold.

    NB(pt) = TP/n - FP/n · pt/(1 - pt) (Vickers & Elkin 2006); also the treat-all and treat-none strategies.

    Returns
    -------
    pandas.DataFrame
        Columns ``threshold, net_benefit, treat_all, treat_none``.
    """
    import pandas as pd

    y01 = check_binary_outcome(y_true)
    p = np.asarray(prob, dtype=float)
    if p.shape != y01.shape or not np.all(np.isfinite(p)):
        raise InvalidParameterError("prob", "non-finite or mis-shaped", "one probability per sample")
    pt = np.linspace(0.01, 0.99, 99) if thresholds is None else np.asarray(thresholds, dtype=float)
    if np.any((pt <= 0) | (pt >= 1)):
        raise InvalidParameterError("thresholds", "values outside (0, 1)", "threshold probabilities in (0, 1)")
    n = len(y01)
    treat = p[None, :] >= pt[:, None]
    tp = (treat & (y01 == 1)).sum(axis=1) / n
    fp = (treat & (y01 == 0)).sum(axis=1) / n
    odds = pt / (1 - pt)
    prevalence = y01.mean()
    return pd.DataFrame(
        {
            "threshold": pt,
            "net_benefit": tp - fp * odds,
            "treat_all": prevalence - (1 - prevalence) * odds,
            "treat_none": np.zeros_like(pt),
        }
    )


def permutation_test_auc(
    estimator: Any,
    X: Any,
    y: Any,
    n_splits: int = 5,
    n_permutations: int = 100,
    random_state: int = 0,
    n_jobs: int | None = None,
) -> tuple[float, np.ndarray, float]:
    """Permutation test of the cross-validated AUC (Ojala & Garriga 2010, test 1).

    The whole ``estimator`` — pass a :class:`~sklearn.model_selection.GridSearchCV` of a pipeline to permute
    the nested procedure — is re-run on ``n_permutations`` label permutations. Returns
    ``(auc, null_aucs, p_value)`` with p = (1 + #{null >= auc}) / (1 + n_permutations).
    """
    from sklearn.model_selection import StratifiedKFold, permutation_test_score

    y01 = check_binary_outcome(y, min_per_class=n_splits)
    _check_features(X, allow_missing=False)
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    score, null, p_value = permutation_test_score(
        estimator,
        X,
        y01,
        cv=cv,
        scoring="roc_auc",
        n_permutations=n_permutations,
        random_state=random_state,
        n_jobs=n_jobs,
    )
    return float(score), np.asarray(null), float(p_value)


def fit_with_validation(
    pipeline: Any,
    param_grid: dict[str, list[Any]] | list[dict[str, list[Any]]],
    X: Any,
    y: Any,
    outer_splits: int = 5,
    outer_repeats: int = 3,
    inner_splits: int = 3,
    n_boot: int = 2000,
    random_state: int = 0,
) -> tuple[Any, dict[str, Any]]:
    """Validate by repeated nested CV, then fit the final model on all data (inner grid search picks its
    hyper-parameters).

    Returns ``(final_model, summary)``; ``summary`` holds plain values for a model card: ``auc_nested_cv``
    (mean over repeats) and ``auc_nested_cv_sd`` (over folds), ``auc_oof`` with ``auc_oof_ci`` (bootstrap of the
    repeat-averaged out-of-fold probabilities), ``calibration_slope`` / ``calibration_intercept`` of those
    probabilities, ``best_params`` of the final fit, ``n_samples`` and ``n_events`` (positive outcomes). The
    out-of-fold figures describe the modelling procedure, which the final model is one run of.
    """
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    y01 = check_binary_outcome(y, min_per_class=outer_splits)
    cv = nested_cross_validate(
        pipeline, param_grid, X, y01, outer_splits, outer_repeats, inner_splits, random_state=random_state
    )
    oof = cv.oof_probability.mean(axis=0)
    point, ci = bootstrap_auc_ci(y01, oof, n_boot=n_boot, random_state=random_state)
    cal = calibration(y01, oof)
    inner = StratifiedKFold(n_splits=inner_splits, shuffle=True, random_state=random_state)
    final = GridSearchCV(clone(pipeline), param_grid, scoring="roc_auc", cv=inner, refit=True).fit(X, y01)
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
    return final.best_estimator_, summary
