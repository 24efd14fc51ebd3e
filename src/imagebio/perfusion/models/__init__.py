"""Tracer-kinetic forward models for DCE-MRI.

All forward functions take sampling times in seconds, a plasma input ``cp_mM`` sampled at those times and
model parameters that broadcast over leading voxel axes; they return tissue concentration in mM with shape
``(*param_shape, n_t)``. Convolutions are exact for a piecewise-linear input (see
:func:`imagebio.perfusion.models.convolution.exp_convolve`).
"""

from imagebio.perfusion.models.convolution import exp_convolve, prepare_input
from imagebio.perfusion.models.extended_tofts import extended_tofts_concentration
from imagebio.perfusion.models.patlak import fit_patlak_linear, patlak_concentration
from imagebio.perfusion.models.tofts import tofts_concentration
from imagebio.perfusion.models.two_compartment import (
    two_compartment_exchange_concentration,
    two_compartment_uptake_concentration,
)

__all__ = [
    "exp_convolve",
    "prepare_input",
    "tofts_concentration",
    "extended_tofts_concentration",
    "patlak_concentration",
    "fit_patlak_linear",
    "two_compartment_exchange_concentration",
    "two_compartment_uptake_concentration",
]
