"""Loading helpers for the OSIPI reference files in tests/data/osipi (gzip-compressed CSV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OSIPI = Path(__file__).resolve().parents[1] / "data" / "osipi"


def read_csv(relative: str, **kwargs) -> pd.DataFrame:
    """Read ``tests/data/osipi/<relative>.gz``."""
    return pd.read_csv(OSIPI / f"{relative}.gz", **kwargs)


def vec(cell: str) -> np.ndarray:
    """Parse a whitespace-separated array stored in one CSV cell."""
    return np.array(cell.split(), dtype=float)


def within(measured, ref, atol: float, rtol: float) -> np.ndarray:
    """OSIPI pass rule ``|measured - ref| <= atol + rtol * |ref|``."""
    measured = np.asarray(measured, dtype=float)
    ref = np.asarray(ref, dtype=float)
    return np.abs(measured - ref) <= atol + rtol * np.abs(ref)
