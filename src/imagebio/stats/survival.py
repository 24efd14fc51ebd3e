"""Time-to-event models and risk stratification: penalised Cox, concordance, time-dependent AUC, KM / log-rank.

Estimators come from lifelines (Cox partial likelihood with elastic-net penalty, Kaplan–Meier, log-rank); written
here are only the cumulative/dynamic time-dependent AUC with inverse-probability-of-censoring weights (Uno et al.
2007) and the honest risk-group procedure (cut-off chosen on training folds only, groups read on test folds).

Times are in whatever unit the caller uses (days, months); name columns accordingly (``os_months``). Events are
1 = event observed, 0 = censored.

References
----------
- Cox DR. Regression models and life-tables. J R Stat Soc B 1972;34:187-220.
- Simon N, Friedman J, Hastie T, Tibshirani R. Regularization paths for Cox's proportional hazards model via
  coordinate descent. J Stat Softw 2011;39(5) (elastic-net Cox).
- Harrell FE, Lee KL, Mark DB. Multivariable prognostic models. Stat Med 1996;15:361-387 (concordance index).
- Uno H, Cai T, Tian L, Wei LJ. Evaluating prediction rules for t-year survivors with censored regression models.
  JASA 2007;102:527-537; Hung H, Chiang CT. Estimation methods for time-dependent AUC models with survival data.
  Can J Stat 2010;38:8-26 (cumulative/dynamic AUC with IPCW).
- Peto R, Peto J. Asymptotically efficient rank invariant test procedures. J R Stat Soc A 1972;135:185-207
  (log-rank test).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from imagebio.errors import FitError, InvalidParameterError

__all__ = [
    "check_survival",
    "fit_cox",
    "CoxElasticNet",
    "concordance_index",
    "time_dependent_auc",
    "km_logrank",
    "KmLogrankResult",
    "cross_validated_risk_groups",
    "RiskGroupResult",
    "patient_survival_interval",
]

#: Default minimum number of observed events to fit a Cox model (fewer gives unstable or infinite estimates).
MIN_EVENTS = 5


def check_survival(time: Any, event: Any, min_events: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Validate follow-up times (> 0, finite) and 0/1 event indicators; return them as float / int arrays.

    Raises
    ------
    InvalidParameterError
        Missing, non-positive or mismatched times / events, or event codes other than 0/1.
    FitError
        Fewer than ``min_events`` observed events (too few to estimate anything).
    """
    t = np.asarray(time, dtype=float).ravel()
    e_raw = np.asarray(event, dtype=float).ravel()
    if t.shape != e_raw.shape:
        raise InvalidParameterError("event", f"{e_raw.size} values", f"one per time ({t.size})")
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise InvalidParameterError("time", "missing, infinite or non-positive times", "follow-up times > 0")
    if not np.all(np.isin(e_raw, (0.0, 1.0))):
        raise InvalidParameterError("event", "values other than 0/1 (or missing)", "1 = event, 0 = censored")
    e = e_raw.astype(int)
    if e.sum() < min_events:
        raise FitError(f"only {int(e.sum())} observed event(s) among {e.size} subjects; at least {min_events} needed")
    return t, e


def _feature_frame(X: Any, check_variance: bool = True) -> Any:
    import pandas as pd

    frame = X.copy() if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=float))
    frame.columns = [str(c) for c in frame.columns]
    values = frame.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise InvalidParameterError(
            "X", f"{int(np.count_nonzero(~np.isfinite(values)))} missing/non-finite values", "complete covariates"
        )
    constant = [c for c, sd in zip(frame.columns, values.std(axis=0)) if sd == 0] if check_variance else []
    if constant:
        raise InvalidParameterError("X", f"zero-variance covariate(s) {constant[:5]}", "covariates that vary")
    return frame


