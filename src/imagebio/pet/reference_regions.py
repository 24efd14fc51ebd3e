"""Reference regions for PET response and neuro PET: PERCIST liver and blood pool, SUVR.

* Liver (PERCIST 1.0, Wahl 2009): a 3 cm diameter sphere in the normal right lobe. Placed at a user-given centre,
  or from a liver mask at the deepest point (largest distance to the mask border, Euclidean in mm) of the right half
  of the liver (patient right = −x in DICOM LPS; "right half" = voxels with x at or below the liver's median x),
  so that the whole sphere lies in the liver.
* Blood pool (PERCIST 1.0): a 1 cm diameter, 2 cm long cylinder along the patient's cranio-caudal (z) axis in the
  descending thoracic aorta, at a user-given centre, or the voxels of a user's blood-pool (mediastinum) mask. The
  Deauville 5-point scale (Barrington 2014) compares lesion uptake with these mediastinal blood-pool and liver
  statistics.
* PERCIST threshold for measurable disease: ``1.5 × liver mean + 2 × liver SD`` (SUL); if the liver is abnormal,
  ``2.0 × blood-pool mean + 2 × blood-pool SD``.
* SUVR (neuro PET): mean uptake in a target region over the mean in a reference region (e.g. cerebellar grey matter).

Regions hold the voxels whose centre lies inside the shape (distances in patient space, so any orthonormal
orientation works). SD is the population SD (ddof 0).

References
----------
Wahl RL, Jacene H, Kasamon Y, Lodge MA. From RECIST to PERCIST. J Nucl Med 2009;50 Suppl 1:122S-150S.
Barrington SF et al. Role of imaging in the staging and response assessment of lymphoma: consensus of the
International Conference on Malignant Lymphomas Imaging Working Group. J Clin Oncol 2014;32:3048-3058.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError
from imagebio.volume import Volume

__all__ = [
    "ReferenceStats",
    "blood_pool_reference",
    "cylinder_mask",
    "liver_reference",
    "percist_threshold",
    "region_statistics",
    "sphere_mask",
    "suvr",
    "suvr_image",
]

PERCIST_LIVER_DIAMETER_MM = 30.0
PERCIST_BLOOD_POOL_DIAMETER_MM = 10.0
PERCIST_BLOOD_POOL_LENGTH_MM = 20.0


@dataclasses.dataclass(frozen=True)
class ReferenceStats:
    """Uptake statistics of a reference region (image unit, normally SUL for PERCIST).

    Attributes
    ----------
    region : str
        ``"liver"``, ``"blood_pool"`` or a user name.
    mean, sd, median, max : float
        Of the region's voxels (SD with ddof 0).
    n_voxels : int
    volume_ml : float
    centre_mm : tuple of float or None
        Patient position (x, y, z) in mm of the region's centre, when known.
    """

    region: str
    mean: float
    sd: float
    median: float
    max: float
    n_voxels: int
    volume_ml: float
    centre_mm: tuple[float, float, float] | None = None


def _as_volume(image: Volume) -> Volume:
    if not isinstance(image, Volume):
        raise InvalidParameterError("image", type(image).__name__, "an imagebio.volume.Volume (needs patient geometry)")
    return image


def region_statistics(image: np.ndarray, mask: np.ndarray, spacing: Sequence[float], region: str = "region",
                      centre_mm: tuple[float, float, float] | None = None) -> ReferenceStats:
    """Mean, SD, median, max, voxel count and volume (mL) of ``image`` inside ``mask``."""
    image = np.asarray(image, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if image.shape != mask.shape:
        raise GeometryMismatchError(f"image shape {image.shape} and {region} mask shape {mask.shape} differ")
    if not mask.any():
        raise EmptyMaskError(region)
    values = image[mask]
    return ReferenceStats(
        region=region,
        mean=float(values.mean()),
        sd=float(values.std()),
        median=float(np.median(values)),
        max=float(values.max()),
        n_voxels=int(values.size),
        volume_ml=float(values.size * np.prod(spacing) / 1000.0),
        centre_mm=None if centre_mm is None else tuple(float(c) for c in centre_mm),  # type: ignore[arg-type]
    )


def _offsets_in_box(volume: Volume, centre_xyz: np.ndarray, reach_mm: float) -> tuple[tuple[slice, ...], np.ndarray]:
    """Index box around ``centre_xyz`` covering ``reach_mm`` in every direction, and its voxels' LPS offsets (mm)."""
    centre_index = volume.physical_to_index(centre_xyz)
    box = []
    for c, s, n in zip(centre_index, volume.spacing, volume.shape, strict=True):
        # reach in index units along an axis is at most reach_mm / spacing whatever the orientation
        lo = max(0, int(np.floor(c - reach_mm / s)) - 1)
        hi = min(n, int(np.ceil(c + reach_mm / s)) + 2)
        box.append(slice(lo, max(lo, hi)))
    grids = np.meshgrid(*[np.arange(b.start, b.stop) for b in box], indexing="ij")
    index = np.stack(grids, axis=-1)
    return tuple(box), volume.index_to_physical(index) - centre_xyz


