"""One digital cohort (4 patients, seed 0) shared by the phantom tests."""

from __future__ import annotations

import pytest

from imagebio.phantoms import generate_cohort


@pytest.fixture(scope="session")
def cohort(tmp_path_factory):
    """The default cohort and the progress calls made while writing it."""
    calls = []
    root = tmp_path_factory.mktemp("cohort")
    manifest = generate_cohort(root, n_patients=4, seed=0, progress=lambda done, total: calls.append((done, total)))
    return manifest, calls