def fit_cox(X: Any, time: Any, event: Any, penalizer: float = 0.0, l1_ratio: float = 0.0, min_events: int = MIN_EVENTS):
    """Fit a Cox proportional-hazards model, optionally elastic-net penalised (lifelines ``CoxPHFitter``).

    Parameters
    ----------
    X : DataFrame or array_like, shape (n, p)
        Covariates (standardise them first when penalising).
    time, event : array_like, shape (n,)
        Follow-up time (> 0) and event indicator (1 event, 0 censored).
    penalizer : float
        Penalty strength lambda (>= 0); 0 gives the ordinary partial-likelihood fit with valid CIs.
    l1_ratio : float
        Elastic-net mixing in [0, 1] (1 = lasso).
    min_events : int
        Minimum observed events, else :class:`FitError`.

    Returns
    -------
    lifelines.CoxPHFitter
        ``hazard_ratios_``, ``confidence_intervals_`` (log scale), ``summary``.

    Raises
    ------
    InvalidParameterError, FitError
    """
    import warnings

    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    if penalizer < 0 or not 0.0 <= l1_ratio <= 1.0:
        raise InvalidParameterError("penalizer/l1_ratio", (penalizer, l1_ratio), "penalizer >= 0, l1_ratio in [0, 1]")
    t, e = check_survival(time, event, min_events=min_events)
    frame = _feature_frame(X)
    if len(frame) != len(t):
        raise InvalidParameterError("X", f"{len(frame)} rows", f"one row per subject ({len(t)})")
    frame = frame.reset_index(drop=True).assign(_time=t, _event=e)
    cph = CoxPHFitter(penalizer=penalizer, l1_ratio=l1_ratio)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph.fit(frame, duration_col="_time", event_col="_event")
    except ConvergenceError as exc:
        raise FitError(f"Cox model did not converge: {str(exc).splitlines()[0]}") from exc
    if not np.all(np.isfinite(cph.params_.to_numpy())):
        raise FitError("Cox model gave non-finite coefficients (separation?)")
    return cph


def concordance_index(time: Any, risk: Any, event: Any) -> float:
    """Harrell's C: fraction of comparable pairs in which the higher ``risk`` fails first (ties in risk = 1/2)."""
    from lifelines.utils import concordance_index as lifelines_cindex

    t, e = check_survival(time, event, min_events=1)
    r = np.asarray(risk, dtype=float).ravel()
    if r.shape != t.shape or not np.all(np.isfinite(r)):
        raise InvalidParameterError("risk", "non-finite or mis-shaped risk scores", "one finite score per subject")
    # lifelines expects scores that grow with survival time, hence the sign.
    return float(lifelines_cindex(t, -r, e))


def _censoring_survival(train_time: np.ndarray, train_event: np.ndarray):
    """Kaplan–Meier estimate of the censoring survival G(t) = P(C > t) (censorings as events)."""
    times = np.unique(train_time[train_event == 0])
    at_risk = (train_time[None, :] >= times[:, None]).sum(axis=1)
    censored = ((train_time[None, :] == times[:, None]) & (train_event[None, :] == 0)).sum(axis=1)
    surv = np.cumprod(1.0 - censored / at_risk)

    def g(t: np.ndarray) -> np.ndarray:
        if times.size == 0:  # no censoring: every weight is 1
            return np.ones_like(t, dtype=float)
        idx = np.searchsorted(times, t, side="right") - 1
        return np.where(idx >= 0, surv[np.clip(idx, 0, None)], 1.0)

    return g