def sphere_mask(volume: Volume, centre_mm: Sequence[float], diameter_mm: float) -> np.ndarray:
    """Voxels of ``volume``'s grid whose centre is within ``diameter_mm / 2`` of ``centre_mm`` (LPS x, y, z mm)."""
    if not diameter_mm > 0:
        raise InvalidParameterError("diameter_mm", diameter_mm, "a positive diameter in mm")
    volume = _as_volume(volume)
    centre = np.asarray(centre_mm, dtype=float)
    radius = diameter_mm / 2.0
    box, offsets = _offsets_in_box(volume, centre, radius)
    mask = np.zeros(volume.shape, dtype=bool)
    mask[box] = (offsets**2).sum(axis=-1) <= radius * radius
    return mask


def cylinder_mask(volume: Volume, centre_mm: Sequence[float], diameter_mm: float, length_mm: float) -> np.ndarray:
    """Voxels within a cylinder along the patient z axis (cranio-caudal), centred on ``centre_mm`` (LPS, mm)."""
    if not diameter_mm > 0 or not length_mm > 0:
        raise InvalidParameterError("diameter_mm/length_mm", (diameter_mm, length_mm), "positive sizes in mm")
    volume = _as_volume(volume)
    centre = np.asarray(centre_mm, dtype=float)
    radius = diameter_mm / 2.0
    box, offsets = _offsets_in_box(volume, centre, max(radius, length_mm / 2.0))
    radial = offsets[..., 0] ** 2 + offsets[..., 1] ** 2 <= radius * radius
    axial = np.abs(offsets[..., 2]) <= length_mm / 2.0
    mask = np.zeros(volume.shape, dtype=bool)
    mask[box] = radial & axial
    return mask


def _check_region(volume: Volume, mask: np.ndarray | Volume, name: str) -> np.ndarray:
    if isinstance(mask, Volume):
        from imagebio.volume import check_same_grid

        check_same_grid(volume, mask, f"{name} mask")
        mask = mask.array
    mask = np.asarray(mask).astype(bool)
    if mask.shape != volume.shape:
        raise GeometryMismatchError(f"{name} mask shape {mask.shape} differs from the image shape {volume.shape}")
    if not mask.any():
        raise EmptyMaskError(name)
    return mask


def _deepest_right_lobe_point(volume: Volume, liver: np.ndarray, radius_mm: float) -> np.ndarray:
    from scipy.ndimage import distance_transform_edt

    # pad so that the image border counts as outside the liver
    depth = distance_transform_edt(np.pad(liver, 1), sampling=volume.spacing)[1:-1, 1:-1, 1:-1]
    index = np.argwhere(liver)
    x = volume.index_to_physical(index)[:, 0]
    right_half = x <= np.median(x)
    liver_depth = depth[liver]
    fits = liver_depth >= radius_mm
    candidates = fits & right_half
    if not candidates.any():
        candidates = fits
    if not candidates.any():
        raise EmptyMaskError(
            "liver", detail=f"has no point deeper than {radius_mm:g} mm (deepest {liver_depth.max():.1f} mm): no room "
            "for the reference sphere; give centre_mm or a smaller diameter_mm")
    # deepest candidate; among equally deep ones the most right (smallest x)
    order = np.lexsort((x[candidates], -liver_depth[candidates]))
    return volume.index_to_physical(index[candidates][order[0]])


