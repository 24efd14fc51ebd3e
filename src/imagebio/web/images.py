"""Server-rendered image tiles: one axial slice as PNG, windowed, fused, with overlays and lesion contours.

Volumes are read through the store's ``Series.path`` with :mod:`imagebio.io` and kept in a per-process LRU cache.
Window/level presets follow common radiology practice (CT lung W1500/L-600, soft tissue W400/L40, bone
W1800/L400; PET SUV 0–10). The PNG encoder is the minimal one of the PNG specification (ISO/IEC 15948:
8-bit RGB, one IDAT chunk, filter type 0), so no imaging library is needed per request.
"""

from __future__ import annotations

import dataclasses
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import numpy as np

from imagebio.errors import InvalidParameterError, UnsupportedDataError
from imagebio.volume import Volume

__all__ = [
    "MAP_KINDS",
    "WINDOW_PRESETS",
    "LruCache",
    "SeriesImages",
    "colour_bar_png",
    "contour_of",
    "encode_png",
    "render_tile",
    "window_to_uint8",
]

#: name → (low, high) display range in the image's unit.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600 - 750, -600 + 750),
    "soft_tissue": (40 - 200, 40 + 200),
    "bone": (400 - 900, 400 + 900),
    "suv": (0.0, 10.0),
    "auto": (float("nan"), float("nan")),
}
#: Parametric map overlays computed from a visit's series: name → (unit, display range, colormap).
MAP_KINDS: dict[str, tuple[str, tuple[float, float], str]] = {
    "suv": ("SUVbw", (0.0, 10.0), "hot"),
    "adc": ("mm2/s", (0.0, 3.0e-3), "viridis"),
}
LESION_COLOURS = np.array(
    [[255, 64, 64], [64, 200, 255], [255, 200, 0], [120, 255, 120], [255, 120, 255], [255, 160, 64]], np.uint8
)


