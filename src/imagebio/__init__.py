"""imagebio: validated quantitative imaging biomarkers from clinical images.

The spine: ``imagebio.io`` reads clinical files into :class:`imagebio.volume.Volume` objects and ROI masks,
biomarker rooms (``radiomics``, ``pet``, ``perfusion``, ``diffusion``, ``dosimetry``) turn them into values,
and ``imagebio.store`` keeps them as Measurement rows with provenance.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("imagebio")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

from imagebio.volume import Volume  # noqa: E402

__all__ = ["Volume", "__version__"]
