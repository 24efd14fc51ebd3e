"""Fixtures for the radiomics tests: IBSI 1 phantoms and reference tables from ``tests/data/ibsi/``.

See ``tests/data/ibsi/SOURCE.md`` for origin and licences (the CT phantom is CC BY-NC 3.0).
"""

from __future__ import annotations

import numpy as np
import pytest

from ._ibsi_tables import IBSI_CONFIGS, IBSI_SUMMARY, load_nifti_volume


@pytest.fixture(scope="session")
def digital_phantom():
    """IBSI 1 digital phantom: (image Volume, mask Volume)."""
    return load_nifti_volume("ibsi_1_digital_phantom", "image"), load_nifti_volume("ibsi_1_digital_phantom", "mask")


@pytest.fixture(scope="session")
def ct_phantom():
    """IBSI 1 CT radiomics phantom (GTV-1): (image Volume in HU, mask Volume)."""
    return (load_nifti_volume("ibsi_1_ct_radiomics_phantom", "image"),
            load_nifti_volume("ibsi_1_ct_radiomics_phantom", "mask"))


@pytest.fixture(scope="session")
def ibsi_features():
    """Callable ``config -> features``; each IBSI configuration is computed once per test session."""
    from imagebio.radiomics.extractor import extract_features

    cache: dict[str, dict[str, float]] = {}
    volumes: dict[str, tuple] = {}

    def get(config: str) -> dict[str, float]:
        if config not in cache:
            folder, preset = IBSI_CONFIGS[config]
            if folder not in volumes:
                volumes[folder] = (load_nifti_volume(folder, "image"), load_nifti_volume(folder, "mask"))
            image, mask = volumes[folder]
            cache[config] = extract_features(image, mask, settings=preset)
        return cache[config]

    return get


def pytest_terminal_summary(terminalreporter):
    if not IBSI_SUMMARY:
        return
    configs = list(IBSI_CONFIGS)
    families = sorted({family for _, family in IBSI_SUMMARY})
    write = terminalreporter.write_line
    terminalreporter.section("IBSI 1 compliance (matched/total reference rows)")
    write(f"{'family':8s}" + "".join(f"{c:>17s}" for c in configs))
    for family in families:
        cells = []
        for config in configs:
            matched, total = IBSI_SUMMARY.get((config, family), (0, 0))
            cells.append(f"{matched}/{total}" if total else "-")
        write(f"{family:8s}" + "".join(f"{c:>17s}" for c in cells))


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)
