"""Perfusion imaging: DCE-MRI and DSC-MRI quantification.

Modules
-------
aif
    Population arterial input functions (Parker, Georgiou, Weinmann, McGrath).
concentration
    SPGR signal equation and signal-to-concentration conversion.
t1
    Variable-flip-angle T1 mapping.
models
    Tracer-kinetic forward models (Tofts, extended Tofts, Patlak, 2CXM, 2CUM).
fitting
    Batched Levenberg-Marquardt solver shared with :mod:`imagebio.diffusion`.
dce
    Voxel-wise and ROI fits of the DCE models, maps and model selection.
dsc
    DSC-MRI: Delta R2*, leakage correction, CBV, CBF (oSVD), MTT, Tmax.
quality
    Goodness of fit, failure reason codes and per-ROI fit-success summaries (shared with diffusion).
acquisition
    Stacking and checking dynamic / VFA frames (flip angle, TR, TE, frame times) before a fit.
"""
