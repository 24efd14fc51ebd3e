"""Filter settings as data (:class:`FilterSettings`) and the dispatcher :func:`apply_filter`.

Reference: IBSI 2 reference manual (arXiv:2006.05470); parameter names follow its filter definitions. Angles are in
radians, scales in mm, supports and energy distances in voxels.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters._core import POOLINGS
from imagebio.radiomics.filters.padding import canonical_padding

__all__ = ["FILTER_KINDS", "FilterSettings", "apply_filter", "filter_reach", "response_map_near_roi"]

FILTER_KINDS = ("mean", "log", "laws", "gabor", "wavelet", "simoncelli", "riesz_log", "riesz_simoncelli")
_DEFAULT_POOLING = {"laws": "max", "gabor": "mean", "wavelet": "mean"}


@dataclasses.dataclass(frozen=True)
class FilterSettings:
    """One IBSI 2 convolutional filter and its parameters.

    Parameters
    ----------
    kind : {"mean", "log", "laws", "gabor", "wavelet", "simoncelli", "riesz_log", "riesz_simoncelli"}
        Filter family.
    dimensions : {2, 3}
        2: filter each axial slice (IBSI "2D"); 3: volumetric. Laws kernels and wavelet sub-bands must have as many
        components as dimensions.
    padding : str
        Boundary condition: ``zero``, ``nearest``, ``periodic`` or ``mirror`` (aliases ``constant``, ``edge``,
        ``wrap``, ``symmetric``, ``reflect`` in the scipy sense).
    support_voxels : int, optional
        Mean filter support M (odd, voxels).
    sigma_mm : float, optional
        LoG / Riesz-LoG Gaussian scale, or Gabor envelope scale (mm).
    truncate : float
        LoG kernel half-width in sigmas (IBSI: 4); Gabor: in units of ``sigma max(1, 1/gamma)``.
    laws_kernel : str, optional
        Laws kernel name, x first (``"E5L5S5"``, ``"L5S5"``).
    energy_delta_voxels : int, optional
        Laws energy-map Chebyshev distance delta (voxels); None = no energy map.
    rotation_invariant : bool
        Laws / wavelets: pool over right-angle rotations. Gabor: pool over ``theta_step_rad`` orientations, in the
        three orthogonal planes when ``dimensions == 3``.
    pooling : {"max", "mean", "min"}, optional
        Pooling of rotated responses; default max (Laws), mean (Gabor, wavelets).
    lambda_mm, gamma, theta_rad, theta_step_rad : float, optional
        Gabor wavelength (mm), aspect ratio, orientation and orientation step (radians).
    response : {"modulus", "real", "imaginary", "phase"}
        Gabor response type.
    wavelet : str, optional
        PyWavelets name for separable wavelets (``haar``, ``db2``, ``coif1`` ...).
    subband : str, optional
        Separable wavelet sub-band, x first (``"LHL"``, ``"HH"``).
    level : int
        Wavelet / Simoncelli decomposition level.
    decimated : bool
        Decimated separable wavelet transform (response smaller than the image; not usable for features).
    riesz_order : tuple of int, optional
        Riesz transform order (x, y, z) for ``riesz_log`` / ``riesz_simoncelli``.
    """

    kind: str
    dimensions: int = 3
    padding: str = "mirror"
    support_voxels: int | None = None
    sigma_mm: float | None = None
    truncate: float = 4.0
    laws_kernel: str | None = None
    energy_delta_voxels: int | None = None
    rotation_invariant: bool = False
    pooling: str | None = None
    lambda_mm: float | None = None
    gamma: float | None = None
    theta_rad: float = 0.0
    theta_step_rad: float | None = None
    response: str = "modulus"
    wavelet: str | None = None
    subband: str | None = None
    level: int = 1
    decimated: bool = False
    riesz_order: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        if self.kind not in FILTER_KINDS:
            raise InvalidParameterError("filter.kind", self.kind, f"one of {FILTER_KINDS}")
        if self.dimensions not in (2, 3):
            raise InvalidParameterError("filter.dimensions", self.dimensions, "2 (per axial slice) or 3")
        object.__setattr__(self, "padding", canonical_padding(self.padding))
        if self.pooling is None:
            object.__setattr__(self, "pooling", _DEFAULT_POOLING.get(self.kind, "mean"))
        elif self.pooling not in POOLINGS:
            raise InvalidParameterError("filter.pooling", self.pooling, f"one of {POOLINGS}")
        if self.riesz_order is not None:
            object.__setattr__(self, "riesz_order", tuple(int(o) for o in self.riesz_order))
        required = {
            "mean": ("support_voxels",), "log": ("sigma_mm",), "laws": ("laws_kernel",),
            "gabor": ("sigma_mm", "lambda_mm", "gamma"), "wavelet": ("wavelet", "subband"),
            "riesz_log": ("sigma_mm", "riesz_order"), "riesz_simoncelli": ("riesz_order",),
        }.get(self.kind, ())
        for name in required:
            if getattr(self, name) is None:
                raise InvalidParameterError(f"filter.{name}", None, f"a value for a {self.kind} filter")
        n_parts = {"laws": len(self.laws_kernel or "") // 2, "wavelet": len(self.subband or "")}.get(self.kind)
        if n_parts is not None and n_parts != self.dimensions:
            raise InvalidParameterError("filter.dimensions", self.dimensions,
                                        f"{n_parts} to match the {self.kind} kernel/sub-band components")
        if self.kind.startswith("riesz") and self.dimensions != 3:
            raise InvalidParameterError("filter.dimensions", self.dimensions, "3 for Riesz filters")
        if self.kind == "gabor" and self.rotation_invariant and self.theta_step_rad is None:
            raise InvalidParameterError("filter.theta_step_rad", None, "an orientation step for rotation invariance")
        if self.decimated and self.kind != "wavelet":
            raise InvalidParameterError("filter.decimated", True, "False except for separable wavelets")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FilterSettings:
        """Build from a mapping (e.g. YAML); unknown keys raise ``InvalidParameterError``.

        Angles may also be given in degrees as ``theta_deg`` / ``theta_step_deg``.
        """
        data = dict(data)
        for deg, rad in (("theta_deg", "theta_rad"), ("theta_step_deg", "theta_step_rad")):
            if deg in data:
                value = data.pop(deg)
                data[rad] = None if value is None else math.radians(float(value))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise InvalidParameterError("filter", sorted(unknown), f"keys among {sorted(known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping (YAML/JSON friendly)."""
        out = dataclasses.asdict(self)
        if out["riesz_order"] is not None:
            out["riesz_order"] = list(out["riesz_order"])
        return out


