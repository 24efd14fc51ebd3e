"""IBSI 1 texture feature families, vectorised with numpy.

Each module exposes the same function::

    compute(levels, mask, n_levels, spacing, approaches=("2D", "2_5D", "3D"), morph_mask=None) -> dict[str, float]

``levels`` holds discretised grey levels 1..n_levels (z, y, x) inside the intensity ``mask``; the result maps IBSI
tags (as in the IBSI 1 reference tables) to values:

=========  ======  =====================================================================================
module     prefix  tag suffixes
=========  ======  =====================================================================================
glcm       cm_     ``_2D_avg``, ``_2D_comb``, ``_2_5D_avg``, ``_2_5D_comb``, ``_3D_avg``, ``_3D_comb``
glrlm      rlm_    as GLCM
glszm      szm_    ``_2D``, ``_2_5D``, ``_3D``
gldzm      dzm_    as GLSZM (distance to the edge of ``morph_mask``)
ngtdm      ngt_    as GLSZM
ngldm      ngl_    as GLSZM
=========  ======  =====================================================================================

Settings are those of the IBSI benchmarks: symmetric GLCM at Chebyshev distance 1, NGTDM/NGLDM with δ = 1 and
NGLDM α = 0, zones linked with full connectivity (26 in 3D, 8 in 2D), Manhattan distance to the ROI edge.

Reference: Zwanenburg A. et al., Radiology 2020;295:328-338; IBSI 1 reference manual arXiv:1612.07003, section 3.
"""

from __future__ import annotations

__all__ = ["FAMILIES"]

#: module name -> IBSI tag prefix, in the order of the IBSI manual.
FAMILIES = {"glcm": "cm", "glrlm": "rlm", "glszm": "szm", "gldzm": "dzm", "ngtdm": "ngt", "ngldm": "ngl"}
