"""Treatment response: lesion tables, response criteria, lesion measurements and voxel-wise response maps.

Every engine is a pure function of one patient's lesion table (see :mod:`imagebio.response.table`);
:func:`assess` runs one criterion over a whole table and returns one row per subject and time point plus a
``best`` row per subject.
"""

from imagebio.response._core import Assessment, PatientResponse, best_overall_response
from imagebio.response.assess import CRITERIA, assess, assess_subjects, load_settings
from imagebio.response.table import example_table_path, read_lesion_table

__all__ = [
    "CRITERIA",
    "Assessment",
    "PatientResponse",
    "assess",
    "best_overall_response",
    "assess_subjects",
    "example_table_path",
    "load_settings",
    "read_lesion_table",
]