class LruCache:
    """A small thread-safe LRU cache; concurrent misses on one key load it once."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = load()
            with self._lock:
                self._items[key] = value
                self._items.move_to_end(key)
                while len(self._items) > self.maxsize:
                    self._items.popitem(last=False)
                self._key_locks.pop(key, None)
            return value

    def __len__(self) -> int:
        return len(self._items)


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (h, w, 3) uint8 RGB image (or (h, w) greyscale)."""
    image = np.ascontiguousarray(rgb, dtype=np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    height, width = image.shape[:2]
    raw = np.empty((height, 1 + width * 3), np.uint8)
    raw[:, 0] = 0  # filter type None for every scanline
    raw[:, 1:] = image.reshape(height, width * 3)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(
        b"IEND", b""
    )


_LUTS: dict[str, np.ndarray] = {}


def colormap_lut(name: str) -> np.ndarray:
    """A (256, 3) uint8 lookup table of a matplotlib colormap (computed once)."""
    if name not in _LUTS:
        from matplotlib import colormaps

        _LUTS[name] = (np.asarray(colormaps[name](np.linspace(0, 1, 256)))[:, :3] * 255).round().astype(np.uint8)
    return _LUTS[name]


def window_to_uint8(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map ``[low, high]`` linearly to 0–255 (clipped); NaN → 0."""
    scaled = (np.nan_to_num(np.asarray(values, float), nan=low) - low) / max(high - low, 1e-12)
    return (np.clip(scaled, 0.0, 1.0) * 255).round().astype(np.uint8)


def display_range(volume: Volume, preset: str) -> tuple[float, float]:
    """The (low, high) display range of a preset; ``auto`` uses the 1st–99th percentile of the volume."""
    if preset not in WINDOW_PRESETS:
        raise InvalidParameterError("window", preset, f"one of {', '.join(WINDOW_PRESETS)}")
    low, high = WINDOW_PRESETS[preset]
    if preset == "auto":
        finite = np.asarray(volume.array, float)
        finite = finite[np.isfinite(finite)]
        if finite.size == 0:
            return 0.0, 1.0
        low, high = (float(v) for v in np.percentile(finite, [1, 99]))
        if high <= low:
            high = low + 1.0
    return low, high


def contour_of(mask_slice: np.ndarray) -> np.ndarray:
    """The boundary pixels of a 2-D boolean mask (inside pixels with an outside 4-neighbour)."""
    inside = np.asarray(mask_slice, bool)
    padded = np.pad(inside, 1, constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return inside & ~interior


def colour_bar_png(colormap: str, height: int = 256, width: int = 24) -> bytes:
    """A vertical colour bar (high values at the top) of a colormap, as PNG."""
    lut = colormap_lut(colormap)
    rows = np.linspace(255, 0, height).round().astype(int)
    return encode_png(np.repeat(lut[rows][:, None, :], width, axis=1))


@dataclasses.dataclass
class Layer:
    """A volume shown over the base image: values, display range, colormap and opacity."""

    volume: Volume
    low: float
    high: float
    colormap: str
    alpha: float = 0.5


def render_tile(base: Volume, z: int, preset: str, layer: Layer | None = None,
                masks: dict[str, Volume] | None = None, lesion_order: list[str] | None = None) -> bytes:
    """PNG of axial slice ``z`` of ``base`` with an optional colour layer (on base's grid) and lesion contours."""
    n_z = base.array.shape[0]
    if not 0 <= z < n_z:
        raise InvalidParameterError("z", z, f"a slice index in [0, {n_z - 1}]")
    low, high = display_range(base, preset)
    grey = window_to_uint8(base.array[z], low, high)
    rgb = np.repeat(grey[..., None], 3, axis=2).astype(np.float32)
    if layer is not None:
        values = np.asarray(layer.volume.array[z], float)
        shown = np.isfinite(values) & (values > layer.low)
        colour = colormap_lut(layer.colormap)[window_to_uint8(values, layer.low, layer.high)].astype(np.float32)
        rgb[shown] = (1 - layer.alpha) * rgb[shown] + layer.alpha * colour[shown]
    out = rgb.round().clip(0, 255).astype(np.uint8)
    if masks:
        names = lesion_order or sorted(masks)
        for index, name in enumerate(names):
            mask = masks.get(name)
            if mask is None:
                continue
            edge = contour_of(np.asarray(mask.array[z], bool))
            out[edge] = LESION_COLOURS[index % len(LESION_COLOURS)]
    return encode_png(out)


class SeriesImages:
    """Reads stored series as Volumes (cached) and derives what the viewer shows from them.

    ``max_volumes`` bounds the cache (each demo volume is a few MB; clinical CTs are ~100 MB).
    """

    def __init__(self, max_volumes: int = 24):
        self.cache = LruCache(max_volumes)

    # -- reading ---------------------------------------------------------------------------------------
    def volume(self, series_id: int, path: str, uid: str, modality: str | None) -> Volume:
        """The display volume of an image series: CT in HU, PET in SUVbw (or Bq/mL), MR its first frame."""
        return self.cache.get(("volume", series_id), lambda: self._read(path, uid, modality))

    def _read(self, path: str, uid: str, modality: str | None) -> Volume:
        from imagebio.io.dicom import find_series, read_dicom_series, read_dynamic_series

        if not path or not Path(path).exists():
            raise UnsupportedDataError(f"series {uid}: its folder is not available on this server")
        series = find_series(Path(path), uid)
        if (modality or "").upper() == "PT":
            from imagebio.errors import ImagebioError
            from imagebio.io.pet import read_pet

            try:
                return read_pet(series, quantity="suvbw")
            except ImagebioError:
                return read_pet(series, quantity="bqml")
        try:
            return read_dicom_series(series)
        except UnsupportedDataError:
            return read_dynamic_series(series)[0]

    def frames(self, series_id: int, path: str, uid: str) -> list[Volume]:
        from imagebio.io.dicom import find_series, read_dynamic_series

        return self.cache.get(("frames", series_id), lambda: read_dynamic_series(find_series(Path(path), uid)))

    def on_grid(self, key: Hashable, volume: Volume, reference: Volume) -> Volume:
        """``volume`` resampled (linear) onto ``reference``'s grid, cached under ``key``."""
        from imagebio.errors import GeometryMismatchError
        from imagebio.volume import check_same_grid, resample_to

        def load() -> Volume:
            try:
                check_same_grid(reference, volume, what="overlay")
                return volume
            except GeometryMismatchError:
                as_float = volume.with_array(np.asarray(volume.array, np.float32))
                return resample_to(as_float, reference, interpolator="linear", default_value=float("nan"))

        return self.cache.get(("grid",) + tuple(key if isinstance(key, tuple) else (key,)), load)

    def masks(self, seg_series_id: int, seg_path: str, seg_uid: str, reference_id: int,
              reference: Volume) -> dict[str, Volume]:
        """Lesion masks of a SEG/RTSTRUCT series on the reference image grid (nearest-neighbour resampled)."""
        from imagebio.io.dicom import find_series
        from imagebio.io.masks import read_roi_masks

        def load() -> dict[str, Volume]:
            files = find_series(Path(seg_path), seg_uid, image_only=False).files
            try:
                return read_roi_masks(files[0], reference, resample=True)
            except Exception:
                from imagebio.io.masks import mask_kind
                from imagebio.io.seg import read_seg

                if mask_kind(files[0]) == "SEG":
                    return read_seg(files[0], reference)
                raise

        return self.cache.get(("masks", seg_series_id, reference_id), load)

    def adc_map(self, series_id: int, path: str, uid: str) -> Volume:
        """Mono-exponential ADC map (mm²/s) of a DWI series (Le Bihan D et al., Radiology 1986;161:401-407)."""
        from imagebio.diffusion.adc import fit_adc

        def load() -> Volume:
            frames = self.frames(series_id, path, uid)
            b = np.array([f.metadata.get("b_value_s_per_mm2") for f in frames], dtype=float)
            if len(frames) < 2 or not np.all(np.isfinite(b)):
                raise UnsupportedDataError(f"series {uid}: not a DWI series with b-values")
            signals = np.stack([np.asarray(f.array, float) for f in frames], axis=-1)
            adc = fit_adc(signals, b)["adc_mm2_per_s"]
            return frames[0].with_array(np.asarray(adc, np.float32), unit="mm2/s", modality="MR")

        return self.cache.get(("adc", series_id), load)
