"""Biomarker validation and risk modelling: agreement, harmonisation, honest predictive models, survival.

Submodules are imported on demand so that ``import imagebio.stats`` stays light:

- :mod:`imagebio.stats.agreement` — ICC, wSD/wCV, RC, Bland–Altman, CCC (numpy/scipy/pandas only).
- :mod:`imagebio.stats.selection` — :class:`RepeatabilityFilter`, :class:`CorrelationFilter` (scikit-learn).
- :mod:`imagebio.stats.harmonize` — :class:`ComBat` (scikit-learn transformer).
- :mod:`imagebio.stats.models` — nested cross-validation, bootstrap CIs, calibration, decision curves.
- :mod:`imagebio.stats.survival` — penalised Cox, concordance, time-dependent AUC, risk groups (lifelines).
- :mod:`imagebio.stats.model_card` — saving models with their feature definitions; Markdown model card.
- :mod:`imagebio.stats.plots` — ROC, calibration, Kaplan–Meier and decision-curve PNGs (matplotlib).

Only :mod:`~imagebio.stats.agreement` is free of scikit-learn/lifelines at import; the transformer modules
(``selection``, ``harmonize``) import scikit-learn at module level because their classes subclass its bases.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "agreement_table": "agreement",
    "icc": "agreement",
    "RepeatabilityFilter": "selection",
    "CorrelationFilter": "selection",
    "ComBat": "harmonize",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"imagebio.stats.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'imagebio.stats' has no attribute {name!r}")
