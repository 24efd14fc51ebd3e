"""Every exception imagebio raises on bad input.

All inherit from :class:`ImagebioError`, which the CLI catches to print one line and exit non-zero.
Messages name the file, the DICOM tag or the parameter, what was found and what was expected.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "ImagebioError",
    "DicomReadError",
    "MissingDicomTagError",
    "InvalidDicomValueError",
    "UnsupportedDataError",
    "GeometryMismatchError",
    "EmptyMaskError",
    "RoiNotFoundError",
    "InvalidParameterError",
    "FitError",
    "StoreError",
    "SpecError",
]


def _where(path: str | PathLike | None) -> str:
    return f"{path}: " if path is not None else ""


class ImagebioError(Exception):
    """Base class of every error imagebio raises on bad input or unsupported data."""


class DicomReadError(ImagebioError):
    """A file could not be parsed as DICOM (truncated, not DICOM, or unreadable pixel data)."""

    def __init__(self, path: str | PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: cannot read as DICOM ({reason})")


class MissingDicomTagError(ImagebioError):
    """A DICOM attribute needed for a computation is absent or empty.

    Parameters
    ----------
    keyword : str
        DICOM keyword, e.g. ``"PatientWeight"``.
    tag : str, optional
        Tag as ``"(0010,1030)"``; looked up from the keyword when omitted.
    path : str, optional
        The file (or series) the attribute was expected in.
    needed_for : str, optional
        What the attribute is needed for, e.g. ``"SUVbw"``.
    """

    def __init__(
        self,
        keyword: str,
        tag: str | None = None,
        path: str | PathLike | None = None,
        needed_for: str | None = None,
        expected: str | None = None,
    ):
        if tag is None:
            tag = _tag_of(keyword)
        self.keyword = keyword
        self.tag = tag
        self.path = None if path is None else str(path)
        self.needed_for = needed_for
        purpose = f" (needed for {needed_for})" if needed_for else ""
        want = f"; expected {expected}" if expected else ""
        super().__init__(f"{_where(path)}missing DICOM attribute {keyword} {tag}{purpose}{want}")


class InvalidDicomValueError(ImagebioError):
    """A DICOM attribute is present but its value is not usable (zero weight, negative dose, ...)."""

    def __init__(
        self,
        keyword: str,
        value: object,
        expected: str,
        path: str | PathLike | None = None,
        tag: str | None = None,
    ):
        if tag is None:
            tag = _tag_of(keyword)
        self.keyword = keyword
        self.tag = tag
        self.value = value
        self.path = None if path is None else str(path)
        super().__init__(f"{_where(path)}DICOM attribute {keyword} {tag} is {value!r}; expected {expected}")


class UnsupportedDataError(ImagebioError):
    """The data are valid but of a kind imagebio does not handle (e.g. a SOP class, a unit, a layout)."""

    def __init__(self, what: str, path: str | PathLike | None = None):
        self.path = None if path is None else str(path)
        super().__init__(f"{_where(path)}{what}")


class GeometryMismatchError(ImagebioError):
    """Two volumes (image and mask, image and map) are not on the same voxel grid."""


class EmptyMaskError(ImagebioError):
    """A region of interest holds no voxel (after resampling or re-segmentation)."""

    def __init__(self, roi: str, source: str | PathLike | None = None, detail: str = ""):
        self.roi = roi
        extra = f" {detail}" if detail else ""
        super().__init__(f"{_where(source)}ROI {roi!r} is empty{extra}")


class RoiNotFoundError(ImagebioError):
    """A named ROI is not in the mask file."""

    def __init__(self, roi: str, available: list[str], source: str | PathLike | None = None):
        self.roi = roi
        self.available = list(available)
        super().__init__(f"{_where(source)}no ROI named {roi!r}; available: {', '.join(available) or 'none'}")


class InvalidParameterError(ImagebioError, ValueError):
    """A function or command parameter is out of its valid range or of the wrong kind."""

    def __init__(self, name: str, value: object, expected: str):
        self.name = name
        self.value = value
        super().__init__(f"parameter {name}={value!r} is invalid; expected {expected}")


class FitError(ImagebioError):
    """A model fit did not converge or the data cannot constrain the model."""


class StoreError(ImagebioError):
    """The study store cannot be opened, migrated or written."""


class SpecError(ImagebioError):
    """A settings or study specification file is invalid (unknown key, wrong type)."""


def _tag_of(keyword: str) -> str:
    try:
        from pydicom.datadict import tag_for_keyword

        tag = tag_for_keyword(keyword)
    except ImportError:  # pragma: no cover - pydicom is a core dependency
        tag = None
    if tag is None:
        return ""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