def liver_reference(
    image: Volume,
    *,
    liver_mask: np.ndarray | Volume | None = None,
    centre_mm: Sequence[float] | None = None,
    diameter_mm: float = PERCIST_LIVER_DIAMETER_MM,
) -> ReferenceStats:
    """PERCIST liver reference: statistics in a 3 cm sphere in the right liver lobe.

    Parameters
    ----------
    image : Volume
        SUL (PERCIST) or SUV image.
    liver_mask : array or Volume, optional
        Whole-liver mask on the image grid; the sphere goes to the deepest point of its right half (module
        docstring) and is kept inside the mask.
    centre_mm : sequence of float, optional
        Sphere centre (LPS x, y, z) in mm; used instead of the mask placement (if both are given, the sphere is
        intersected with the mask).
    diameter_mm : float
        Sphere diameter (PERCIST: 30 mm).

    Returns
    -------
    ReferenceStats

    Raises
    ------
    InvalidParameterError
        Neither a mask nor a centre given.
    EmptyMaskError
        The liver mask is empty or has no room for the sphere.
    """
    volume = _as_volume(image)
    if liver_mask is None and centre_mm is None:
        raise InvalidParameterError("liver_mask/centre_mm", None, "a liver mask or a sphere centre in mm")
    liver = None if liver_mask is None else _check_region(volume, liver_mask, "liver")
    if centre_mm is None:
        centre = _deepest_right_lobe_point(volume, liver, diameter_mm / 2.0)
    else:
        centre = np.asarray(centre_mm, dtype=float)
    region = sphere_mask(volume, centre, diameter_mm)
    if liver is not None:
        region &= liver
    return region_statistics(volume.array, region, volume.spacing, "liver", tuple(centre))


def blood_pool_reference(
    image: Volume,
    *,
    mask: np.ndarray | Volume | None = None,
    centre_mm: Sequence[float] | None = None,
    diameter_mm: float = PERCIST_BLOOD_POOL_DIAMETER_MM,
    length_mm: float = PERCIST_BLOOD_POOL_LENGTH_MM,
) -> ReferenceStats:
    """Blood-pool (mediastinum / descending aorta) reference statistics for PERCIST and Deauville.

    Parameters
    ----------
    image : Volume
    mask : array or Volume, optional
        A blood-pool region drawn by the user: its voxels are used as they are.
    centre_mm : sequence of float, optional
        Centre (LPS x, y, z, mm) of the PERCIST cylinder (1 cm diameter, 2 cm long along z) in the descending
        thoracic aorta; intersected with ``mask`` when both are given.
    diameter_mm, length_mm : float
        Cylinder size (PERCIST: 10 and 20 mm).
    """
    volume = _as_volume(image)
    if mask is None and centre_mm is None:
        raise InvalidParameterError("mask/centre_mm", None, "a blood-pool mask or a cylinder centre in mm")
    region = None if mask is None else _check_region(volume, mask, "blood pool")
    centre = None
    if centre_mm is not None:
        centre = tuple(float(c) for c in centre_mm)
        cylinder = cylinder_mask(volume, centre, diameter_mm, length_mm)
        region = cylinder if region is None else region & cylinder
    return region_statistics(volume.array, region, volume.spacing, "blood_pool", centre)


def percist_threshold(liver: ReferenceStats | None = None, blood_pool: ReferenceStats | None = None) -> float:
    """PERCIST 1.0 threshold of measurable disease (image unit, SUL).

    ``1.5 × liver mean + 2 × liver SD``; when no liver statistics are given (abnormal liver),
    ``2.0 × blood-pool mean + 2 × blood-pool SD`` (Wahl 2009, PERCIST 1.0).
    """
    if liver is not None:
        return 1.5 * liver.mean + 2.0 * liver.sd
    if blood_pool is not None:
        return 2.0 * blood_pool.mean + 2.0 * blood_pool.sd
    raise InvalidParameterError("liver/blood_pool", None, "liver or blood-pool reference statistics")


def suvr(image: np.ndarray, target_mask: np.ndarray, reference_mask: np.ndarray) -> float:
    """Standardised uptake value ratio: mean in ``target_mask`` / mean in ``reference_mask`` (dimensionless).

    Raises
    ------
    EmptyMaskError
        A mask is empty.
    InvalidParameterError
        The reference mean is not positive.
    """
    image = np.asarray(image, dtype=np.float64)
    target = region_statistics(image, target_mask, (1.0, 1.0, 1.0), "target")
    reference = region_statistics(image, reference_mask, (1.0, 1.0, 1.0), "reference")
    if not reference.mean > 0:
        raise InvalidParameterError("reference_mask", f"mean uptake {reference.mean}", "a positive reference mean")
    return target.mean / reference.mean


def suvr_image(image: np.ndarray, reference_mask: np.ndarray) -> np.ndarray:
    """Voxel-wise SUVR: ``image`` divided by its mean in ``reference_mask`` (float64 array)."""
    image = np.asarray(image, dtype=np.float64)
    reference = region_statistics(image, reference_mask, (1.0, 1.0, 1.0), "reference")
    if not reference.mean > 0:
        raise InvalidParameterError("reference_mask", f"mean uptake {reference.mean}", "a positive reference mean")
    return image / reference.mean
