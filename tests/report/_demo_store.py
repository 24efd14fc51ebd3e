"""One small demo store (1 digital patient, 2 visits) shared by the report, SR, SEG, PM and de-identification tests.

``run_demo`` takes ~20 s, so the fixture is session-scoped; test modules import it by name
(``from tests.report._demo_store import demo``) so that pytest registers it there.
"""

from __future__ import annotations

import pytest

#: seed 3 gives one patient whose follow-up has a new lesion (lesion_2), so reports show several lesions.
DEMO_SEED = 3


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The :class:`imagebio.pipeline.demo.DemoResult` of a 1-patient demo, with RECIST 1.1 assessed in the store.

    ``assess_store`` adds diameters, SULpeak and the ``response_recist11`` categories (with reasons), so the
    reports have a response section to show.
    """
    from imagebio.pipeline.demo import run_demo
    from imagebio.pipeline.response_run import assess_store
    from imagebio.store import open_store

    result = run_demo(tmp_path_factory.mktemp("demo"), n_patients=1, seed=DEMO_SEED)
    store = open_store(result.store_url)
    try:
        assess_store(store, "recist11")
    finally:
        store.close()
    return result


@pytest.fixture(scope="session")
def demo_subject(demo) -> str:
    return demo.run.done[0]
