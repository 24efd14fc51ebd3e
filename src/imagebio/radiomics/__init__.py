"""IBSI 1 radiomics: image-processing chain, feature families and the feature extractor.

Reference: Zwanenburg A. et al., "The Image Biomarker Standardization Initiative: standardized quantitative
radiomics for high-throughput image-based phenotyping", Radiology 2020;295:328-338 (manual arXiv:1612.07003).
Feature names are the IBSI tags (``morph_volume``, ``stat_mean``, ``cm_joint_max_3D_avg`` ...).

Modules: :mod:`~imagebio.radiomics.processing` (interpolation, re-segmentation, discretisation, diagnostics),
:mod:`~imagebio.radiomics.morphology`, :mod:`~imagebio.radiomics.local_intensity`,
:mod:`~imagebio.radiomics.statistics`, :mod:`~imagebio.radiomics.histogram`, :mod:`~imagebio.radiomics.ivh`,
``texture/`` (GLCM, GLRLM, GLSZM, GLDZM, NGTDM, NGLDM), :mod:`~imagebio.radiomics.settings` (+ YAML presets in
``presets/``) and :mod:`~imagebio.radiomics.extractor`. SciPy and scikit-image are imported only when used.
"""

from imagebio.radiomics.extractor import extract_features
from imagebio.radiomics.settings import RadiomicsSettings, available_presets, load_settings

__all__ = ["RadiomicsSettings", "available_presets", "extract_features", "load_settings"]