def time_dependent_auc(
    train_time: Any, train_event: Any, test_time: Any, test_event: Any, risk: Any, times: Any
) -> np.ndarray:
    """Cumulative/dynamic time-dependent AUC(t) with inverse-probability-of-censoring weights.

    Cases at t: subjects with an event at or before t, weighted by 1/G(T_i) where G is the Kaplan–Meier censoring
    survival estimated on the training data; controls: subjects still at risk after t. Ties in risk count 1/2
    (Uno et al. 2007; Hung & Chiang 2010).

    Parameters
    ----------
    train_time, train_event : array_like
        Data used to estimate the censoring distribution (the training set).
    test_time, test_event, risk : array_like
        Test subjects and their predicted risk (higher = earlier event).
    times : array_like
        Time points (unit of ``time``), each within the follow-up so that both cases and controls exist.

    Returns
    -------
    ndarray
        AUC at each time point.

    Raises
    ------
    InvalidParameterError
        A time point with no case or no control, or beyond the last training follow-up (G undefined).
    """
    tr_t, tr_e = check_survival(train_time, train_event, min_events=0)
    te_t, te_e = check_survival(test_time, test_event, min_events=1)
    r = np.asarray(risk, dtype=float).ravel()
    if r.shape != te_t.shape or not np.all(np.isfinite(r)):
        raise InvalidParameterError("risk", "non-finite or mis-shaped", "one finite score per test subject")
    tau = np.atleast_1d(np.asarray(times, dtype=float))
    g = _censoring_survival(tr_t, tr_e)
    g_at_event = g(te_t)
    out = np.empty(tau.size)
    # comparison[i, j] = 1 if case i ranks above control j, 1/2 on ties.
    comparison = (r[:, None] > r[None, :]) + 0.5 * (r[:, None] == r[None, :])
    for k, t in enumerate(tau):
        cases = (te_t <= t) & (te_e == 1)
        controls = te_t > t
        if not cases.any() or not controls.any():
            raise InvalidParameterError("times", t, "time points with at least one case and one control")
        w = 1.0 / g_at_event[cases]
        if not np.all(np.isfinite(w)) or np.any(g_at_event[cases] <= 0):
            raise InvalidParameterError("times", t, "time points before the censoring survival reaches 0")
        num = (w[:, None] * comparison[np.ix_(cases, controls)]).sum()
        out[k] = num / (w.sum() * controls.sum())
    return out


class CoxElasticNet:
    """scikit-learn-style estimator wrapping :func:`fit_cox`, for grid search / cross-validation.

    ``y`` is an (n, 2) array of (time, event). ``predict`` returns the linear predictor (log partial hazard;
    higher = higher risk); ``score`` is Harrell's C on the given data, so ``GridSearchCV`` with its default
    scoring tunes ``penalizer`` / ``l1_ratio`` by concordance.
    """

    def __init__(self, penalizer: float = 0.1, l1_ratio: float = 0.0, min_events: int = MIN_EVENTS):
        self.penalizer = penalizer
        self.l1_ratio = l1_ratio
        self.min_events = min_events

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"penalizer": self.penalizer, "l1_ratio": self.l1_ratio, "min_events": self.min_events}

    def set_params(self, **params: Any) -> CoxElasticNet:
        for k, v in params.items():
            if k not in self.get_params():
                raise InvalidParameterError(k, v, f"one of {sorted(self.get_params())}")
            setattr(self, k, v)
        return self

    def __sklearn_tags__(self):
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type="regressor", target_tags=TargetTags(required=True, multi_output=True))

    def fit(self, X: Any, y: Any) -> CoxElasticNet:
        yy = np.asarray(y, dtype=float)
        if yy.ndim != 2 or yy.shape[1] != 2:
            raise InvalidParameterError("y", f"shape {yy.shape}", "an (n, 2) array of (time, event)")
        self.model_ = fit_cox(X, yy[:, 0], yy[:, 1], self.penalizer, self.l1_ratio, self.min_events)
        return self

    def predict(self, X: Any) -> np.ndarray:
        frame = _feature_frame(X, check_variance=False)
        return np.asarray(self.model_.predict_log_partial_hazard(frame), dtype=float).ravel()

    def score(self, X: Any, y: Any) -> float:
        yy = np.asarray(y, dtype=float)
        return concordance_index(yy[:, 0], self.predict(X), yy[:, 1])


@dataclasses.dataclass(frozen=True)
class KmLogrankResult:
    """Kaplan–Meier curves per group, log-rank test and Cox hazard ratio of ``high`` vs ``low``.

    ``curves`` maps group label to a DataFrame (``time``, ``survival``, ``ci_lower``, ``ci_upper``);
    ``hazard_ratio`` and ``hr_ci`` (95 %) compare ``groups[1]`` to the reference ``groups[0]``.
    """

    curves: dict[Any, Any]
    logrank_statistic: float
    logrank_p: float
    hazard_ratio: float
    hr_ci: tuple[float, float]
    groups: tuple[Any, Any]


