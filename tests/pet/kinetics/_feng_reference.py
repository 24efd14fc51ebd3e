"""Closed-form compartment-model curves for the Feng (1993) FDG input, independent of imagebio's numerics.

Feng input (shared SOURCE.md section 6): Cp(t) = (A1·t − A2 − A3)·e^(λ1 t) + A2·e^(λ2 t) + A3·e^(λ3 t), t in min.
The λ assignment is fixed here as **λ2 = −0.0104 /min with A2 and λ3 = −0.1191 /min with A3** (public codes
disagree; this is the library's default too, checked by test_feng_default_assignment).

Convolutions with e^(−βt) are analytic; frame averages use 40-point Gauss-Legendre quadrature per frame.
"""

from __future__ import annotations

import math

import numpy as np

A1, A2, A3 = 851.1225, 21.8798, 20.8113
L1, L2, L3 = -4.1339, -0.0104, -0.1191

# a common 65 min FDG schedule: 6×10 s, 4×30 s, 4×1 min, 4×2 min, 4×5 min, 3×10 min
DURATIONS_S = [10] * 6 + [30] * 4 + [60] * 4 + [120] * 4 + [300] * 4 + [600] * 3


def feng(t):
    t = np.asarray(t, dtype=float)
    return (A1 * t - A2 - A3) * np.exp(L1 * t) + A2 * np.exp(L2 * t) + A3 * np.exp(L3 * t)


def feng_convolved(t, beta):
    """∫_0^t Cp(τ)·e^(−β(t−τ)) dτ in closed form."""
    t = np.asarray(t, dtype=float)
    out = np.zeros_like(t)
    for amplitude, rate in ((-(A2 + A3), L1), (A2, L2), (A3, L3)):
        out += amplitude * (np.exp(rate * t) - np.exp(-beta * t)) / (rate + beta)
    c = L1 + beta
    return out + A1 * (np.exp(L1 * t) * (c * t - 1.0) + np.exp(-beta * t)) / c**2


def two_tissue_pet(t, K1, k2, k3, k4=0.0, vB=0.0):
    s = k2 + k3 + k4
    root = math.sqrt(s * s - 4 * k2 * k4)
    a1, a2 = (s - root) / 2, (s + root) / 2
    tissue = K1 / (a2 - a1) * ((k3 + k4 - a1) * feng_convolved(t, a1) + (a2 - k3 - k4) * feng_convolved(t, a2))
    return (1 - vB) * tissue + vB * feng(t)


def one_tissue_pet(t, K1, k2, vB=0.0):
    return (1 - vB) * K1 * feng_convolved(t, k2) + vB * feng(t)


def frame_average(function, start_min, duration_min, points=40):
    x, w = np.polynomial.legendre.leggauss(points)
    start = np.asarray(start_min, dtype=float)[:, None]
    duration = np.asarray(duration_min, dtype=float)[:, None]
    t = start + (x[None, :] + 1.0) / 2.0 * duration
    return (function(t) * w[None, :]).sum(axis=1) / 2.0
