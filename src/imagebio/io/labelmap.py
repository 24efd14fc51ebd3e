"""Label-map masks (NIfTI, NRRD, MetaImage): one ROI per nonzero integer label.

ROI naming: label value ``n`` becomes the ROI ``"label_<n>"`` (``"label_1"`` for a binary 0/1 mask), because
these formats carry no structure names.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike
from pathlib import Path

import numpy as np

from imagebio.errors import UnsupportedDataError
from imagebio.io._roi import mask_volume, select_rois
from imagebio.io.nifti import read_sitk_image
from imagebio.volume import Volume, check_same_grid, resample_to

__all__ = ["label_name", "read_labelmap", "labelmap_volume"]

MODALITY = "LABEL"


def label_name(value: int) -> str:
    """The ROI name of label value ``value``: ``"label_<value>"``."""
    return f"label_{int(value)}"


def labelmap_volume(path: str | PathLike) -> Volume:
    """The label map in ``path`` as an integer Volume on its own grid.

    Raises
    ------
    UnsupportedDataError
        Not a 3D scalar image, or voxel values that are not integers (a probability map is not a label map).
    """
    image = read_sitk_image(path)
    if image.GetDimension() not in (2, 3) or image.GetNumberOfComponentsPerPixel() != 1:
        raise UnsupportedDataError(
            f"label map must be a 3D scalar image; found {image.GetDimension()}D with "
            f"{image.GetNumberOfComponentsPerPixel()} component(s)",
            path,
        )
    volume = Volume.from_sitk(image, modality=MODALITY, identifiers={"path": str(path)})
    array = volume.array
    if array.dtype == bool:
        array = array.astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or not np.array_equal(array, np.round(array)):
            raise UnsupportedDataError(
                "label map holds non-integer voxel values (a probability or intensity image?); "
                "expected integer labels with 0 = background",
                path,
            )
        array = array.astype(np.int64)
    return volume.with_array(array)


def read_labelmap(
    path: str | PathLike,
    reference: Volume,
    rois: Iterable[str] | None = None,
    resample: bool = False,
) -> dict[str, Volume]:
    """Read a label map and split it into one boolean mask per nonzero label, on ``reference``'s grid.

    Parameters
    ----------
    path : str or path-like
        NIfTI/NRRD/MetaImage label map (0 = background).
    reference : Volume
        The image the masks belong to.
    rois : iterable of str, optional
        ROI names (``"label_<n>"``) to return; all labels when omitted.
    resample : bool
        When the label map is on another grid: resample it with nearest-neighbour interpolation (True) or raise
        :class:`~imagebio.errors.GeometryMismatchError` (False, default).

    Returns
    -------
    dict of str to Volume
        Boolean masks (modality ``"LABEL"``, ``identifiers["roi"]`` the ROI name, ``metadata["label"]`` the value).
        Masks may be empty; :func:`imagebio.io.masks.read_roi_masks` checks that.
    """
    path = Path(path)
    labels_volume = labelmap_volume(path)
    # ROIs are the labels of the file; one that falls outside the reference grid comes back empty, not missing
    values = [int(v) for v in np.unique(labels_volume.array) if v != 0]
    names = {label_name(v): v for v in values}
    chosen = select_rois(list(names), rois, path)
    resampled = not reference.same_grid(labels_volume)
    if resampled:
        if not resample:
            check_same_grid(reference, labels_volume, what="label map")
        labels_volume = resample_to(labels_volume, reference, interpolator="nearest")
    labels = labels_volume.array
    return {
        name: mask_volume(
            reference,
            labels == names[name],
            roi=name,
            modality=MODALITY,
            source=path,
            metadata={"label": names[name], "resampled": resampled},
        )
        for name in chosen
    }
