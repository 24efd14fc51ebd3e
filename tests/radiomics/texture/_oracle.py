"""Slow, obviously-correct loop implementations of the texture matrices, used only as test oracles on tiny arrays."""

from __future__ import annotations

import itertools

import numpy as np


def inside(shape, point) -> bool:
    return all(0 <= c < n for c, n in zip(point, shape))


def cooccurrence(levels, mask, n_levels, offset):
    """Symmetric GLCM counts for one offset by visiting every voxel pair."""
    counts = np.zeros((n_levels, n_levels))
    for p in itertools.product(*map(range, levels.shape)):
        q = tuple(a + b for a, b in zip(p, offset))
        if mask[p] and inside(levels.shape, q) and mask[q]:
            counts[levels[p] - 1, levels[q] - 1] += 1
            counts[levels[q] - 1, levels[p] - 1] += 1
    return counts


def runs(levels, mask, direction):
    """Sorted (level, length) of every run along ``direction`` by walking each line from its first voxel."""
    found = []
    for p in itertools.product(*map(range, levels.shape)):
        back = tuple(a - b for a, b in zip(p, direction))
        if not mask[p] or (inside(levels.shape, back) and mask[back] and levels[back] == levels[p]):
            continue  # not the first voxel of a run
        length, q = 0, p
        while inside(levels.shape, q) and mask[q] and levels[q] == levels[p]:
            length += 1
            q = tuple(a + b for a, b in zip(q, direction))
        found.append((int(levels[p]), length))
    return sorted(found)


def neighbourhood(shape, p, planar):
    for offset in itertools.product((-1, 0, 1), repeat=3):
        if offset == (0, 0, 0) or (planar and offset[0] != 0):
            continue
        q = tuple(a + b for a, b in zip(p, offset))
        if inside(shape, q):
            yield q


def ngtdm(levels, mask, n_levels, planar):
    s, n = np.zeros(n_levels), np.zeros(n_levels)
    for p in zip(*np.nonzero(mask)):
        values = [levels[q] for q in neighbourhood(levels.shape, p, planar) if mask[q]]
        if values:
            s[levels[p] - 1] += abs(levels[p] - np.mean(values))
            n[levels[p] - 1] += 1
    return s, n


def dependence(levels, mask, planar):
    out = np.zeros(levels.shape, dtype=int)
    for p in zip(*np.nonzero(mask)):
        out[p] = 1 + sum(mask[q] and levels[q] == levels[p] for q in neighbourhood(levels.shape, p, planar))
    return out


def random_roi(rng, shape=(4, 5, 6), n_levels=3, fill=0.75):
    levels = rng.integers(1, n_levels + 1, size=shape)
    mask = rng.random(shape) < fill
    return levels, mask
