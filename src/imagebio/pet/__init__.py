"""PET biomarkers: lesion metabolism metrics, reference regions, partial volume and tracer kinetics.

Modules
-------
peak
    SUVpeak / SULpeak: mean in a 1 cm³ sphere placed to maximise it (partial-voxel or IBSI centre-in kernel).
metrics
    SUVmax, SUVmean, percentiles, metabolic tumour volume by threshold, TLG, whole-body burden, Dmax.
reference_regions
    PERCIST liver and blood-pool reference statistics, PERCIST threshold, SUVR.
deauville
    Deauville five-point scale from lesion SUVmax and the blood-pool / liver references (Lugano input).
partial_volume
    Recovery coefficients of spheres under a Gaussian PSF, geometric transfer matrix (GTM) correction.
summary
    The metrics table of one PET series (every lesion, whole-body burden, PERCIST liver reference): ``imagebio pet``.
plots
    Coronal maximum intensity projection (MIP) PNG with lesion outlines.
kinetics
    Dynamic PET: frame timing, input functions, Patlak, Logan, 1TCM/2TCM, SRTM, MRTM, voxel-wise maps.

Everything here works on arrays (z, y, x) with ``spacing`` (z, y, x) in mm, or on :class:`imagebio.volume.Volume`;
SUV images come from :func:`imagebio.io.pet.read_pet`.
"""
