"""Read and write research image formats (NIfTI, NRRD, MetaImage) as :class:`~imagebio.volume.Volume`.

SimpleITK does the file work. Geometry is converted to imagebio's convention on the way in: NIfTI stores
positions in RAS, SimpleITK (ITK) converts them to LPS when reading and back when writing, so a Volume read from
a NIfTI file has the same ``origin``/``direction`` as the DICOM series it was made from.

Precision: NIfTI keeps spacing, origin and direction cosines as 32-bit floats, so a NIfTI round trip is exact for
the voxel array and exact to float32 (about 1e-5 mm for origins of a few hundred mm) for geometry; NRRD and
MetaImage keep geometry as decimal text and round-trip it to double precision.

References
----------
Cox RW et al. *A (sort of) new image data format standard: NIfTI-1*. 10th Annual Meeting of the OHBM, 2004.
NRRD format specification, http://teem.sourceforge.net/nrrd/format.html.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np

from imagebio.errors import InvalidParameterError, UnsupportedDataError
from imagebio.volume import Volume

__all__ = ["IMAGE_SUFFIXES", "is_image_file", "read_image", "write_image"]

#: File name endings read and written by this module.
IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


def is_image_file(path: str | PathLike) -> bool:
    """True when ``path`` ends with one of :data:`IMAGE_SUFFIXES` (case-insensitive)."""
    name = Path(path).name.lower()
    return any(name.endswith(suffix) for suffix in IMAGE_SUFFIXES)


def read_sitk_image(path: str | PathLike):
    """Read ``path`` with SimpleITK, raising imagebio errors for a missing or unreadable file."""
    import SimpleITK as sitk

    path = Path(path)
    if not path.is_file():
        raise InvalidParameterError("path", str(path), "an existing NIfTI/NRRD/MetaImage file")
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as exc:  # SimpleITK reports every reader failure as RuntimeError
        first_line = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        raise UnsupportedDataError(f"cannot read as an image file ({first_line})", path) from exc


def read_image(path: str | PathLike, modality: str = "", unit: str = "") -> Volume:
    """Read a 3D NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``, ``.nhdr``) or MetaImage (``.mha``, ``.mhd``) image.

    Parameters
    ----------
    path : str or path-like
        The image file.
    modality : str, optional
        DICOM modality to record in the Volume (these formats do not store it), e.g. ``"CT"``.
    unit : str, optional
        Unit of the voxel values (see :mod:`imagebio.units`), e.g. ``"HU"``; these formats do not store it.

    Returns
    -------
    Volume
        The voxel array in the file's data type (after NIfTI ``scl_slope``/``scl_inter`` scaling, which SimpleITK
        applies), indexed (z, y, x), with spacing in mm and origin/direction in LPS.
        ``identifiers["path"]`` is the file.

    Raises
    ------
    UnsupportedDataError
        The file is not a readable image, is 4D, or has vector voxels.
    """
    if str(path).lower().endswith((".nii", ".nii.gz")):
        header = _read_header(path)
        pixel_type = _pixel_type(header)
        if header.GetDimension() == 3 and header.GetNumberOfComponents() == 1 and "float" in pixel_type:
            # Float voxels through nibabel only (NaN kept; one read of the voxel data), geometry from ITK's header.
            shape_zyx = tuple(header.GetSize()[::-1])
            dtype = np.float64 if "64" in pixel_type else np.float32
            return Volume(
                array=_nifti_float_voxels(path, shape_zyx, dtype),
                spacing=tuple(header.GetSpacing()[::-1]),
                origin=header.GetOrigin(),
                direction=np.array(header.GetDirection()).reshape(3, 3),
                modality=modality,
                unit=unit,
                identifiers={"path": str(path)},
            )
    image = read_sitk_image(path)
    if image.GetDimension() not in (2, 3):
        raise UnsupportedDataError(
            f"image has {image.GetDimension()} dimensions (size {image.GetSize()}); expected a 3D image", path
        )
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise UnsupportedDataError(
            f"image has {image.GetNumberOfComponentsPerPixel()} components per voxel; expected a scalar image", path
        )
    volume = Volume.from_sitk(image, modality=modality, unit=unit, identifiers={"path": str(path)})
    if str(path).lower().endswith((".nii", ".nii.gz")) and np.issubdtype(volume.array.dtype, np.floating):
        volume = volume.with_array(_nifti_float_voxels(path, volume.shape, volume.array.dtype))
    return volume


def _read_header(path: str | PathLike):
    """SimpleITK image information (size, spacing, origin, direction, pixel type) without reading the voxels."""
    import SimpleITK as sitk

    path = Path(path)
    if not path.is_file():
        raise InvalidParameterError("path", str(path), "an existing NIfTI/NRRD/MetaImage file")
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        first_line = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        raise UnsupportedDataError(f"cannot read as an image file ({first_line})", path) from exc
    return reader


def _pixel_type(reader) -> str:
    import SimpleITK as sitk

    return sitk.GetPixelIDValueAsString(reader.GetPixelID())


def _nifti_float_voxels(path: str | PathLike, shape_zyx: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Floating-point NIfTI voxels with NaN kept (SimpleITK's NIfTI reader turns NaN into 0).

    NaN marks voxels without a value in parameter maps (failed fits, outside the mask), so it must survive a
    write/read round trip. nibabel's array is indexed (x, y, z) like ITK's image index, hence the transpose.
    """
    import nibabel as nib

    data = np.asarray(nib.load(str(path)).dataobj).astype(dtype, copy=False)  # scl_slope/inter applied
    if data.ndim == 2:
        data = data[:, :, np.newaxis]
    array = np.ascontiguousarray(data.transpose(2, 1, 0))
    if array.shape != tuple(shape_zyx):
        raise UnsupportedDataError(f"nibabel and SimpleITK disagree on the shape ({array.shape} vs {shape_zyx})", path)
    return array


def write_image(volume: Volume, path: str | PathLike, compress: bool | None = None) -> Path:
    """Write ``volume`` to a NIfTI, NRRD or MetaImage file (format from the file name).

    Parameters
    ----------
    volume : Volume
        The image; a boolean array is written as uint8 (0/1).
    path : str or path-like
        Destination ending in one of :data:`IMAGE_SUFFIXES`.
    compress : bool, optional
        Compress the voxel data; default: only for ``.nii.gz`` (always gzip) and ``.nrrd``/``.mha``.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import SimpleITK as sitk

    path = Path(path)
    if not is_image_file(path):
        raise InvalidParameterError("path", str(path), f"a file name ending in one of {IMAGE_SUFFIXES}")
    array = volume.array
    if array.dtype == bool:
        volume = volume.with_array(array.astype(np.uint8))
    if compress is None:
        compress = not path.name.lower().endswith((".nii", ".nhdr", ".mhd"))
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(volume.to_sitk(), str(path), useCompression=bool(compress))
    return path
