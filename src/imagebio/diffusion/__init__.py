"""Diffusion MRI biomarkers: ADC, IVIM and diffusion kurtosis, fitted voxel-wise in batches.

All b-values are in s/mm^2 and diffusivities in mm^2/s.
"""
