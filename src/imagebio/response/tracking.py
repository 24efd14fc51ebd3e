"""Match lesions between two time points by overlap and centroid distance (lesion tracking, rule sheet G4).

The follow-up label map must already be on the baseline grid (register with
:func:`imagebio.response.registration.register_followup_to_baseline`, then bring the labels over with
:func:`~imagebio.response.registration.resample_followup` and ``interpolator="nearest"``).

Each pair (baseline lesion, follow-up lesion) is a candidate when its Dice overlap is at least ``min_dice`` or
its centroids are at most ``max_centroid_distance_mm`` apart. Candidates are assigned one-to-one by the
Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) on the cost ``(1 - Dice) + distance /
max_centroid_distance_mm``. Unmatched baseline lesions are ``disappeared``, unmatched follow-up lesions
``new``. User overrides (follow-up label -> baseline label, or ``None`` for "new") are applied first and
reported with ``source="override"``, so a stored override is respected on reruns. Splits and merges are not
inferred (one-to-one matching); record them with overrides and RECIST 1.1 rule 11.

Reference for the overlap/centroid approach: Eisenhauer EA et al., Eur J Cancer 2009;45:228-247 (lesion
identity kept across time points); the cost is an implementation choice stated here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from imagebio.errors import GeometryMismatchError, InvalidParameterError
from imagebio.volume import Volume

__all__ = ["LesionMatch", "match_lesions"]


@dataclasses.dataclass(frozen=True)
class LesionMatch:
    """One row of a matching: labels (None where absent), status, Dice, centroid distance (mm), source."""

    baseline_label: int | None
    followup_label: int | None
    status: str
    dice: float
    centroid_distance_mm: float | None
    source: str = "auto"


def _labels(data, name: str) -> tuple[np.ndarray, tuple[float, float, float] | None]:
    if isinstance(data, Volume):
        return np.asarray(data.array), tuple(float(s) for s in data.spacing)  # type: ignore[return-value]
    array = np.asarray(data)
    if array.ndim != 3:
        raise InvalidParameterError(name, f"array of shape {array.shape}", "a 3-D (z, y, x) label map")
    return array, None


def _props(labels: np.ndarray, spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ids = np.unique(labels[labels != 0]).astype(np.int64)
    flat = labels.ravel()
    inside = np.flatnonzero(flat != 0)
    coords = np.stack(np.unravel_index(inside, labels.shape), 1) * spacing
    index = np.searchsorted(ids, flat[inside])
    counts = np.bincount(index, minlength=len(ids)).astype(float)
    centroids = np.stack([np.bincount(index, coords[:, k], minlength=len(ids)) for k in range(3)], 1)
    centroids /= np.maximum(counts, 1)[:, None]
    return ids, counts, centroids


def match_lesions(
    baseline_labels: np.ndarray | Volume,
    followup_labels: np.ndarray | Volume,
    spacing: tuple[float, float, float] | None = None,
    *,
    min_dice: float = 0.1,
    max_centroid_distance_mm: float = 20.0,
    overrides: Mapping[int, int | None] | None = None,
) -> list[LesionMatch]:
    """Match the lesions of two label maps on one grid (0 = background, each lesion its own label).

    Parameters
    ----------
    baseline_labels, followup_labels : ndarray (z, y, x) or Volume
        Label maps on the same grid.
    spacing : (z, y, x) mm
        Voxel size (taken from a Volume when omitted).
    min_dice : float
        Minimum Dice overlap that makes a pair a candidate on its own.
    max_centroid_distance_mm : float
        Maximum centroid distance (mm) that makes a pair a candidate on its own; also the distance scale of
        the cost.
    overrides : mapping, optional
        ``{followup_label: baseline_label or None}`` imposed before matching.

    Returns
    -------
    list of LesionMatch
        Matched pairs (by baseline label), then disappeared, then new lesions.
    """
    base, sp_a = _labels(baseline_labels, "baseline_labels")
    follow, sp_b = _labels(followup_labels, "followup_labels")
    if base.shape != follow.shape:
        raise GeometryMismatchError(
            f"baseline labels {base.shape} and follow-up labels {follow.shape} differ; resample the follow-up first"
        )
    spacing = spacing or sp_a or sp_b
    if spacing is None:
        raise InvalidParameterError("spacing", None, "(z, y, x) voxel size in mm")
    sp = np.asarray(spacing, dtype=float)
    if max_centroid_distance_mm <= 0 or not 0 <= min_dice <= 1:
        raise InvalidParameterError(
            "max_centroid_distance_mm/min_dice", (max_centroid_distance_mm, min_dice), "> 0 mm / in [0, 1]"
        )
    ids_a, n_a, c_a = _props(base, sp)
    ids_b, n_b, c_b = _props(follow, sp)
    both = (base != 0) & (follow != 0)
    ia = np.searchsorted(ids_a, base[both])
    ib = np.searchsorted(ids_b, follow[both])
    overlap = np.bincount(ia * len(ids_b) + ib, minlength=len(ids_a) * len(ids_b)).reshape(len(ids_a), len(ids_b))
    dice = 2 * overlap / np.maximum(n_a[:, None] + n_b[None, :], 1)
    distance = np.linalg.norm(c_a[:, None, :] - c_b[None, :, :], axis=-1)

    matches: list[LesionMatch] = []
    used_a: set[int] = set()
    used_b: set[int] = set()
    for f_label, b_label in (overrides or {}).items():
        if f_label not in ids_b:
            raise InvalidParameterError("overrides", f_label, f"a follow-up label among {ids_b.tolist()}")
        j = int(np.searchsorted(ids_b, f_label))
        used_b.add(j)
        if b_label is None:
            matches.append(LesionMatch(None, int(f_label), "new", 0.0, None, "override"))
            continue
        if b_label not in ids_a:
            raise InvalidParameterError("overrides", b_label, f"a baseline label among {ids_a.tolist()}")
        i = int(np.searchsorted(ids_a, b_label))
        if i in used_a:
            raise InvalidParameterError("overrides", b_label, "each baseline lesion matched at most once")
        used_a.add(i)
        matches.append(
            LesionMatch(int(b_label), int(f_label), "matched", float(dice[i, j]), float(distance[i, j]), "override")
        )

    free_a = [i for i in range(len(ids_a)) if i not in used_a]
    free_b = [j for j in range(len(ids_b)) if j not in used_b]
    if free_a and free_b:
        from scipy.optimize import linear_sum_assignment

        sub_d = dice[np.ix_(free_a, free_b)]
        sub_r = distance[np.ix_(free_a, free_b)]
        allowed = (sub_d >= min_dice) | (sub_r <= max_centroid_distance_mm)
        cost = np.where(allowed, (1 - sub_d) + sub_r / max_centroid_distance_mm, 1e6)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            if allowed[r, c]:
                i, j = free_a[r], free_b[c]
                used_a.add(i)
                used_b.add(j)
                matches.append(
                    LesionMatch(int(ids_a[i]), int(ids_b[j]), "matched", float(dice[i, j]), float(distance[i, j]))
                )
    matches.sort(key=lambda m: (m.baseline_label is None, m.baseline_label or 0, m.followup_label or 0))
    matches += [
        LesionMatch(int(ids_a[i]), None, "disappeared", 0.0, None) for i in range(len(ids_a)) if i not in used_a
    ]
    matches += [LesionMatch(None, int(ids_b[j]), "new", 0.0, None) for j in range(len(ids_b)) if j not in used_b]
    return matches
