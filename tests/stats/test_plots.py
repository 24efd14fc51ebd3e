"""Validation figures are written as PNG files."""

from __future__ import annotations

import numpy as np

from imagebio.stats.models import calibration, decision_curve
from imagebio.stats.plots import plot_calibration, plot_decision_curve, plot_kaplan_meier, plot_roc
from imagebio.stats.survival import km_logrank

PNG = b"\x89PNG\r\n\x1a\n"


def test_pngs(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100)
    prob = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, 100), 0.01, 0.99)
    time = rng.exponential(5, 100) + 0.1
    event = rng.integers(0, 2, 100)
    paths = [
        plot_roc(y, prob, tmp_path / "roc.png"),
        plot_calibration(calibration(y, prob), tmp_path / "cal.png"),
        plot_kaplan_meier(km_logrank(time, event, y), tmp_path / "km.png", time_unit="months"),
        plot_decision_curve(decision_curve(y, prob), tmp_path / "dca.png"),
    ]
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == PNG and len(data) > 5000
