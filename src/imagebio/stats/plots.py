"""PNG figures of validation results: ROC, calibration, Kaplan–Meier, decision curve (matplotlib, Agg backend).

Each function takes the plain results of :mod:`imagebio.stats.models` / :mod:`imagebio.stats.survival`, writes
one PNG and returns its path. matplotlib is imported inside the functions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_roc", "plot_calibration", "plot_kaplan_meier", "plot_decision_curve"]


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=100)
    return plt, fig, ax


def _save(plt: Any, fig: Any, path: str | os.PathLike) -> Path:
    out = Path(path)
    fig.tight_layout()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out


def plot_roc(y_true: Any, prob: Any, path: str | os.PathLike, label: str = "model") -> Path:
    """ROC curve with its AUC in the legend."""
    from sklearn.metrics import roc_curve

    from imagebio.stats.models import auc, check_binary_outcome

    y01 = check_binary_outcome(y_true)
    fpr, tpr, _ = roc_curve(y01, prob)
    plt, fig, ax = _figure()
    ax.plot(fpr, tpr, label=f"{label} (AUC {auc(y01, prob):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1), title="ROC")
    ax.legend(loc="lower right")
    return _save(plt, fig, path)


def plot_calibration(cal: Any, path: str | os.PathLike) -> Path:
    """Binned calibration curve of a :class:`~imagebio.stats.models.CalibrationResult`, slope and intercept."""
    plt, fig, ax = _figure()
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8, label="ideal")
    ax.plot(cal.prob_pred, cal.prob_true, marker="o", label=f"slope {cal.slope:.2f}, intercept {cal.intercept:.2f}")
    ax.set(xlabel="predicted probability", ylabel="observed fraction", xlim=(0, 1), ylim=(0, 1), title="Calibration")
    ax.legend(loc="upper left")
    return _save(plt, fig, path)


def plot_kaplan_meier(km: Any, path: str | os.PathLike, time_unit: str = "") -> Path:
    """Kaplan–Meier curves with 95 % bands of a :class:`~imagebio.stats.survival.KmLogrankResult`."""
    plt, fig, ax = _figure()
    for label, curve in km.curves.items():
        ax.step(curve["time"], curve["survival"], where="post", label=str(label))
        ax.fill_between(curve["time"], curve["ci_lower"], curve["ci_upper"], step="post", alpha=0.2)
    ax.set(
        xlabel=f"time ({time_unit})" if time_unit else "time",
        ylabel="survival probability",
        ylim=(0, 1.02),
        title=f"log-rank p = {km.logrank_p:.3g}; HR {km.hazard_ratio:.2f} " f"({km.hr_ci[0]:.2f}-{km.hr_ci[1]:.2f})",
    )
    ax.legend(loc="lower left")
    return _save(plt, fig, path)


def plot_decision_curve(dca: Any, path: str | os.PathLike) -> Path:
    """Net benefit against threshold probability (model, treat all, treat none)."""
    plt, fig, ax = _figure()
    ax.plot(dca["threshold"], dca["net_benefit"], label="model")
    ax.plot(dca["threshold"], dca["treat_all"], ls="--", label="treat all")
    ax.plot(dca["threshold"], dca["treat_none"], ls=":", color="black", label="treat none")
    top = float(np.nanmax(np.r_[dca["net_benefit"], dca["treat_all"]]))
    ax.set(
        xlabel="threshold probability", ylabel="net benefit", ylim=(-0.05, max(top, 0.05) * 1.1), title="Decision curve"
    )
    ax.legend(loc="upper right")
    return _save(plt, fig, path)
