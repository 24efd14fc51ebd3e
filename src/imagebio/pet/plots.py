"""PET figures: maximum intensity projection (MIP) with lesion outlines (matplotlib, Agg backend).

matplotlib is imported inside the function so that ``import imagebio.pet`` stays light.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from imagebio.errors import GeometryMismatchError, InvalidParameterError
from imagebio.volume import Volume

__all__ = ["coronal_mip", "plot_mip"]


def coronal_mip(image: Volume) -> np.ndarray:
    """Maximum intensity projection along the y (anterior–posterior) index axis: an array (z, x) in the image unit."""
    return np.asarray(image.array, dtype=np.float64).max(axis=1)


def plot_mip(
    image: Volume,
    lesions: Mapping[str, np.ndarray | Volume],
    path: str | os.PathLike,
    *,
    vmax: float | None = None,
    title: str | None = None,
) -> Path:
    """Write a coronal MIP PNG with the outline of each lesion's projection.

    The display follows the radiological convention: patient head up, patient right on the viewer's left
    (for the usual axial stacks, whose index axes point to patient left (+x) and head (+z) in LPS). Grey levels
    run from 0 (white) to ``vmax`` (black; default the 99.5th percentile of the MIP, at least the highest lesion
    value); pixels keep their physical aspect ratio (z spacing / x spacing).

    Parameters
    ----------
    image : Volume
        PET image (z, y, x), e.g. SUVbw.
    lesions : mapping of str to mask
        Lesion name → boolean mask (array or Volume) on the image grid; each is projected along y and outlined.
    path : path-like
        Output PNG.
    vmax : float, optional
        Upper end of the grey scale, in the image unit.
    title : str, optional

    Returns
    -------
    Path
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    mip = coronal_mip(image)
    projections = {}
    for name, mask in lesions.items():
        mask = np.asarray(getattr(mask, "array", mask), dtype=bool)
        if mask.shape != image.shape:
            raise GeometryMismatchError(f"lesion {name!r} mask shape {mask.shape} differs from the image {image.shape}")
        projections[name] = mask.any(axis=1)
    if vmax is None:
        vmax = float(np.percentile(mip, 99.5))
        for projection in projections.values():
            if projection.any():
                vmax = max(vmax, float(mip[projection].max()))
    if not vmax > 0:
        raise InvalidParameterError("vmax", vmax, "a positive upper display value (is the image empty?)")
    direction = np.asarray(image.direction, dtype=float)
    # flip so that rows run head-up and columns patient-right-to-left whatever the stored index order
    head_up = direction[2, 2] >= 0
    left_on_right = direction[0, 0] >= 0
    view = mip if left_on_right else mip[:, ::-1]
    spacing_z, _, spacing_x = image.spacing
    fig, ax = plt.subplots(figsize=(4.5, 4.5 * min(3.0, mip.shape[0] * spacing_z / (mip.shape[1] * spacing_x)) + 0.6),
                           dpi=100)
    ax.imshow(view, cmap="gray_r", vmin=0.0, vmax=vmax, origin="lower" if head_up else "upper",
              aspect=spacing_z / spacing_x, interpolation="nearest")
    colours = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["red"])
    handles = []
    for i, (name, projection) in enumerate(projections.items()):
        if not projection.any():
            continue
        shown = projection if left_on_right else projection[:, ::-1]
        colour = colours[i % len(colours)]
        ax.contour(shown.astype(float), levels=[0.5], colors=[colour], linewidths=1.0,
                   origin="lower" if head_up else "upper")
        handles.append(Line2D([0], [0], color=colour, lw=1.5, label=name))
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=0.7)
    ax.set_axis_off()
    ax.set_title(title or f"coronal MIP ({image.unit or 'a.u.'}, 0 to {vmax:.3g})", fontsize="medium")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out
