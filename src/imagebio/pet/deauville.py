"""Deauville five-point scale (D5PS) for lymphoma FDG-PET, from uptake values.

The score compares the most intense lesion's uptake with the mediastinal blood pool and the liver
(Meignan M et al., Leuk Lymphoma 2009;50:1257; Barrington SF et al., J Clin Oncol 2014;32:3048; rule 68 of
``docs/response-criteria.md``):

1. no uptake above background; 2. uptake ≤ mediastinum; 3. > mediastinum but ≤ liver; 4. moderately > liver;
5. markedly > liver and/or new lesions; X: new uptake unlikely to be lymphoma (a reader's call, not computed here).

The scale is visual; the quantitative surrogate implemented here compares the lesion SUVmax with reference values
the caller chooses (typically the blood-pool and liver statistics of
:mod:`imagebio.pet.reference_regions`), and takes "markedly higher" as ``markedly_factor`` × liver (2–3 × liver
SUVmax in the literature; default 2). The result feeds :mod:`imagebio.response.lugano` (column ``deauville``).
"""

from __future__ import annotations

import dataclasses
import math

from imagebio.errors import InvalidParameterError

__all__ = ["DeauvilleScore", "deauville_score"]


@dataclasses.dataclass(frozen=True)
class DeauvilleScore:
    """A Deauville score with the comparison that decided it (values in the image's SUV unit)."""

    score: int
    reason: str


def _check(name: str, value: float, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or not math.isfinite(value) or value < 0:
        raise InvalidParameterError(name, value, "a finite, non-negative uptake value (SUV)")


def deauville_score(
    lesion_suv_max: float,
    mediastinum_suv: float,
    liver_suv: float,
    *,
    background_suv: float | None = None,
    markedly_factor: float = 2.0,
    new_lesion: bool = False,
) -> DeauvilleScore:
    """Deauville score of a lesion from its SUVmax and the reference-region uptake.

    Parameters
    ----------
    lesion_suv_max : float
        SUVmax (or SULmax) of the most intense residual lesion.
    mediastinum_suv, liver_suv : float
        Reference uptake of the mediastinal blood pool and of the liver, in the same unit (the caller's choice
        of statistic, e.g. the blood-pool mean and the liver max; state it when reporting).
    background_suv : float, optional
        Local background uptake; without it, score 1 (no uptake above background) is not assigned.
    markedly_factor : float
        Liver multiple above which uptake is "markedly higher" (score 5); must exceed 1.
    new_lesion : bool
        New FDG-avid lesions make the score 5 whatever the uptake (Barrington 2014).

    Returns
    -------
    DeauvilleScore
    """
    _check("lesion_suv_max", lesion_suv_max)
    _check("mediastinum_suv", mediastinum_suv)
    _check("liver_suv", liver_suv)
    _check("background_suv", background_suv, allow_none=True)
    if mediastinum_suv > liver_suv:
        raise InvalidParameterError(
            "mediastinum_suv", mediastinum_suv, f"a blood-pool uptake not above the liver uptake ({liver_suv:g})"
        )
    if not markedly_factor > 1:
        raise InvalidParameterError("markedly_factor", markedly_factor, "a liver multiple greater than 1")
    if new_lesion:
        return DeauvilleScore(5, "new FDG-avid lesion(s): score 5")
    if background_suv is not None and lesion_suv_max <= background_suv:
        return DeauvilleScore(1, f"uptake {lesion_suv_max:g} <= background {background_suv:g}: score 1")
    if lesion_suv_max <= mediastinum_suv:
        return DeauvilleScore(2, f"uptake {lesion_suv_max:g} <= mediastinum {mediastinum_suv:g}: score 2")
    if lesion_suv_max <= liver_suv:
        return DeauvilleScore(
            3, f"uptake {lesion_suv_max:g} > mediastinum {mediastinum_suv:g} and <= liver {liver_suv:g}: score 3"
        )
    limit = markedly_factor * liver_suv
    if lesion_suv_max > limit:
        return DeauvilleScore(
            5, f"uptake {lesion_suv_max:g} > {markedly_factor:g} x liver {liver_suv:g} (markedly higher): score 5"
        )
    return DeauvilleScore(
        4, f"uptake {lesion_suv_max:g} > liver {liver_suv:g} and <= {markedly_factor:g} x liver: score 4"
    )
