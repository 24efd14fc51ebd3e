"""Unit names used across imagebio and the few conversions between them.

Unit strings are stored verbatim in :class:`imagebio.volume.Volume` and in ``Measurement.unit``; use the
constants below rather than literals so that a report or a query can rely on one spelling.
"""

from __future__ import annotations

from imagebio.errors import InvalidParameterError

# intensities
HU = "HU"
BQ_PER_ML = "Bq/mL"
SUV_BW = "SUVbw"  # g/mL, body weight
SUV_LBM = "SUVlbm"  # g/mL, lean body mass (James, DICOM LBMJAMES128)
SUL = "SUL"  # g/mL, lean body mass (Janmahasatian), PERCIST
SUV_BSA = "SUVbsa"  # cm2/mL, body surface area (Du Bois)
SUV_IBW = "SUVibw"  # g/mL, ideal body weight
COUNTS = "counts"
ARBITRARY = "a.u."
S_PER_MM2 = "s/mm2"
MM2_PER_S = "mm2/s"
PER_MIN = "1/min"
FRACTION = "fraction"
MMOL_PER_L = "mM"

# geometry and time
MM = "mm"
MM2 = "mm2"
MM3 = "mm3"
ML = "mL"
S = "s"
MIN = "min"
H = "h"

# dose
GY = "Gy"
BQ = "Bq"
MBQ = "MBq"
BQ_S = "Bq*s"

SUV_UNITS = (SUV_BW, SUV_LBM, SUL, SUV_BSA, SUV_IBW)

_LENGTH_TO_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0}
_VOLUME_TO_ML = {"mm3": 1e-3, "mL": 1.0, "cm3": 1.0, "L": 1000.0}
_TIME_TO_S = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_ACTIVITY_TO_BQ = {"Bq": 1.0, "kBq": 1e3, "MBq": 1e6, "GBq": 1e9, "mCi": 3.7e7, "uCi": 3.7e4}


def _convert(value: float, src: str, dst: str, table: dict[str, float], kind: str) -> float:
    if src not in table or dst not in table:
        raise InvalidParameterError("unit", src if src not in table else dst, f"a {kind} unit of {sorted(table)}")
    return value * table[src] / table[dst]


def convert_length(value: float, src: str, dst: str = MM) -> float:
    """Convert a length between mm, cm and m."""
    return _convert(value, src, dst, _LENGTH_TO_MM, "length")


def convert_volume(value: float, src: str, dst: str = ML) -> float:
    """Convert a volume between mm3, mL (= cm3) and L."""
    return _convert(value, src, dst, _VOLUME_TO_ML, "volume")


def convert_time(value: float, src: str, dst: str = S) -> float:
    """Convert a duration between s, min, h and d."""
    return _convert(value, src, dst, _TIME_TO_S, "time")


def convert_activity(value: float, src: str, dst: str = BQ) -> float:
    """Convert an activity between Bq, kBq, MBq, GBq, mCi and uCi."""
    return _convert(value, src, dst, _ACTIVITY_TO_BQ, "activity")
