"""Parametric response maps (PRM) and functional diffusion maps (fDM) on co-registered parameter maps.

For every voxel analysed, the change ``delta = followup - baseline`` is labelled **increased** if
``delta > +T``, **decreased** if ``delta < -T`` and **unchanged** otherwise (rule sheet rule 72). The default
threshold is that of the Michigan brain-tumour ADC work, ``T = 0.55e-3 mm^2/s`` (55 x 10^-5 mm^2/s, the 95 %
confidence interval of voxel-wise ADC differences in contralateral normal brain), which belongs to that
protocol: derive ``T`` from test-retest or normal-tissue data for any other one.

References: Moffat BA et al., PNAS 2005;102:5524-5529 (fDM); Hamstra DA et al., PNAS 2005;102:16759-16764;
Galbán CJ et al., Nat Med 2009;15:572-576 (PRM of rCBV/rCBF); Galbán CJ et al., Nat Med 2012;18:1711-1715
(lung CT PRM: -950 HU inspiration, -856 HU expiration).

Only voxels inside the ROI at **both** time points are analysed by default (``roi_rule="intersection"``;
``"baseline"`` and ``"union"`` are the alternatives, rule 71). Maps must already be on one grid (see
:mod:`imagebio.response.registration`). Fractions are ``count / analysed`` and sum to 1.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError
from imagebio.volume import Volume

__all__ = [
    "ADC_THRESHOLD_MM2_PER_S",
    "LungPrmResult",
    "PrmResult",
    "lung_prm",
    "parametric_response_map",
    "prm_per_lesion",
]

#: Michigan fDM threshold for ADC (Moffat 2005, Hamstra 2005), mm^2/s.
ADC_THRESHOLD_MM2_PER_S = 0.55e-3

INCREASED, UNCHANGED, DECREASED, OUTSIDE = 1, 0, -1, -128


@dataclasses.dataclass(frozen=True)
class PrmResult:
    """Voxel classes of a PRM.

    ``labels`` (z, y, x) int8: +1 increased, 0 unchanged, -1 decreased, -128 not analysed. Fractions are of the
    analysed voxels (sum 1); volumes in mL; ``threshold`` in the map's unit.
    """

    labels: np.ndarray
    n_analysed: int
    n_increased: int
    n_decreased: int
    n_unchanged: int
    fraction_increased: float
    fraction_decreased: float
    fraction_unchanged: float
    volume_increased_ml: float
    volume_decreased_ml: float
    volume_unchanged_ml: float
    threshold: float
    roi_rule: str

    def summary(self) -> dict[str, float | int | str]:
        """Everything but the label map."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "labels"}


def _as_array(data, name: str) -> np.ndarray:
    array = np.asarray(data.array if isinstance(data, Volume) else data)
    if array.ndim != 3:
        raise InvalidParameterError(name, f"array of shape {array.shape}", "a 3-D (z, y, x) array")
    return array


def _roi(baseline_roi, followup_roi, shape, rule: str) -> np.ndarray:
    if rule not in ("intersection", "union", "baseline"):
        raise InvalidParameterError("roi_rule", rule, '"intersection", "union" or "baseline"')
    a = _as_array(baseline_roi, "baseline_roi").astype(bool)
    b = a if followup_roi is None else _as_array(followup_roi, "followup_roi").astype(bool)
    for name, m in (("baseline_roi", a), ("followup_roi", b)):
        if m.shape != shape:
            raise GeometryMismatchError(f"{name} shape {m.shape} differs from the maps' shape {shape}")
    if rule == "intersection":
        return a & b
    if rule == "union":
        return a | b
    return a


