"""Radionuclide-therapy dosimetry: decay data, time-activity curves, S values, voxel kernels, radiobiology,
Y-90 planning.

Modules (import them directly; this package imports nothing heavy):

* :mod:`~imagebio.dosimetry.nuclides` - ICRP-107 half-lives and energies per decay
* :mod:`~imagebio.dosimetry.tac` - TAC fits, time-integrated activity, single-time-point methods
* :mod:`~imagebio.dosimetry.svalues` - MIRD organ and sphere S values, HU → density, masses
* :mod:`~imagebio.dosimetry.kernels` - voxel S-value convolution, local deposition, DVH
* :mod:`~imagebio.dosimetry.radiobiology` - BED, EQD2, multi-cycle
* :mod:`~imagebio.dosimetry.planning` - Y-90 partition model, MIRD single compartment, BSA method, organ limits,
  next-cycle maximum tolerable activity, Y-90 lung limits
* :mod:`~imagebio.dosimetry.spect` - calibrated multi-time-point SPECT/PET, times after administration,
  co-registration with quality
* :mod:`~imagebio.dosimetry.plan` - the PLAN.yaml workflow (``imagebio dosimetry PLAN.yaml``)
* :mod:`~imagebio.dosimetry.dose_response` - per-lesion dose joined with per-lesion response

Units: time s (h where named ``_h``), activity Bq, TIA Bq·s, S Gy/(Bq·s), dose Gy, mass g (kg where named).
"""