def _gabor_planes(settings: FilterSettings) -> str:
    return "orthogonal" if settings.dimensions == 3 and settings.rotation_invariant else "axial"


def filter_reach(settings: FilterSettings, spacing: Sequence[float]) -> tuple[int, int, int] | None:
    """Voxels (z, y, x) a response value depends on around its voxel; None when the filter is global (FFT
    wavelets), i.e. when the response depends on the whole image."""
    from imagebio.radiomics.filters import gabor, laws, log, mean, wavelets

    s = settings
    if s.kind == "mean":
        return mean.mean_support_radius(s.support_voxels, s.dimensions)
    if s.kind == "log":
        return log.log_support_radius(spacing, s.sigma_mm, s.truncate, s.dimensions)
    if s.kind == "laws":
        return laws.laws_support_radius(s.laws_kernel, s.energy_delta_voxels)
    if s.kind == "gabor":
        return gabor.gabor_support_radius(spacing, s.sigma_mm, s.gamma, s.truncate, _gabor_planes(s))
    if s.kind == "wavelet" and not s.decimated:
        return wavelets.wavelet_support_radius(s.wavelet, s.subband, s.level)
    return None


def apply_filter(image: np.ndarray, spacing: Sequence[float], settings: FilterSettings | dict) -> np.ndarray:
    """Response map of ``image`` (z, y, x; spacing (z, y, x) in mm) for one IBSI 2 filter.

    Returns a float64 array of the image shape (except decimated wavelets).
    """
    from imagebio.radiomics.filters import gabor, laws, log, mean, riesz, simoncelli, wavelets

    s = settings if isinstance(settings, FilterSettings) else FilterSettings.from_dict(settings)
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 3:
        raise InvalidParameterError("image", f"array of shape {image.shape}", "a 3D array (z, y, x)")
    if len(spacing) != 3 or any(not float(v) > 0 for v in spacing):
        raise InvalidParameterError("spacing", spacing, "three positive voxel sizes (z, y, x) in mm")
    if s.kind == "mean":
        return mean.mean_filter(image, s.support_voxels, dimensions=s.dimensions, padding=s.padding)
    if s.kind == "log":
        return log.laplacian_of_gaussian(image, spacing, s.sigma_mm, truncate=s.truncate, dimensions=s.dimensions,
                                         padding=s.padding)
    if s.kind == "laws":
        return laws.laws_filter(image, s.laws_kernel, rotation_invariant=s.rotation_invariant, pooling=s.pooling,
                                energy_delta_voxels=s.energy_delta_voxels, padding=s.padding)
    if s.kind == "gabor":
        return gabor.gabor_filter(image, spacing, s.sigma_mm, s.lambda_mm, s.gamma, s.theta_rad,
                                  theta_step_rad=s.theta_step_rad if s.rotation_invariant else None,
                                  planes=_gabor_planes(s), pooling=s.pooling, response=s.response,
                                  truncate=s.truncate, padding=s.padding)
    if s.kind == "wavelet":
        return wavelets.separable_wavelet(image, s.wavelet, s.subband, s.level,
                                          rotation_invariant=s.rotation_invariant, pooling=s.pooling,
                                          decimated=s.decimated, padding=s.padding)
    if s.kind == "simoncelli":
        return simoncelli.simoncelli_wavelet(image, s.level, dimensions=s.dimensions, padding=s.padding)
    if s.kind == "riesz_log":
        return riesz.riesz_log(image, spacing, s.sigma_mm, s.riesz_order, truncate=s.truncate, padding=s.padding)
    return riesz.riesz_simoncelli(image, s.level, s.riesz_order, padding=s.padding)


