"""Technical validation of a quantitative biomarker: reliability, repeatability and agreement (QIBA metrology).

All functions take a complete ``(n_subjects, k_raters)`` table of one measurand (or a long table through
:func:`agreement_table`) and return plain numbers. Units: ``wsd``, ``rc``, ``ba_bias`` and ``ba_loa`` are in the
unit of the measured values; ``wcv`` is a fraction (0.10 = 10 %); ICCs and CCC are dimensionless.

References
----------
- Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability. Psychol Bull
  1979;86:420-428.
- McGraw KO, Wong SP. Forming inferences about some intraclass correlation coefficients. Psychol Methods
  1996;1:30-46 (confidence intervals, cases 2A and 3A).
- Raunig DL, McShane LM, Pennello G, et al. Quantitative imaging biomarkers: a review of statistical methods for
  technical performance assessment. Stat Methods Med Res 2015;24:27-67 (wSD, wCV, RC = 2.77 wSD).
- Bland JM, Altman DG. Statistical methods for assessing agreement between two methods of clinical measurement.
  Lancet 1986;327:307-310.
- Lin LI. A concordance correlation coefficient to evaluate reproducibility. Biometrics 1989;45:255-268;
  Barnhart HX, Haber M, Song J. Overall concordance correlation coefficient for evaluating agreement among
  multiple observers. Biometrics 2002;58:1020-1027 (k > 2 raters).

This module imports only numpy, scipy and pandas.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from imagebio.errors import InvalidParameterError

__all__ = [
    "IccResult",
    "BlandAltman",
    "ratings_matrix",
    "icc",
    "within_subject_sd",
    "within_subject_cv",
    "repeatability_coefficient",
    "bland_altman",
    "concordance_correlation",
    "agreement_table",
    "feature_icc",
]

#: 1.96 * sqrt(2): the 95 % repeatability coefficient is this multiple of the within-subject SD (Raunig 2015).
RC_FACTOR = 2.77


@dataclasses.dataclass(frozen=True)
class IccResult:
    """ICC(2,1) (two-way random, absolute agreement, single rater) and ICC(3,1) (two-way mixed, consistency).

    In McGraw & Wong's notation ICC(2,1) is ICC(A,1) and ICC(3,1) is ICC(C,1). ``*_ci`` are (lower, upper) at
    ``confidence``. ``f_value``/``p_value`` test the subject effect, F = MSR/MSE with
    (n - 1, (n - 1)(k - 1)) degrees of freedom. Mean squares are in (value unit)^2.
    """

    icc2_1: float
    icc2_1_ci: tuple[float, float]
    icc3_1: float
    icc3_1_ci: tuple[float, float]
    f_value: float
    df1: int
    df2: int
    p_value: float
    ms_subjects: float
    ms_raters: float
    ms_error: float
    n_subjects: int
    n_raters: int
    confidence: float


@dataclasses.dataclass(frozen=True)
class BlandAltman:
    """Bland–Altman analysis of two raters; ``bias`` = mean(first - second), limits = bias ± z·SD(diff)."""

    bias: float
    loa: tuple[float, float]
    sd_diff: float
    n: int


def ratings_matrix(ratings: Any, name: str = "ratings") -> np.ndarray:
    """Validate a complete ``(n_subjects, k_raters)`` table and return it as float64.

    Raises
    ------
    InvalidParameterError
        Not 2-D, fewer than 2 subjects or 2 raters, or any missing / non-finite value (ICC from ANOVA needs a
        complete, balanced table; drop incomplete subjects explicitly before calling).
    """
    arr = np.asarray(ratings, dtype=float)
    if arr.ndim != 2:
        raise InvalidParameterError(name, f"array of shape {arr.shape}", "a 2-D (n_subjects, k_raters) table")
    n, k = arr.shape
    if n < 2 or k < 2:
        raise InvalidParameterError(name, f"shape {arr.shape}", "at least 2 subjects and 2 raters/repeats")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise InvalidParameterError(
            name,
            f"{bad} missing or non-finite value(s)",
            "a complete table (remove subjects with a missing rating first)",
        )
    return arr


def _two_way_anova(x: np.ndarray) -> tuple[float, float, float]:
    n, k = x.shape
    grand = x.mean()
    ss_subjects = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_raters = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_total = np.sum((x - grand) ** 2)
    ss_error = ss_total - ss_subjects - ss_raters
    msr = ss_subjects / (n - 1)
    msc = ss_raters / (k - 1)
    mse = ss_error / ((n - 1) * (k - 1))
    return float(msr), float(msc), float(mse)


def icc(ratings: Any, confidence: float = 0.95) -> IccResult:
    """ICC(2,1) and ICC(3,1) with confidence intervals from a two-way ANOVA.

    Parameters
    ----------
    ratings : array_like, shape (n_subjects, k_raters)
        Complete table of one measurand; columns are raters (or repeats), rows subjects.
    confidence : float
        Two-sided confidence level of the intervals, in (0, 1).

    Returns
    -------
    IccResult

    Raises
    ------
    InvalidParameterError
        Incomplete table (see :func:`ratings_matrix`), or no residual variance at all (every subject's ratings
        differ by the same constant shift: ICC(3,1) = 1 and the F statistic is infinite; reported as an error
        rather than an infinite interval).

    Notes
    -----
    Shrout & Fleiss (1979) point estimates; intervals from McGraw & Wong (1996) Table 7, cases 3A (exact F) and
    2A (Satterthwaite approximation).
    """
    from scipy import stats

    if not 0.0 < confidence < 1.0:
        raise InvalidParameterError("confidence", confidence, "a level in (0, 1), e.g. 0.95")
    x = ratings_matrix(ratings)
    n, k = x.shape
    msr, msc, mse = _two_way_anova(x)
    if not mse > 0.0:
        raise InvalidParameterError(
            "ratings", "a table with zero residual variance", "ratings with some rater-by-subject variation"
        )
    alpha = 1.0 - confidence
    df1 = n - 1
    df2 = (n - 1) * (k - 1)

    icc3 = (msr - mse) / (msr + (k - 1) * mse)
    icc2 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)

    f_obs = msr / mse
    p_value = float(stats.f.sf(f_obs, df1, df2))
    # Case 3A: exact F-based interval.
    f_low = f_obs / stats.f.ppf(1 - alpha / 2, df1, df2)
    f_up = f_obs * stats.f.ppf(1 - alpha / 2, df2, df1)
    icc3_ci = ((f_low - 1) / (f_low + k - 1), (f_up - 1) / (f_up + k - 1))

    # Case 2A: Satterthwaite degrees of freedom for the denominator mixture of mean squares.
    a = k * icc2 / (n * (1 - icc2))
    b = 1 + k * icc2 * (n - 1) / (n * (1 - icc2))
    v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / df2)
    f_star_up = stats.f.ppf(1 - alpha / 2, df1, v)
    f_star_low = stats.f.ppf(1 - alpha / 2, v, df1)
    denom = k * msc + (k * n - k - n) * mse
    icc2_low = n * (msr - f_star_up * mse) / (f_star_up * denom + n * msr)
    icc2_up = n * (f_star_low * msr - mse) / (denom + n * f_star_low * msr)

    return IccResult(
        icc2_1=float(icc2),
        icc2_1_ci=(float(icc2_low), float(icc2_up)),
        icc3_1=float(icc3),
        icc3_1_ci=(float(icc3_ci[0]), float(icc3_ci[1])),
        f_value=float(f_obs),
        df1=int(df1),
        df2=int(df2),
        p_value=p_value,
        ms_subjects=msr,
        ms_raters=msc,
        ms_error=mse,
        n_subjects=int(n),
        n_raters=int(k),
        confidence=float(confidence),
    )


def within_subject_sd(ratings: Any) -> float:
    """Within-subject standard deviation, sqrt(mean over subjects of the per-subject variance (ddof = 1)).

    Raunig et al. 2015, eq. for wSD from replicate measurements; same unit as the ratings.
    """
    x = ratings_matrix(ratings)
    return float(np.sqrt(np.mean(np.var(x, axis=1, ddof=1))))


def within_subject_cv(ratings: Any) -> float | None:
    """Within-subject coefficient of variation as a fraction: root mean square of the per-subject CVs.

    wCV = sqrt(mean_i(s_i^2 / m_i^2)), Raunig et al. 2015. Defined only for a ratio-scale measurand: returns
    ``None`` (documented, never NaN) when any subject's mean is <= 0 (e.g. HU values).
    """
    x = ratings_matrix(ratings)
    means = x.mean(axis=1)
    if np.any(means <= 0):
        return None
    return float(np.sqrt(np.mean(np.var(x, axis=1, ddof=1) / means**2)))


def repeatability_coefficient(ratings: Any) -> float:
    """Repeatability coefficient RC = 2.77 · wSD (Raunig et al. 2015): 95 % of repeat differences lie below it."""
    return RC_FACTOR * within_subject_sd(ratings)


def bland_altman(first: Any, second: Any, agreement_z: float = 1.96) -> BlandAltman:
    """Bland–Altman bias and limits of agreement of paired measurements (Bland & Altman 1986).

    Parameters
    ----------
    first, second : array_like, shape (n,)
        Paired measurements in the same unit; differences are ``first - second``.
    agreement_z : float
        Multiple of the SD of the differences (1.96 gives 95 % limits).
    """
    x = ratings_matrix(np.column_stack([np.asarray(first, float), np.asarray(second, float)]), "first/second")
    diff = x[:, 0] - x[:, 1]
    bias = float(diff.mean())
    sd = float(diff.std(ddof=1))
    return BlandAltman(bias=bias, loa=(bias - agreement_z * sd, bias + agreement_z * sd), sd_diff=sd, n=len(diff))


def concordance_correlation(ratings: Any) -> float:
    """Lin's concordance correlation coefficient (overall CCC for k > 2 raters).

    rho_c = 2 * sum_{j<l} s_jl / ((k - 1) * sum_j s_j^2 + sum_{j<l} (m_j - m_l)^2) with moments divided by n
    (Lin 1989 eq. 3 for k = 2; Barnhart et al. 2002 for k > 2, which reduces to Lin's for k = 2).

    Raises
    ------
    InvalidParameterError
        All values identical (0/0).
    """
    x = ratings_matrix(ratings)
    n, k = x.shape
    means = x.mean(axis=0)
    centred = x - means
    cov = centred.T @ centred / n
    upper = np.triu_indices(k, 1)
    sum_cov = cov[upper].sum()
    sum_var = np.trace(cov)
    sum_sq_mean_diff = np.sum((means[:, None] - means[None, :])[upper] ** 2)
    denom = (k - 1) * sum_var + sum_sq_mean_diff
    if not denom > 0:
        raise InvalidParameterError("ratings", "all values identical", "ratings with some variation")
    return float(2 * sum_cov / denom)


def _wide(df: Any, subject: str, rater: str, value: str) -> tuple[np.ndarray, list[Any]]:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidParameterError("df", type(df).__name__, "a pandas DataFrame in long format")
    for role, col in (("subject", subject), ("rater", rater), ("value", value)):
        if col not in df.columns:
            raise InvalidParameterError(role, col, f"one of the table's columns {list(df.columns)}")
    values = pd.to_numeric(df[value], errors="coerce")
    if values.isna().any():
        bad = df.loc[values.isna(), [subject, rater]].head(3).to_dict("records")
        raise InvalidParameterError(value, f"missing or non-numeric values (e.g. rows {bad})", "numbers")
    dup = df.duplicated([subject, rater])
    if dup.any():
        bad = df.loc[dup, [subject, rater]].head(3).to_dict("records")
        raise InvalidParameterError(
            "df", f"more than one row per {subject} × {rater} (e.g. {bad})", "one row per subject and rater"
        )
    wide = df.assign(**{value: values}).pivot(index=subject, columns=rater, values=value)
    incomplete = wide.index[wide.isna().any(axis=1)]
    if len(incomplete):
        raise InvalidParameterError(
            "df",
            f"subjects without a value from every {rater}: {list(incomplete[:5])}",
            "a complete subject × rater table (drop those subjects first)",
        )
    return wide.to_numpy(dtype=float), list(wide.columns)


def agreement_table(df: Any, subject: str, rater: str, value: str, confidence: float = 0.95) -> dict[str, Any]:
    """Every agreement statistic of a long table (one row per subject × rater or repeat).

    Parameters
    ----------
    df : pandas.DataFrame
        Long table.
    subject, rater, value : str
        Column names; ``value`` must be numeric, in the measurand's unit.
    confidence : float
        Level of the ICC confidence intervals.

    Returns
    -------
    dict
        ``icc2_1, icc2_1_ci, icc3_1, icc3_1_ci`` (dimensionless, CIs as [lower, upper]), ``wsd`` and ``rc``
        (value unit), ``wcv`` (fraction; ``None`` for non-positive measurands), ``ccc`` (Lin / overall),
        ``ba_bias`` and ``ba_loa`` (value unit; first rater level minus second in sorted order; ``None`` unless
        exactly two raters), plus ``n_subjects``, ``n_raters`` and ``raters``.

    Raises
    ------
    InvalidParameterError
        Missing column, non-numeric or missing value, duplicate or incomplete subject × rater cells.
    """
    x, raters = _wide(df, subject, rater, value)
    res = icc(x, confidence=confidence)
    ba = bland_altman(x[:, 0], x[:, 1]) if x.shape[1] == 2 else None
    return {
        "icc2_1": res.icc2_1,
        "icc2_1_ci": list(res.icc2_1_ci),
        "icc3_1": res.icc3_1,
        "icc3_1_ci": list(res.icc3_1_ci),
        "wsd": within_subject_sd(x),
        "wcv": within_subject_cv(x),
        "rc": repeatability_coefficient(x),
        "ccc": concordance_correlation(x),
        "ba_bias": None if ba is None else ba.bias,
        "ba_loa": None if ba is None else list(ba.loa),
        "n_subjects": int(x.shape[0]),
        "n_raters": int(x.shape[1]),
        "raters": [r.item() if hasattr(r, "item") else r for r in raters],
    }


def feature_icc(test: Any, retest: Any, kind: str = "icc2_1") -> Any:
    """ICC of every feature from a test–retest pair of wide tables (rows = subjects, columns = features).

    Parameters
    ----------
    test, retest : pandas.DataFrame
        Same subjects (index) and features (columns), in any order; rows are aligned by index.
    kind : {"icc2_1", "icc3_1"}

    Returns
    -------
    pandas.Series
        ICC per feature, indexed by feature name.

    Raises
    ------
    InvalidParameterError
        Index or columns differ, missing values, or a feature with zero residual variance.
    """
    import pandas as pd

    if kind not in ("icc2_1", "icc3_1"):
        raise InvalidParameterError("kind", kind, "'icc2_1' or 'icc3_1'")
    if not isinstance(test, pd.DataFrame) or not isinstance(retest, pd.DataFrame):
        raise InvalidParameterError("test/retest", type(test).__name__, "two pandas DataFrames")
    if set(test.columns) != set(retest.columns) or set(test.index) != set(retest.index):
        raise InvalidParameterError(
            "retest", "different subjects or features from test", "the same index and columns as test"
        )
    retest = retest.loc[test.index, test.columns]
    out = {}
    for name in test.columns:
        try:
            out[name] = getattr(icc(np.column_stack([test[name].to_numpy(float), retest[name].to_numpy(float)])), kind)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"feature {name!r}", "unusable test-retest values", str(exc)) from exc
    return pd.Series(out, name=kind, dtype=float)
