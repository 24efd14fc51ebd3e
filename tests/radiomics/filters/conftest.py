"""Fixtures and the terminal summary of the IBSI 2 filter tests (data in ``tests/data/ibsi2/``)."""

from __future__ import annotations

from ._ibsi2 import PHASE1_DEVIATIONS, PHASE2_RESULTS


def pytest_terminal_summary(terminalreporter):
    write = terminalreporter.write_line
    if PHASE1_DEVIATIONS:
        terminalreporter.section("IBSI 2 phase 1: max |response - reference| in % of reference range (pass <= 1 %)")
        for test_id, dev in PHASE1_DEVIATIONS.items():
            write(f"{test_id:8s} {dev:9.2e} %  {'pass' if dev <= 1.0 else 'FAIL'}")
    if PHASE2_RESULTS:
        terminalreporter.section("IBSI 2 phase 2: features within tolerance (worst |diff| / tolerance)")
        for config, (matched, total, worst) in PHASE2_RESULTS.items():
            write(f"{config:5s} {matched:2d}/{total:2d}  worst {worst:6.3f}")
