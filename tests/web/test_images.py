"""Tile rendering: the PNG encoder, window presets, contours, fusion and the LRU cache."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from matplotlib.image import imread

from imagebio.errors import InvalidParameterError
from imagebio.volume import Volume
from imagebio.web.images import (
    WINDOW_PRESETS,
    Layer,
    LruCache,
    colour_bar_png,
    contour_of,
    display_range,
    encode_png,
    render_tile,
    window_to_uint8,
)


def _volume(array, unit="HU"):
    return Volume(np.asarray(array, float), spacing=(2.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), modality="CT", unit=unit)


def test_png_round_trip_through_an_independent_decoder():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(7, 11, 3), dtype=np.uint8)
    decoded = imread(io.BytesIO(encode_png(rgb)))
    assert decoded.shape == (7, 11, 3)
    assert np.array_equal((decoded * 255).round().astype(np.uint8), rgb)
    grey = imread(io.BytesIO(encode_png(rgb[..., 0])))
    assert np.array_equal((grey[..., 1] * 255).round().astype(np.uint8), rgb[..., 0])


def test_window_presets_are_the_usual_width_and_level():
    # (low, high) = level -/+ width/2
    assert WINDOW_PRESETS["lung"] == (-1350, 150)
    assert WINDOW_PRESETS["soft_tissue"] == (-160, 240)
    assert WINDOW_PRESETS["bone"] == (-500, 1300)
    assert WINDOW_PRESETS["suv"] == (0.0, 10.0)
    assert window_to_uint8(np.array([-1000.0, -160, 40, 240, 3000, np.nan]), -160, 240).tolist() == [
        0, 0, 128, 255, 255, 0]
    with pytest.raises(InvalidParameterError, match="window"):
        display_range(_volume(np.zeros((1, 2, 2))), "brain")
    low, high = display_range(_volume(np.arange(100.0).reshape(1, 10, 10)), "auto")
    assert low == pytest.approx(0.99) and high == pytest.approx(98.01)


def test_contour_is_the_boundary_of_the_mask():
    mask = np.zeros((7, 7), bool)
    mask[1:6, 1:6] = True
    edge = contour_of(mask)
    assert edge.sum() == 16 and not edge[2:5, 2:5].any() and edge[1, 1:6].all()


def test_render_tile_fuses_a_layer_and_draws_contours():
    base = _volume(np.full((3, 8, 8), 40.0))
    hot = base.with_array(np.where(np.arange(64).reshape(8, 8) < 32, 8.0, 0.0)[None].repeat(3, 0), unit="SUVbw")
    mask = base.with_array(np.zeros((3, 8, 8), bool))
    m = np.zeros((3, 8, 8), bool)
    m[1, 5:8, 5:8] = True
    mask = mask.with_array(m)
    plain = imread(io.BytesIO(render_tile(base, 1, "soft_tissue")))
    assert np.allclose(plain, plain[0, 0]) and plain[0, 0, 0] == pytest.approx(128 / 255)
    fused = imread(io.BytesIO(render_tile(base, 1, "soft_tissue", Layer(hot, 0, 10, "hot", 0.5), {"l": mask})))
    assert not np.allclose(fused[0, 0], plain[0, 0]) and np.allclose(fused[7, 0], plain[7, 0])  # only where SUV>0
    assert np.allclose(fused[5, 5], [1.0, 64 / 255, 64 / 255])  # the first lesion colour on the boundary
    with pytest.raises(InvalidParameterError, match="z"):
        render_tile(base, 3, "soft_tissue")
    bar = imread(io.BytesIO(colour_bar_png("viridis", height=10, width=2)))
    assert bar.shape == (10, 2, 3) and not np.allclose(bar[0], bar[-1])


def test_lru_cache_loads_each_key_once_and_evicts_the_oldest():
    cache = LruCache(2)
    calls = []

    def loader(key):
        def load():
            calls.append(key)
            return key * 2
        return load

    threads = [threading.Thread(target=cache.get, args=("a", loader("a"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["a"]
    cache.get("b", loader("b"))
    cache.get("a", loader("a"))  # touch a: b becomes the oldest
    cache.get("c", loader("c"))
    assert len(cache) == 2
    cache.get("b", loader("b"))
    assert calls == ["a", "b", "c", "b"]
