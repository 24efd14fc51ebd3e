"""Fixtures of the report tests: the shared 1-patient demo store."""

from __future__ import annotations

import pytest

from ._demo_store import build_demo


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    return build_demo(tmp_path_factory)


@pytest.fixture(scope="session")
def demo_subject(demo) -> str:
    return demo.run.done[0]
