"""Fixtures of the CLI tests."""

import json

import pytest


@pytest.fixture(scope="session")
def map_cohort(tmp_path_factory):
    """A 1-patient digital cohort: (root, baseline visit folder, baseline ground truth as a dict)."""
    from imagebio.phantoms import generate_cohort

    root = tmp_path_factory.mktemp("map_cohort")
    generate_cohort(root, n_patients=1, seed=0)
    truth = json.loads((root / "ground_truth.json").read_text())
    visit = truth["patients"][0]["timepoints"][0]
    return root, root / "dicom" / truth["patients"][0]["patient_id"] / visit["name"], visit
