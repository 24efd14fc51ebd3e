"""RECIST 1.1 on the designed digital patients of ten seeds (masks from the generator, no DICOM): 40 patients.

The end-to-end check through DICOM and the store is ``tests/pipeline/test_response_run.py`` (one seed); this one
shows the categories do not depend on the seed chosen there. Intended categories follow from the generator's
design (responders -32 to -38 % per lesion diameter, non-responders +25 to +32 % or a new lesion, stable ±3 %)
and RECIST 1.1 (Eisenhauer 2009, section 4.3.1: PR ≥ 30 % decrease; PD ≥ 20 % and ≥ 5 mm increase or a new
lesion; SD otherwise, the follow-up at day 56 being past the 42-day minimum).
"""

import pandas as pd
import pytest

from imagebio.phantoms.digital_patients import GRID, design_patient, lesion_masks
from imagebio.response import assess
from imagebio.response.measure import measure_lesion

INTENDED_RECIST = {"responder": "PR", "non_responder": "PD", "stable": "SD"}


def lesion_table(designs) -> pd.DataFrame:
    rows = []
    for design in designs:
        start = pd.Timestamp("2024-01-01")
        for visit in design.visits:
            masks = lesion_masks(visit.lesions, GRID)
            for lesion in visit.lesions:
                m = measure_lesion(masks[lesion.name], GRID.spacing_zyx_mm)
                rows.append(
                    {
                        "subject": design.patient_id,
                        "timepoint": (start + pd.Timedelta(days=visit.days_from_baseline)).date().isoformat(),
                        "lesion_id": lesion.name,
                        "organ": f"unknown ({lesion.name})",  # as the store path does for ROIs without organ
                        "role": "new" if lesion.is_new else "",
                        "is_lymph_node": False,
                        "longest_diameter_mm": m.longest_diameter_mm,
                        "short_axis_mm": m.short_axis_mm,
                        "status": "present",
                    }
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", range(10))
def test_designed_patients_get_their_intended_category(seed):
    designs = [design_patient(i, seed) for i in range(4)]
    result = assess(lesion_table(designs), "recist11").set_index(["subject", "timepoint"])
    for design in designs:
        assert result.loc[(design.patient_id, "best"), "category"] == INTENDED_RECIST[design.response_category], (
            design.patient_id,
            result.loc[design.patient_id, "reason"].tolist(),
        )
