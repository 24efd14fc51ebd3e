"""Digital patients and reference objects with known ground truth.

:func:`generate_cohort` writes a small longitudinal multimodal cohort (CT, FDG PET, multi-b DWI, DCE-MRI and
DICOM SEG lesion masks, as real DICOM files) with ``ground_truth.json``; :func:`load_manifest` reads the truth
back.
"""

from imagebio.phantoms.cohort import generate_cohort
from imagebio.phantoms.ground_truth import CohortManifest, LesionTruth, PatientTruth, TimepointTruth, load_manifest
from imagebio.phantoms.theranostics import generate_theranostics_patient

__all__ = ["generate_theranostics_patient", "generate_cohort", "load_manifest", "CohortManifest", "PatientTruth", "TimepointTruth", "LesionTruth"]
