"""Per-lesion biomarkers of one time point, from the images and lesion masks of that visit.

The functions here are the spine's "biomarker" step for the demo and for cohort runs: they take Volumes
(CT in HU, PET in SUVbw, DWI frames with b-values, DCE frames with frame times) and boolean lesion masks on
the same grid, call the rooms (:mod:`imagebio.measure`, :mod:`imagebio.diffusion`, :mod:`imagebio.perfusion`),
and return plain :class:`LesionValue` records that the caller turns into store Measurements.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from imagebio import units
from imagebio.errors import InvalidParameterError, UnsupportedDataError
from imagebio.measure import roi_statistics
from imagebio.volume import Volume, check_same_grid

__all__ = ["LesionValue", "DceSettings", "TimepointImages", "measure_lesions"]


@dataclasses.dataclass(frozen=True)
class LesionValue:
    """One biomarker value of one lesion: ``series`` names the image it was measured on (``CT``, ``PT``...)."""

    roi: str
    series: str
    name: str
    value: float
    unit: str
    method: str
    parameters: Mapping[str, object] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class DceSettings:
    """Protocol facts a DCE fit needs that the DICOM headers do not carry.

    Attributes
    ----------
    t1_base_s : float
        Pre-contrast tissue T1 (s) assumed when the visit has no variable-flip-angle T1 series; with one, T1 is
        mapped voxel-wise from it instead.
    relaxivity_per_mM_per_s : float
        Contrast agent r1 (1/(mM·s)) at the field strength.
    hct : float
        Haematocrit, to turn the whole-blood population AIF into plasma concentration.
    aif_delay_s : float
        Bolus arrival of the population AIF relative to the first frame (s); a residual tissue delay is fitted.
    n_baseline : int
        Pre-contrast frames averaged for the baseline signal.
    model : str
        Kinetic model of :func:`imagebio.perfusion.dce.fit_roi_curve` (``"tofts"``, ``"extended_tofts"``...).
    """

    t1_base_s: float = 1.0
    relaxivity_per_mM_per_s: float = 4.5
    hct: float = 0.42
    aif_delay_s: float = 0.0
    n_baseline: int = 3
    model: str = "tofts"


@dataclasses.dataclass(frozen=True)
class TimepointImages:
    """The images of one visit on which lesions are measured (any may be missing).

    ``pet`` must be in an SUV unit (SUVbw for the demo); ``dwi`` frames carry ``metadata["b_value_s_per_mm2"]``;
    ``dce`` frames carry ``metadata["frame_time_s"]`` and, in ``metadata``, ``flip_angle_deg`` and
    ``repetition_time_ms`` from their headers; ``vfa`` frames (pre-contrast T1 mapping) carry
    ``metadata["flip_angle_deg"]`` and ``repetition_time_ms``.
    """

    ct: Volume | None = None
    pet: Volume | None = None
    dwi: Sequence[Volume] | None = None
    dce: Sequence[Volume] | None = None
    vfa: Sequence[Volume] | None = None


def _stack_frames(frames: Sequence[Volume], reference: Volume, what: str) -> np.ndarray:
    for frame in frames:
        check_same_grid(reference, frame, what=what)
    return np.stack([np.asarray(f.array, dtype=np.float64) for f in frames], axis=-1)


def _basic(volume: Volume, mask: Volume, roi: str, series: str, prefix: str, stats: Sequence[str]) -> list[LesionValue]:
    summary = roi_statistics(volume, mask, roi=roi)
    values = {
        "mean": summary.mean,
        "max": summary.maximum,
        "min": summary.minimum,
        "median": summary.median,
        "sd": summary.sd,
    }
    return [
        LesionValue(roi, series, f"{prefix}_{stat}", values[stat], volume.unit, "roi_statistics") for stat in stats
    ]


def adc_values(dwi: Sequence[Volume], mask: Volume, roi: str) -> list[LesionValue]:
    """Mean and median ADC (mm²/s) of a lesion from a voxel-wise mono-exponential fit of the DWI frames.

    Uses :func:`imagebio.diffusion.adc.fit_adc` (weighted log-linear least squares over all b-values).
    """
    from imagebio.diffusion.adc import fit_adc

    b_values = [float(f.metadata["b_value_s_per_mm2"]) for f in dwi]
    if len(set(b_values)) < 2:
        raise UnsupportedDataError(f"ADC needs at least two distinct b-values, got {b_values}")
    inside = np.asarray(mask.array, bool)
    signals = _stack_frames(dwi, dwi[0], "DWI frame")[inside]
    fit = fit_adc(signals, np.asarray(b_values))
    adc = np.asarray(fit["adc_mm2_per_s"], dtype=np.float64)
    params = {"b_values_s_per_mm2": b_values, "fit": "weighted log-linear"}
    return [
        LesionValue(roi, "DWI", "adc_mean", float(np.nanmean(adc)), units.MM2_PER_S, "adc_monoexponential", params),
        LesionValue(roi, "DWI", "adc_median", float(np.nanmedian(adc)), units.MM2_PER_S, "adc_monoexponential", params),
    ]


def t1_values(vfa: Sequence[Volume], mask: Volume, roi: str) -> tuple[np.ndarray, list[LesionValue]]:
    """Voxel T1 (s) inside a lesion from a variable-flip-angle SPGR series, and its median as a LesionValue.

    Non-linear VFA fit of :func:`imagebio.perfusion.t1.fit_vfa_t1` (Fram et al. 1987), TR from the headers.
    """
    from imagebio.perfusion.t1 import fit_vfa_t1

    angles = np.array([float(f.metadata["flip_angle_deg"]) for f in vfa])
    if "repetition_time_ms" not in vfa[0].metadata:
        raise UnsupportedDataError("VFA frames lack RepetitionTime in their headers")
    tr_s = float(vfa[0].metadata["repetition_time_ms"]) / 1000.0
    inside = np.asarray(mask.array, bool)
    signals = _stack_frames(vfa, vfa[0], "VFA frame")[inside]
    t1 = np.asarray(fit_vfa_t1(signals, angles, tr_s)["t1_s"], dtype=np.float64)
    params = {"flip_angles_deg": angles.tolist(), "tr_s": tr_s, "fit": "nonlinear VFA"}
    median = float(np.nanmedian(t1))
    return t1, [LesionValue(roi, "VFA", "t1_median", median, units.S, "t1_vfa", params)]


def dce_values(
    dce: Sequence[Volume], mask: Volume, roi: str, settings: DceSettings, t1_voxels_s: np.ndarray | None = None
) -> list[LesionValue]:
    """Ktrans (1/min), ve and kep of a lesion: fit of the lesion-mean concentration curve.

    Signal → concentration voxel by voxel by the SPGR equation with linear relaxivity
    (:func:`imagebio.perfusion.concentration.signal_to_concentration`), flip angle and TR from the headers and
    the voxel T1 (``t1_voxels_s``, from a VFA map) or the assumed ``settings.t1_base_s``; plasma input = Parker
    2006 population AIF / (1 − Hct); the lesion-mean concentration is fitted by
    :func:`imagebio.perfusion.dce.fit_roi_curve` with a fitted residual delay.
    """
    from imagebio.perfusion.aif import parker_aif
    from imagebio.perfusion.concentration import signal_to_concentration
    from imagebio.perfusion.dce import fit_roi_curve

    meta = dce[0].metadata
    if "flip_angle_deg" not in meta or "repetition_time_ms" not in meta:
        raise UnsupportedDataError("DCE frames lack FlipAngle/RepetitionTime in their headers")
    t_s = np.array([float(f.metadata["frame_time_s"]) for f in dce])
    if np.any(np.diff(t_s) <= 0):
        raise InvalidParameterError("frame_time_s", t_s.tolist(), "strictly increasing DCE frame times")
    inside = np.asarray(mask.array, bool)
    signals = _stack_frames(dce, dce[0], "DCE frame")[inside]
    t1 = settings.t1_base_s if t1_voxels_s is None else t1_voxels_s
    conc = signal_to_concentration(
        signals,
        t1,
        float(meta["flip_angle_deg"]),
        float(meta["repetition_time_ms"]) / 1000.0,
        settings.relaxivity_per_mM_per_s,
        n_baseline=settings.n_baseline,
    )
    cp = parker_aif(t_s, delay_s=settings.aif_delay_s, hct=settings.hct)
    fit = fit_roi_curve(t_s, np.nanmean(conc, axis=0), cp, model=settings.model, fit_delay=True)
    params = dataclasses.asdict(settings) | {
        "aif": "parker2006",
        "t1": "assumed t1_base_s" if t1_voxels_s is None else "VFA map",
    }
    method = f"dce_{settings.model}_roi_curve"
    out = [
        LesionValue(roi, "DCE", "ktrans", float(fit["ktrans_per_min"]), units.PER_MIN, method, params),
        LesionValue(roi, "DCE", "ve", float(fit["ve"]), units.FRACTION, method, params),
    ]
    if "kep_per_min" in fit:
        out.append(LesionValue(roi, "DCE", "kep", float(fit["kep_per_min"]), units.PER_MIN, method, params))
    return out


def measure_lesions(
    images: TimepointImages, masks: Mapping[str, Volume], dce_settings: DceSettings | None = None
) -> list[LesionValue]:
    """Every lesion's biomarkers available from the visit's images.

    * CT: volume (mL) from the mask, HU mean/max/SD.
    * PET: SUV max/mean/median/SD (unit of the PET volume, e.g. SUVbw).
    * DWI: ADC mean/median (mm²/s).
    * VFA: median T1 (s), and the voxel T1 used by the DCE fit.
    * DCE: Ktrans (1/min), ve, kep (with ``dce_settings``).

    Masks must lie on the grid of each image they are applied to (all series of a visit share a grid in the
    digital cohort; resample masks beforehand otherwise).
    """
    values: list[LesionValue] = []
    for roi, mask in masks.items():
        if images.ct is not None:
            summary = roi_statistics(images.ct, mask, roi=roi)
            values.append(LesionValue(roi, "CT", "volume", summary.volume_ml, units.ML, "mask_voxel_count"))
            values.extend(_basic(images.ct, mask, roi, "CT", "hu", ("mean", "max", "sd")))
        if images.pet is not None:
            prefix = images.pet.unit.lower() if images.pet.unit else "pet"
            values.extend(_basic(images.pet, mask, roi, "PT", prefix, ("max", "mean", "median", "sd")))
        if images.dwi:
            values.extend(adc_values(images.dwi, mask, roi))
        t1_voxels = None
        if images.vfa:
            t1_voxels, t1_rows = t1_values(images.vfa, mask, roi)
            values.extend(t1_rows)
        if images.dce and dce_settings is not None:
            values.extend(dce_values(images.dce, mask, roi, dce_settings, t1_voxels))
    return values