def km_logrank(time: Any, event: Any, group: Any, reference: Any = None) -> KmLogrankResult:
    """Kaplan–Meier per group, two-group log-rank test, and hazard ratio of the other group vs ``reference``.

    ``reference`` defaults to the first group in sorted order.

    Raises
    ------
    InvalidParameterError
        Not exactly two groups.
    FitError
        No event at all (the log-rank statistic and the hazard ratio are undefined).
    """
    import pandas as pd
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test

    t, e = check_survival(time, event, min_events=1)
    g = np.asarray(group).ravel()
    levels = np.unique(g)
    if len(levels) != 2 or g.shape != t.shape:
        raise InvalidParameterError("group", f"{len(levels)} group(s)", "exactly two risk groups, one per subject")
    if reference is not None:
        if reference not in levels.tolist():
            raise InvalidParameterError("reference", reference, f"one of the groups {levels.tolist()}")
        levels = np.array(sorted(levels.tolist(), key=lambda lv: lv != reference), dtype=levels.dtype)
    curves = {}
    for level in levels:
        km = KaplanMeierFitter().fit(t[g == level], e[g == level])
        ci = km.confidence_interval_survival_function_
        curves[level.item() if hasattr(level, "item") else level] = pd.DataFrame(
            {
                "time": km.survival_function_.index.to_numpy(),
                "survival": km.survival_function_.iloc[:, 0].to_numpy(),
                "ci_lower": ci.iloc[:, 0].to_numpy(),
                "ci_upper": ci.iloc[:, 1].to_numpy(),
            }
        )
    a, b = (g == levels[0]), (g == levels[1])
    lr = logrank_test(t[a], t[b], e[a], e[b])
    cph = fit_cox(pd.DataFrame({"group": b.astype(float)}), t, e, min_events=1)
    log_ci = cph.confidence_intervals_.iloc[0].to_numpy()
    return KmLogrankResult(
        curves=curves,
        logrank_statistic=float(lr.test_statistic),
        logrank_p=float(lr.p_value),
        hazard_ratio=float(cph.hazard_ratios_.iloc[0]),
        hr_ci=(float(np.exp(log_ci[0])), float(np.exp(log_ci[1]))),
        groups=tuple(lv.item() if hasattr(lv, "item") else lv for lv in levels),
    )


@dataclasses.dataclass(frozen=True)
class RiskGroupResult:
    """Out-of-fold risk scores and groups (``"low"``/``"high"``), per-fold cut-offs, and KM / log-rank / HR."""

    risk: np.ndarray
    group: np.ndarray
    cutoffs: list[float]
    km: KmLogrankResult
    c_index: float


def cross_validated_risk_groups(
    X: Any,
    time: Any,
    event: Any,
    penalizer: float = 0.1,
    l1_ratio: float = 0.0,
    n_splits: int = 5,
    random_state: int = 0,
    min_events: int = MIN_EVENTS,
) -> RiskGroupResult:
    """Honest risk stratification: in each fold, standardise, fit the penalised Cox model and choose the cut-off
    (median training risk score) on the training part only, then label the held-out patients high / low.

    The pooled out-of-fold groups are compared by Kaplan–Meier, log-rank and hazard ratio; ``c_index`` is
    Harrell's C of the out-of-fold risk scores (each from a model that never saw the patient). Out-of-fold
    linear predictors come from different models, so compare groups, not raw scores, across folds.

    Raises
    ------
    InvalidParameterError, FitError
        As :func:`fit_cox`; also when a training fold has fewer than ``min_events`` events.
    """
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    t, e = check_survival(time, event, min_events=min_events)
    frame = _feature_frame(X)
    risk = np.empty(len(t))
    group = np.empty(len(t), dtype=object)
    cutoffs = []
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    for train, test in folds.split(np.zeros(len(t)), e):
        scaler = StandardScaler().fit(frame.iloc[train])
        xtr = frame.iloc[train].__class__(scaler.transform(frame.iloc[train]), columns=frame.columns)
        xte = frame.iloc[test].__class__(scaler.transform(frame.iloc[test]), columns=frame.columns)
        cph = fit_cox(xtr, t[train], e[train], penalizer, l1_ratio, min_events)
        train_risk = np.asarray(cph.predict_log_partial_hazard(xtr), dtype=float).ravel()
        cut = float(np.median(train_risk))
        cutoffs.append(cut)
        risk[test] = np.asarray(cph.predict_log_partial_hazard(xte), dtype=float).ravel()
        group[test] = np.where(risk[test] > cut, "high", "low")
    if len(set(group.tolist())) < 2:
        raise FitError("every held-out patient fell into the same risk group; no stratification possible")
    return RiskGroupResult(
        risk=risk,
        group=group.astype(str),
        cutoffs=cutoffs,
        km=km_logrank(t, e, group.astype(str), reference="low"),
        c_index=concordance_index(t, risk, e),
    )


