"""One small demo store (1 digital patient, 2 visits) shared by the report, SR, SEG, PM and de-identification tests.

``run_demo`` takes ~20 s, so :func:`build_demo` caches its result for the test process: whichever modules run,
the demo is built once. The fixtures ``demo``/``demo_subject`` come from ``tests/report/conftest.py`` here and
from small wrappers in the ``tests/io`` modules. Tests must not modify the store (copy the file first).
"""

from __future__ import annotations

#: seed 3 gives one patient whose follow-up has a new lesion (lesion_2), so reports show several lesions.
DEMO_SEED = 3

_CACHE: dict[str, object] = {}


def build_demo(tmp_path_factory):
    """The :class:`imagebio.pipeline.demo.DemoResult` of a 1-patient demo, with RECIST 1.1 assessed in the store.

    ``assess_store`` adds diameters, SULpeak and the ``response_recist11`` categories (with reasons), so the
    reports have a response section to show.
    """
    if "demo" in _CACHE:
        return _CACHE["demo"]
    from imagebio.pipeline.demo import run_demo
    from imagebio.pipeline.response_run import assess_store
    from imagebio.store import open_store

    result = run_demo(tmp_path_factory.mktemp("demo"), n_patients=1, seed=DEMO_SEED)
    store = open_store(result.store_url)
    try:
        assess_store(store, "recist11")
    finally:
        store.close()
    _CACHE["demo"] = result
    return result
