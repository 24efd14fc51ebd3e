"""Dynamic PET tracer kinetics (times in min from injection, rate constants in /min).

* :mod:`~imagebio.pet.kinetics.frames`: :class:`FrameTimes` (start, duration, mid-time; validated order).
* :mod:`~imagebio.pet.kinetics.input_function`: sampled, CSV, image-derived and Feng (1993) input functions.
* :mod:`~imagebio.pet.kinetics.compartment`: 1TCM / 2TCM simulation and weighted non-linear fits.
* :mod:`~imagebio.pet.kinetics.graphical`: Patlak and Logan, for regions and voxel-wise maps.
* :mod:`~imagebio.pet.kinetics.reference_tissue`: SRTM, MRTM / MRTM2 (regions and voxel-wise BPnd maps).
* :mod:`~imagebio.pet.kinetics.basis`: basis-function voxel-wise maps, 1TCM (K1, k2, vB) and SRTM (BPnd).
* :mod:`~imagebio.pet.kinetics.parametric`: frame timing of a dynamic DICOM series and one-call parametric maps
  (``imagebio kinetics``).
"""

from imagebio.pet.kinetics.basis import one_tissue_map, srtm_map
from imagebio.pet.kinetics.compartment import (
    CompartmentFit,
    fit_one_tissue,
    fit_two_tissue,
    simulate_one_tissue,
    simulate_two_tissue,
)
from imagebio.pet.kinetics.frames import FrameTimes
from imagebio.pet.kinetics.graphical import GraphicalFit, logan, logan_map, patlak, patlak_map
from imagebio.pet.kinetics.input_function import (
    FengInputFunction,
    InputFunction,
    image_derived_input,
    read_input_function_csv,
    region_tac,
)
from imagebio.pet.kinetics.parametric import ParametricMaps, dynamic_frame_times, parametric_maps
from imagebio.pet.kinetics.reference_tissue import ReferenceTissueFit, fit_srtm, mrtm, mrtm_map, simulate_srtm

__all__ = [
    "CompartmentFit",
    "FengInputFunction",
    "FrameTimes",
    "GraphicalFit",
    "InputFunction",
    "ParametricMaps",
    "ReferenceTissueFit",
    "fit_one_tissue",
    "fit_srtm",
    "fit_two_tissue",
    "dynamic_frame_times",
    "image_derived_input",
    "logan",
    "logan_map",
    "mrtm",
    "mrtm_map",
    "one_tissue_map",
    "patlak",
    "parametric_maps",
    "patlak_map",
    "read_input_function_csv",
    "region_tac",
    "simulate_one_tissue",
    "simulate_srtm",
    "simulate_two_tissue",
    "srtm_map",
]