def patient_survival_interval(
    X_train: Any,
    time: Any,
    event: Any,
    X_new: Any,
    horizon: float,
    penalizer: float = 0.0,
    l1_ratio: float = 0.0,
    n_boot: int = 200,
    confidence: float = 0.95,
    random_state: int = 0,
    min_events: int = MIN_EVENTS,
) -> Any:
    """Per-patient survival probability at ``horizon`` with a percentile-bootstrap interval.

    The Cox model (Breslow baseline) is fitted on ``X_train``; the interval comes from ``n_boot`` refits on
    patients resampled with replacement (Efron & Tibshirani 1993), so it reflects the uncertainty of both the
    coefficients and the baseline hazard. Resamples whose fit fails (too few events, a covariate constant in
    the resample) are redrawn; more than ``n_boot`` failures raise.

    Parameters
    ----------
    X_train, time, event
        Training covariates and outcome (see :func:`fit_cox`).
    X_new : DataFrame
        Patients to score, with the training columns.
    horizon : float
        Time point, in the unit of ``time``.

    Returns
    -------
    pandas.DataFrame
        One row per new patient: ``survival``, ``lower``, ``upper`` (probabilities at ``horizon``) and
        ``log_partial_hazard`` (linear predictor of the full-data fit).

    Raises
    ------
    InvalidParameterError, FitError
    """
    import pandas as pd

    if not 0.0 < confidence < 1.0 or n_boot < 10:
        raise InvalidParameterError("confidence/n_boot", (confidence, n_boot), "confidence in (0, 1), n_boot >= 10")
    t, e = check_survival(time, event, min_events=min_events)
    frame = _feature_frame(X_train).reset_index(drop=True)
    new = _feature_frame(X_new, check_variance=False)
    if list(new.columns) != list(frame.columns):
        raise InvalidParameterError("X_new", list(new.columns), f"the training columns {list(frame.columns)}")
    if not 0 < horizon <= t.max():
        raise InvalidParameterError("horizon", horizon, f"a time in (0, {t.max():g}] (within follow-up)")

    def survival_at(cph: Any) -> np.ndarray:
        return np.asarray(cph.predict_survival_function(new, times=[horizon]), dtype=float)[0]

    full = fit_cox(frame, t, e, penalizer, l1_ratio, min_events)
    rng = np.random.default_rng(random_state)
    draws = []
    failures = 0
    while len(draws) < n_boot:
        idx = rng.integers(0, len(t), len(t))
        try:
            cph = fit_cox(frame.iloc[idx], t[idx], e[idx], penalizer, l1_ratio, min_events)
        except (FitError, InvalidParameterError):
            failures += 1
            if failures > n_boot:
                raise FitError(f"more than {n_boot} bootstrap refits failed; the data cannot support an interval")
            continue
        draws.append(survival_at(cph))
    alpha = 1.0 - confidence
    lower, upper = np.quantile(np.vstack(draws), [alpha / 2, 1 - alpha / 2], axis=0)
    return pd.DataFrame(
        {
            "survival": survival_at(full),
            "lower": lower,
            "upper": upper,
            "log_partial_hazard": np.asarray(full.predict_log_partial_hazard(new), dtype=float).ravel(),
        },
        index=X_new.index if hasattr(X_new, "index") else None,
    )
