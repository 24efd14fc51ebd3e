"""Reading and writing clinical images and masks (DICOM, PET/NM, SEG, RTSTRUCT, NIfTI, NRRD).

:func:`read_volume` is the one entry point for an image given as a path: a DICOM folder or file goes through
:mod:`imagebio.io.dicom` (or :mod:`imagebio.io.pet` for SUV), anything else through SimpleITK
(:mod:`imagebio.io.nifti`).
"""

from __future__ import annotations

from pathlib import Path

from imagebio.errors import InvalidParameterError
from imagebio.volume import Volume

__all__ = ["read_volume", "is_dicom_path"]

_IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")

#: ``--as`` choices of ``imagebio roi-stats``: the PET quantities of :func:`imagebio.io.pet.read_pet` and HU.
QUANTITIES = ("native", "hu", "bqml", "suvbw", "suvlbm", "sul", "suvbsa", "suvibw")


def is_dicom_path(path: str | Path) -> bool:
    """True for a folder, or a file that is not a NIfTI/NRRD/MetaImage file by its suffix."""
    path = Path(path)
    return path.is_dir() or not path.name.lower().endswith(_IMAGE_SUFFIXES)


def read_volume(path: str | Path, quantity: str = "native", series_uid: str | None = None) -> Volume:
    """Read an image from a DICOM folder/file or a NIfTI/NRRD/MHA file.

    Parameters
    ----------
    path : str or Path
        DICOM series folder (or one file), or an image file readable by SimpleITK.
    quantity : str
        ``"native"`` keeps the stored unit; ``"hu"`` requires a CT in HU; PET quantities (``"bqml"``,
        ``"suvbw"``, ``"suvlbm"``, ``"sul"``, ``"suvbsa"``, ``"suvibw"``) convert a DICOM PET series with the
        factors of :func:`imagebio.io.pet.suv_scale_factors`.
    series_uid : str, optional
        Picks one series in a folder holding several.
    """
    path = Path(path)
    if quantity not in QUANTITIES:
        raise InvalidParameterError("quantity", quantity, f"one of {', '.join(QUANTITIES)}")
    if not path.exists():
        raise InvalidParameterError("path", str(path), "an existing DICOM folder or image file")
    if quantity not in ("native", "hu"):
        if not is_dicom_path(path):
            raise InvalidParameterError(
                "quantity", quantity, "'native' for a NIfTI/NRRD image (PET quantities need the DICOM headers)"
            )
        from imagebio.io.pet import read_pet

        return read_pet(path, quantity=quantity, series_uid=series_uid)
    if is_dicom_path(path):
        from imagebio.io.dicom import read_dicom_series

        volume = read_dicom_series(path, series_uid=series_uid)
    else:
        from imagebio.io.nifti import read_image

        volume = read_image(path)
    if quantity == "hu" and not is_dicom_path(path) and not volume.unit:
        volume = volume.replace(unit="HU")  # a NIfTI/NRRD file carries no unit: the caller states it
    if quantity == "hu" and volume.unit != "HU":
        raise InvalidParameterError(
            "quantity", "hu", f"a CT image in HU; {path} is {volume.modality or 'an image'} in {volume.unit or 'unknown units'}"
        )
    return volume
