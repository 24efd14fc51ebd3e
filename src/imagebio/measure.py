"""Basic ROI statistics of a Volume inside a mask: count, volume and intensity summary.

These are the plain numbers every room and the ``roi-stats`` command report; IBSI-standardised intensity
statistics (``stat_*``) live in :mod:`imagebio.radiomics`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from imagebio import units
from imagebio.errors import EmptyMaskError, InvalidParameterError
from imagebio.volume import Volume, check_same_grid

__all__ = ["RoiStatistics", "roi_statistics"]


@dataclasses.dataclass(frozen=True)
class RoiStatistics:
    """Summary of the voxel values inside one ROI.

    ``count`` is in voxels, ``volume_ml`` in mL; ``minimum`` … ``sd`` are in ``unit`` (the image's unit).
    ``sd`` is the population standard deviation (ddof = 0), as IBSI's ``stat_var`` defines the variance.
    """

    roi: str
    count: int
    volume_ml: float
    minimum: float
    mean: float
    median: float
    maximum: float
    sd: float
    unit: str

    def rows(self) -> list[tuple[str, str, float, str]]:
        """(roi, stat, value, unit) rows, the CSV layout of ``imagebio roi-stats``."""
        return [
            (self.roi, "count", float(self.count), "voxels"),
            (self.roi, "volume", self.volume_ml, units.ML),
            (self.roi, "min", self.minimum, self.unit),
            (self.roi, "mean", self.mean, self.unit),
            (self.roi, "median", self.median, self.unit),
            (self.roi, "max", self.maximum, self.unit),
            (self.roi, "sd", self.sd, self.unit),
        ]


def roi_statistics(image: Volume, mask: Volume | np.ndarray, roi: str = "roi") -> RoiStatistics:
    """Count, volume (mL) and min/mean/median/max/SD of ``image`` inside ``mask``.

    Parameters
    ----------
    image : Volume
        Intensity image; its ``unit`` is carried to the result.
    mask : Volume or numpy.ndarray
        Boolean ROI on ``image``'s grid (a Volume is checked for grid equality).
    roi : str
        Name of the ROI, used in the result and in errors.

    Raises
    ------
    GeometryMismatchError
        When a mask Volume is on another grid.
    EmptyMaskError
        When the ROI holds no voxel.
    """
    if isinstance(mask, Volume):
        check_same_grid(image, mask, what=f"mask {roi!r}")
        mask_array = np.asarray(mask.array)
    else:
        mask_array = np.asarray(mask)
        if mask_array.shape != image.shape:
            raise InvalidParameterError("mask", f"array of shape {mask_array.shape}", f"shape {image.shape}")
    mask_array = mask_array.astype(bool)
    values = np.asarray(image.array)[mask_array].astype(np.float64)
    if values.size == 0:
        raise EmptyMaskError(roi, image.identifiers.get("path"))
    return RoiStatistics(
        roi=roi,
        count=int(values.size),
        volume_ml=float(values.size * image.voxel_volume_ml),
        minimum=float(values.min()),
        mean=float(values.mean()),
        median=float(np.median(values)),
        maximum=float(values.max()),
        sd=float(values.std()),
        unit=image.unit,
    )
