"""Broadcasting helper shared by the forward models."""

from __future__ import annotations

import numpy as np

from imagebio.errors import InvalidParameterError


def broadcast_params(**params: np.ndarray | float) -> tuple[tuple[int, ...], dict[str, np.ndarray]]:
    """Broadcast named parameters to one shape and flatten them to 1-D; return (shape, flat dict)."""
    arrays = {name: np.asarray(value, dtype=float) for name, value in params.items()}
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError as exc:
        shapes = {name: a.shape for name, a in arrays.items()}
        raise InvalidParameterError("parameters", shapes, "shapes that broadcast together") from exc
    flat = {name: np.broadcast_to(a, shape).reshape(-1) for name, a in arrays.items()}
    return shape, flat


def flat_input(cp: np.ndarray, n: int) -> np.ndarray:
    """Return the (possibly per-voxel delayed) input as ``(n_t,)`` or ``(n, n_t)``."""
    return cp if cp.ndim == 1 else cp.reshape(n, cp.shape[-1])