def response_map_near_roi(
    image: np.ndarray,
    spacing: Sequence[float],
    settings: FilterSettings | dict,
    roi: np.ndarray,
    margin_mm: float = 0.0,
) -> np.ndarray:
    """Response map needed for features of ``roi``: exact within ``margin_mm`` of the ROI bounding box, NaN beyond.

    Finite-support filters run only on the ROI box grown by the filter reach and the margin (clipped to the image),
    which gives the same values there as filtering the whole image; global filters (Simoncelli, Riesz, decimated
    wavelets) filter the whole image. ``spacing`` (z, y, x) and ``margin_mm`` in mm.
    """
    s = settings if isinstance(settings, FilterSettings) else FilterSettings.from_dict(settings)
    roi = np.asarray(roi, dtype=bool)
    reach = filter_reach(s, spacing)
    if reach is None or not roi.any():
        return apply_filter(image, spacing, s)
    idx = np.nonzero(roi)
    inner, outer = [], []
    for axis, (r, sp, n) in enumerate(zip(reach, spacing, image.shape, strict=True)):
        margin = int(math.ceil(margin_mm / float(sp))) + 1
        lo, hi = int(idx[axis].min()) - margin, int(idx[axis].max()) + 1 + margin
        lo, hi = max(0, lo), min(n, hi)
        inner.append((lo, hi))
        outer.append((max(0, lo - r), min(n, hi + r)))
    crop = tuple(slice(a, b) for a, b in outer)
    response = apply_filter(np.asarray(image)[crop], spacing, s)
    out = np.full(np.shape(image), np.nan)
    keep = tuple(slice(lo, hi) for lo, hi in inner)
    local = tuple(slice(lo - a, hi - a) for (lo, hi), (a, _) in zip(inner, outer, strict=True))
    out[keep] = response[local]
    return out