def parametric_response_map(
    baseline: np.ndarray | Volume,
    followup: np.ndarray | Volume,
    spacing: tuple[float, float, float] | None,
    baseline_roi: np.ndarray | Volume,
    followup_roi: np.ndarray | Volume | None = None,
    threshold: float = ADC_THRESHOLD_MM2_PER_S,
    roi_rule: str = "intersection",
) -> PrmResult:
    """Classify voxels of co-registered maps as increased, decreased or unchanged.

    Parameters
    ----------
    baseline, followup : ndarray (z, y, x) or Volume
        Parameter maps on the same grid (ADC in mm^2/s for the default threshold).
    spacing : (z, y, x) mm
        Voxel size (for the volumes); ``None`` only when ``baseline`` is a Volume.
    baseline_roi, followup_roi : ndarray or Volume
        Tumour masks at each time point (``followup_roi`` defaults to ``baseline_roi``).
    threshold : float
        ``T`` in the maps' unit (> 0).
    roi_rule : str
        ``"intersection"`` (default), ``"union"`` or ``"baseline"``.

    Returns
    -------
    PrmResult
    """
    if isinstance(baseline, Volume) and isinstance(followup, Volume):
        if not baseline.same_grid(followup):
            raise GeometryMismatchError(
                "baseline and follow-up maps are not on the same grid; register and resample first"
            )
    if spacing is None:
        if not isinstance(baseline, Volume):
            raise InvalidParameterError("spacing", None, "(z, y, x) voxel size in mm")
        spacing = baseline.spacing
    if not (np.isfinite(threshold) and threshold > 0):
        raise InvalidParameterError("threshold", threshold, "a positive number in the maps' unit")
    a = _as_array(baseline, "baseline").astype(np.float64)
    b = _as_array(followup, "followup").astype(np.float64)
    if a.shape != b.shape:
        raise GeometryMismatchError(f"baseline map shape {a.shape} differs from follow-up map shape {b.shape}")
    roi = _roi(baseline_roi, followup_roi, a.shape, roi_rule)
    roi &= np.isfinite(a) & np.isfinite(b)
    n = int(roi.sum())
    if n == 0:
        raise EmptyMaskError("PRM ROI", detail=f"(no voxel analysed under roi_rule={roi_rule!r})")
    delta = b - a
    labels = np.full(a.shape, OUTSIDE, dtype=np.int8)
    labels[roi] = UNCHANGED
    labels[roi & (delta > threshold)] = INCREASED
    labels[roi & (delta < -threshold)] = DECREASED
    n_inc = int((labels == INCREASED).sum())
    n_dec = int((labels == DECREASED).sum())
    n_unc = n - n_inc - n_dec
    voxel_ml = float(np.prod([float(s) for s in spacing])) / 1000.0
    return PrmResult(
        labels,
        n,
        n_inc,
        n_dec,
        n_unc,
        n_inc / n,
        n_dec / n,
        n_unc / n,
        n_inc * voxel_ml,
        n_dec * voxel_ml,
        n_unc * voxel_ml,
        float(threshold),
        roi_rule,
    )


def prm_per_lesion(
    baseline: np.ndarray | Volume,
    followup: np.ndarray | Volume,
    spacing: tuple[float, float, float] | None,
    lesion_labels: np.ndarray | Volume,
    followup_labels: np.ndarray | Volume | None = None,
    threshold: float = ADC_THRESHOLD_MM2_PER_S,
    roi_rule: str = "intersection",
) -> dict[int, PrmResult]:
    """PRM of each lesion of a label map (0 = background; the same label = the same lesion at both times).

    Returns a dict label -> :class:`PrmResult`; a lesion with no analysed voxel is left out.
    """
    labels = _as_array(lesion_labels, "lesion_labels")
    later = labels if followup_labels is None else _as_array(followup_labels, "followup_labels")
    out = {}
    for value in np.unique(labels[labels != 0]):
        try:
            out[int(value)] = parametric_response_map(
                baseline, followup, spacing, labels == value, later == value, threshold, roi_rule
            )
        except EmptyMaskError:
            continue
    return out


@dataclasses.dataclass(frozen=True)
class LungPrmResult:
    """Lung CT PRM classes as fractions of the analysed lung voxels (sum 1).

    ``labels``: 1 normal, 2 functional small-airways disease (fSAD), 3 emphysema, 4 uncategorised
    (inspiration < -950 HU but expiration >= -856 HU), 0 outside.
    """

    labels: np.ndarray
    fraction_normal: float
    fraction_fsad: float
    fraction_emphysema: float
    fraction_uncategorised: float


def lung_prm(
    inspiration_hu: np.ndarray | Volume,
    expiration_hu: np.ndarray | Volume,
    lung_mask: np.ndarray | Volume,
    inspiration_threshold_hu: float = -950.0,
    expiration_threshold_hu: float = -856.0,
) -> LungPrmResult:
    """Lung PRM of registered inspiration/expiration CT (Galbán CJ et al., Nat Med 2012;18:1711-1715; rule 74)."""
    ins = _as_array(inspiration_hu, "inspiration_hu").astype(np.float64)
    exp = _as_array(expiration_hu, "expiration_hu").astype(np.float64)
    mask = _as_array(lung_mask, "lung_mask").astype(bool)
    if not (ins.shape == exp.shape == mask.shape):
        raise GeometryMismatchError(
            f"inspiration {ins.shape}, expiration {exp.shape} and lung mask {mask.shape} differ"
        )
    n = int(mask.sum())
    if n == 0:
        raise EmptyMaskError("lung")
    low_in = ins < inspiration_threshold_hu
    low_ex = exp < expiration_threshold_hu
    labels = np.zeros(ins.shape, np.int8)
    labels[mask & ~low_in & ~low_ex] = 1
    labels[mask & ~low_in & low_ex] = 2
    labels[mask & low_in & low_ex] = 3
    labels[mask & low_in & ~low_ex] = 4
    counts = [int((labels == k).sum()) for k in (1, 2, 3, 4)]
    return LungPrmResult(labels, *(c / n for c in counts))
