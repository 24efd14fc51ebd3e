"""Reports and DICOM interoperability on the study store.

* :mod:`imagebio.report.patient` — patient report (HTML, PDF): studies, lesion tables, response, plots, key images.
* :mod:`imagebio.report.cohort` — cohort report: waterfall, swimmer, response rates with CIs, distributions.
* :mod:`imagebio.report.export` — TID 1500 SR, SEG and Parametric Map objects from the store.

Submodules import matplotlib, pandas and highdicom inside their functions; importing this package is cheap.
"""

__all__ = ["build_cohort_report", "build_patient_report", "write_cohort_report", "write_patient_report"]


def __getattr__(name):
    if name in ("build_patient_report", "write_patient_report"):
        from imagebio.report import patient

        return getattr(patient, name)
    if name in ("build_cohort_report", "write_cohort_report"):
        from imagebio.report import cohort

        return getattr(cohort, name)
    raise AttributeError(name)
