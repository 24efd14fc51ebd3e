"""Settings of the IBSI radiomics chain, as data (dataclass + YAML presets).

Reference: Zwanenburg A. et al., *The Image Biomarker Standardization Initiative* (IBSI 1), Radiology 2020;
manual arXiv:1612.07003, chapter 2 (image processing) and section 5 (reference configurations A-E).
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Any

from imagebio.errors import InvalidParameterError
from imagebio.radiomics.filters.settings import FilterSettings

__all__ = ["PRESET_ALIASES", "RadiomicsSettings", "available_presets", "load_settings", "resolve_preset_name"]

_INTERPOLATORS = ("nearest", "linear", "cubic")
_DISCRETISATIONS = ("fbs", "fbn", "none")
_APPROACHES = ("2D", "2_5D", "3D")
_FBS_ORIGINS = ("lower_bound", "zero")

#: Short preset names (issue 3 / CLI ``--preset``) → preset file names in ``presets/``.
PRESET_ALIASES = {
    "ibsi-dig": "ibsi_digital_phantom",
    "ibsi-a": "ibsi_config_a",
    "ibsi-b": "ibsi_config_b",
    "ibsi-c": "ibsi_config_c",
    "ibsi-d": "ibsi_config_d",
    "ibsi-e": "ibsi_config_e",
    "pyradiomics-default": "pyradiomics_default",
}


@dataclasses.dataclass(frozen=True)
class RadiomicsSettings:
    """Parameters of the IBSI 1 image-processing chain and feature calculation.

    Parameters
    ----------
    name : str
        Label of the configuration (e.g. ``ibsi_config_c``).
    round_initial_intensities : bool
        Round image intensities to the nearest integer after loading (IBSI CT phantom convention).
    new_spacing_mm : tuple of (float or None), optional
        Target voxel spacing (z, y, x) in mm; ``None`` for the whole tuple means no interpolation, ``None`` for the
        z element means in-plane (2D) interpolation with the slice grid kept.
    image_interpolator : {"nearest", "linear", "cubic"}
        Image interpolator (``linear`` = (bi/tri)linear, ``cubic`` = tricubic B-spline).
    round_interpolated_intensities : bool
        Round intensities to the nearest integer after interpolation.
    roi_interpolator : {"nearest", "linear", "cubic"}
        Interpolator for the ROI mask (treated as a 0/1 image).
    roi_partial_volume_threshold : float
        Interpolated mask values ``>=`` this fraction are kept in the ROI.
    resegmentation_range : tuple of (float or None), optional
        Intensity range ``[lower, upper]`` (image units, e.g. HU) kept in the intensity mask; either bound may be None.
    outlier_sigma : float, optional
        Exclude intensities outside mean ± ``outlier_sigma`` × SD of the ROI (IBSI outlier filtering); None = off.
    discretisation : {"fbs", "fbn", "none"}
        Discretisation of texture and intensity-histogram features: fixed bin size, fixed bin number, or none
        (intensities already integer grey levels >= 1, e.g. the digital phantom).
    bin_width : float, optional
        FBS bin width in image units (HU for CT).
    n_bins : int, optional
        FBN number of bins.
    ivh_discretisation : {"fbs", "fbn", "none"}
        Intensity-volume-histogram discretisation: ``none`` = calibrated discrete intensities (interval 1),
        ``fbs`` = calibrated continuous intensities mapped to bin centres, ``fbn`` = arbitrary units.
    ivh_bin_width : float, optional
        IVH FBS bin width (image units).
    ivh_n_bins : int, optional
        IVH FBN number of bins (IBSI recommends 1000).
    texture_approaches : tuple of str
        Texture aggregation approaches to compute: any of ``"2D"``, ``"2_5D"``, ``"3D"``.
    local_intensity_volume_cm3 : float
        Volume of the spherical neighbourhood of the local intensity features (IBSI: 1 cm³).
    filter : FilterSettings, optional
        IBSI 2 convolutional filter applied to the (interpolated) image after re-segmentation: the masks stay those
        of the unfiltered image, intensity features are computed on the response map, and discretisation of the
        response starts at its ROI minimum (the re-segmentation bounds are unfiltered intensities). None = no filter.
    fbs_bin_origin : {"lower_bound", "zero"}
        Where fixed-bin-size bins start: ``lower_bound`` (IBSI: the lower re-segmentation bound, else the ROI
        minimum) or ``zero`` (PyRadiomics: bin edges at multiples of ``bin_width``, the first one at or below the
        ROI minimum; van Griethuysen et al. 2017, ``imageoperations.getBinEdges``).
    families : tuple of str, optional
        Feature-tag prefixes computed by default (e.g. ``("morph", "stat", "cm")``); None = all families.
    """

    name: str = "custom"
    round_initial_intensities: bool = False
    new_spacing_mm: tuple[float | None, float | None, float | None] | None = None
    image_interpolator: str = "linear"
    round_interpolated_intensities: bool = False
    roi_interpolator: str = "linear"
    roi_partial_volume_threshold: float = 0.5
    resegmentation_range: tuple[float | None, float | None] | None = None
    outlier_sigma: float | None = None
    discretisation: str = "fbn"
    bin_width: float | None = None
    n_bins: int | None = 32
    ivh_discretisation: str = "none"
    ivh_bin_width: float | None = None
    ivh_n_bins: int | None = None
    texture_approaches: tuple[str, ...] = ("3D",)
    local_intensity_volume_cm3: float = 1.0
    filter: FilterSettings | None = None
    fbs_bin_origin: str = "lower_bound"
    families: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.new_spacing_mm is not None:
            spacing = tuple(None if s is None else float(s) for s in self.new_spacing_mm)
            if len(spacing) != 3 or any(s is not None and s <= 0 for s in spacing) or all(s is None for s in spacing):
                raise InvalidParameterError("new_spacing_mm", self.new_spacing_mm,
                                            "three entries (z, y, x) in mm, each positive or null (axis kept)")
            object.__setattr__(self, "new_spacing_mm", spacing)
        for field, value in (("image_interpolator", self.image_interpolator),
                             ("roi_interpolator", self.roi_interpolator)):
            if value not in _INTERPOLATORS:
                raise InvalidParameterError(field, value, f"one of {_INTERPOLATORS}")
        if not 0.0 < self.roi_partial_volume_threshold <= 1.0:
            raise InvalidParameterError("roi_partial_volume_threshold", self.roi_partial_volume_threshold,
                                        "a fraction in (0, 1]")
        if self.resegmentation_range is not None:
            bounds = tuple(None if b is None else float(b) for b in self.resegmentation_range)
            if len(bounds) != 2 or (None not in bounds and bounds[0] > bounds[1]):
                raise InvalidParameterError("resegmentation_range", self.resegmentation_range,
                                            "[lower, upper] with lower <= upper (null for an open bound)")
            object.__setattr__(self, "resegmentation_range", bounds)
        if self.outlier_sigma is not None and self.outlier_sigma <= 0:
            raise InvalidParameterError("outlier_sigma", self.outlier_sigma, "a positive number of SDs or null")
        for prefix, method, width, bins in (("", self.discretisation, self.bin_width, self.n_bins),
                                            ("ivh_", self.ivh_discretisation, self.ivh_bin_width, self.ivh_n_bins)):
            if method not in _DISCRETISATIONS:
                raise InvalidParameterError(f"{prefix}discretisation", method, f"one of {_DISCRETISATIONS}")
            if method == "fbs" and (width is None or width <= 0):
                raise InvalidParameterError(f"{prefix}bin_width", width, "a positive bin width for FBS")
            if method == "fbn" and (bins is None or int(bins) < 1):
                raise InvalidParameterError(f"{prefix}n_bins", bins, "a positive number of bins for FBN")
        approaches = tuple(self.texture_approaches)
        if not set(approaches) <= set(_APPROACHES):
            raise InvalidParameterError("texture_approaches", self.texture_approaches, f"a subset of {_APPROACHES}")
        object.__setattr__(self, "texture_approaches", approaches)
        if self.local_intensity_volume_cm3 <= 0:
            raise InvalidParameterError("local_intensity_volume_cm3", self.local_intensity_volume_cm3,
                                        "a positive volume in cm³")
        if self.fbs_bin_origin not in _FBS_ORIGINS:
            raise InvalidParameterError("fbs_bin_origin", self.fbs_bin_origin, f"one of {_FBS_ORIGINS}")
        if self.families is not None:
            object.__setattr__(self, "families", tuple(str(f) for f in self.families))
        # IBSI 2 filter (added with imagebio.radiomics.filters).
        if isinstance(self.filter, dict):
            object.__setattr__(self, "filter", FilterSettings.from_dict(self.filter))
        elif self.filter is not None and not isinstance(self.filter, FilterSettings):
            raise InvalidParameterError("filter", self.filter, "a FilterSettings, a mapping of its fields, or null")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RadiomicsSettings:
        """Build settings from a mapping (e.g. parsed YAML); unknown keys raise ``InvalidParameterError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise InvalidParameterError("settings", sorted(unknown), f"keys among {sorted(known)}")
        data = dict(data)
        for key in ("new_spacing_mm", "resegmentation_range", "texture_approaches", "families"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of the settings (YAML/JSON friendly)."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        out["filter"] = None if self.filter is None else self.filter.to_dict()
        return out


def resolve_preset_name(name: str) -> str:
    """Preset file name of ``name``: short aliases (``ibsi-c``, ``pyradiomics-default``) map to their files."""
    return PRESET_ALIASES.get(name, name)


def available_presets() -> list[str]:
    """Names of the YAML presets shipped in ``imagebio/radiomics/presets`` (file names; see ``PRESET_ALIASES``)."""
    folder = resources.files("imagebio.radiomics") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_settings(settings: RadiomicsSettings | str | Path) -> RadiomicsSettings:
    """Return settings from an instance, a preset name (e.g. ``"ibsi_config_a"``) or a YAML file path."""
    import yaml

    if isinstance(settings, RadiomicsSettings):
        return settings
    path = Path(settings)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        name = resolve_preset_name(str(settings))
        if name not in available_presets():
            raise InvalidParameterError("settings", settings,
                                        f"a RadiomicsSettings, a YAML path, or a preset among "
                                        f"{sorted(PRESET_ALIASES)} or {available_presets()}")
        text = (resources.files("imagebio.radiomics") / "presets" / f"{name}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise InvalidParameterError("settings", str(settings), "a YAML mapping of RadiomicsSettings fields")
    return RadiomicsSettings.from_dict(data)
