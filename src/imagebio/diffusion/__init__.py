"""Diffusion MRI biomarkers: ADC, IVIM and diffusion kurtosis, fitted voxel-wise in batches.

All b-values are in s/mm^2 and diffusivities in mm^2/s. Modules: ``adc``, ``ivim``, ``kurtosis`` (fits, each with
the quality maps of :mod:`imagebio.perfusion.quality`), ``noise`` (Rician noise floor) and ``acquisition``
(multi-b frames and their b-values).
"""
