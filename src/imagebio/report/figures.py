"""Report figures (matplotlib, Agg, no pyplot state): timeline, spider, key images, PET MIP, map overlays.

Every function returns a ``matplotlib.figure.Figure`` with units on its axes; :func:`to_base64_png` embeds one
in HTML. Images are drawn in patient millimetres (extent from the voxel spacing), so aspect ratios are true.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "CT_WINDOW_HU",
    "figure",
    "key_image_figure",
    "map_overlay_figure",
    "pet_mip_figure",
    "spider_figure",
    "timeline_figure",
    "to_base64_png",
]

#: Soft-tissue window (level, width) in HU.
CT_WINDOW_HU = (40.0, 400.0)
_CONTOUR_COLOURS = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628")
_DPI = 100


def figure(size: tuple[float, float]):
    """A new constrained-layout Figure with an Agg canvas (thread-safe, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained", dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def to_base64_png(fig) -> str:
    """The figure as a base64 PNG string (for ``<img src="data:image/png;base64,...">``)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def timeline_figure(days: Sequence[int | None], labels: Sequence[str], modalities: Sequence[str]):
    """Studies on a line of days since baseline, each with its label and modalities."""
    fig = figure((7.0, 1.9))
    ax = fig.add_subplot()
    known = [(d, lab, mod) for d, lab, mod in zip(days, labels, modalities) if d is not None]
    xs = [d for d, _, _ in known]
    ax.axhline(0, color="#969696", lw=1)
    ax.plot(xs, [0] * len(xs), "o", color="#2b8cbe", ms=8)
    for i, (d, lab, mod) in enumerate(known):
        ax.annotate(f"{lab}\n{mod}", (d, 0), xytext=(0, 10 if i % 2 == 0 else -28), textcoords="offset points",
                    ha="center", fontsize=7)
    span = max(xs) - min(xs) if len(xs) > 1 else 10
    ax.set_xlim(min(xs, default=0) - 0.1 * span - 1, max(xs, default=0) + 0.1 * span + 1)
    ax.set_ylim(-1, 1)
    ax.set_yticks([])
    ax.set_xlabel("days since baseline (d)")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    return fig


def spider_figure(subject: str, points: Sequence[tuple[int, float]], best: str, quantity: str):
    """Percent change of ``quantity`` from baseline over days (spider plot of :mod:`imagebio.response.plots`)."""
    import pandas as pd

    from imagebio.response.plots import spider_plot

    data = pd.DataFrame(
        [{"subject": subject, "day": d, "change_pct": c, "category": best, "best": best} for d, c in points],
        columns=["subject", "day", "change_pct", "category", "best"],
    )
    fig = spider_plot(data, title=f"{subject}: {quantity} (best response {best})")
    fig.set_size_inches(6.0, 3.6)
    ax = fig.axes[0]
    ax.set_ylabel("change from baseline (%)")
    ax.set_xlabel("days since baseline (d)")
    ax.legend(fontsize=7)
    return fig


def _extent(shape_yx: tuple[int, int], spacing_yx: tuple[float, float]) -> list[float]:
    ny, nx = shape_yx
    dy, dx = spacing_yx
    return [-0.5 * dx, (nx - 0.5) * dx, (ny - 0.5) * dy, -0.5 * dy]


def largest_cross_section(mask: np.ndarray) -> int:
    """Axial slice index (z) where the mask has the most voxels."""
    return int(np.argmax(np.asarray(mask, bool).sum(axis=(1, 2))))


def key_image_figure(ct, masks: Mapping[str, np.ndarray], lesion: str, slice_index: int):
    """Axial CT slice (soft-tissue window) through a lesion's largest cross-section with every lesion contour."""
    level, width = CT_WINDOW_HU
    fig = figure((4.2, 3.8))
    ax = fig.add_subplot()
    extent = _extent(ct.shape[1:], ct.spacing[1:])
    image = ax.imshow(ct.array[slice_index], cmap="gray", vmin=level - width / 2, vmax=level + width / 2,
                      extent=extent, interpolation="nearest")
    ny, nx = ct.shape[1:]
    xs = (np.arange(nx)) * ct.spacing[2]
    ys = (np.arange(ny)) * ct.spacing[1]
    for i, (name, mask) in enumerate(masks.items()):
        plane = np.asarray(mask[slice_index], float)
        if plane.any():
            ax.contour(xs, ys, plane, levels=[0.5], colors=[_CONTOUR_COLOURS[i % len(_CONTOUR_COLOURS)]],
                       linewidths=1.2 if name == lesion else 0.7)
    ax.set_xlabel("x (mm, from first column)")
    ax.set_ylabel("y (mm, from first row)")
    z_mm = ct.index_to_physical(np.array([slice_index, 0, 0]))[2]
    ax.set_title(f"{lesion}: axial slice {slice_index} (z = {z_mm:.1f} mm)", fontsize=9)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label(f"CT ({ct.unit or 'HU'}), window {level:g}/{width:g}")
    return fig


def pet_mip_figure(pet, masks: Mapping[str, np.ndarray] | None = None):
    """Coronal maximum-intensity projection of a PET volume (max over the anterior–posterior axis)."""
    mip = np.nanmax(np.asarray(pet.array, float), axis=1)  # (z, x)
    fig = figure((4.2, 4.2))
    ax = fig.add_subplot()
    nz, nx = mip.shape
    dz, _, dx = pet.spacing
    extent = [-0.5 * dx, (nx - 0.5) * dx, -0.5 * dz, (nz - 0.5) * dz]
    image = ax.imshow(mip, cmap="gray_r", origin="lower", extent=extent, vmin=0, interpolation="nearest",
                      aspect="equal")
    if masks:
        xs = np.arange(nx) * dx
        zs = np.arange(nz) * dz
        for i, mask in enumerate(masks.values()):
            projected = np.asarray(mask, bool).any(axis=1).astype(float)
            if projected.shape == mip.shape and projected.any():
                ax.contour(xs, zs, projected, levels=[0.5], colors=[_CONTOUR_COLOURS[i % len(_CONTOUR_COLOURS)]],
                           linewidths=0.8)
    ax.set_xlabel("x (mm, from first column)")
    ax.set_ylabel("z (mm, from first slice)")
    ax.set_title("PET maximum-intensity projection (coronal)", fontsize=9)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label(f"PET ({pet.unit})")
    return fig


def map_overlay_figure(background, parameter_map, mask: np.ndarray | None, slice_index: int, quantity: str,
                       unit: str, value_range: tuple[float, float] | None = None):
    """A parametric map over its background image on one axial slice, with a colour bar in the map's unit."""
    fig = figure((4.4, 3.8))
    ax = fig.add_subplot()
    extent = _extent(parameter_map.shape[1:], parameter_map.spacing[1:])
    base = np.asarray(background.array[slice_index], float)
    ax.imshow(base, cmap="gray", extent=extent, interpolation="nearest")
    values = np.asarray(parameter_map.array[slice_index], float)
    shown = np.ma.masked_where(~np.isfinite(values) | (values <= 0), values)
    low, high = value_range if value_range else (float(np.nanmin(shown)), float(np.nanmax(shown)))
    image = ax.imshow(shown, cmap="viridis", alpha=0.75, extent=extent, vmin=low, vmax=high,
                      interpolation="nearest")
    if mask is not None and np.asarray(mask[slice_index]).any():
        ny, nx = parameter_map.shape[1:]
        ax.contour(np.arange(nx) * parameter_map.spacing[2], np.arange(ny) * parameter_map.spacing[1],
                   np.asarray(mask[slice_index], float), levels=[0.5], colors=["#e41a1c"], linewidths=1.0)
    ax.set_xlabel("x (mm, from first column)")
    ax.set_ylabel("y (mm, from first row)")
    ax.set_title(f"{quantity} map, axial slice {slice_index}", fontsize=9)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label(f"{quantity} ({unit})")
    return fig


def bar_figure(labels: Sequence[str], values: Sequence[float], lows: Sequence[float], highs: Sequence[float],
               ylabel: str, title: str):
    """Bars with asymmetric error bars (e.g. response rates with confidence intervals)."""
    fig = figure((5.0, 3.2))
    ax = fig.add_subplot()
    values = np.asarray(values, float)
    err = np.vstack([values - np.asarray(lows, float), np.asarray(highs, float) - values])
    ax.bar(range(len(values)), values, yerr=err, capsize=4, color="#74a9cf")
    ax.set_xticks(range(len(values)), list(labels), fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=9)
    return fig


def histogram_figure(values: Sequence[float], name: str, unit: str):
    """Distribution of one feature across the cohort."""
    fig = figure((3.4, 2.6))
    ax = fig.add_subplot()
    data = np.asarray([v for v in values if v is not None and np.isfinite(v)], float)
    ax.hist(data, bins=min(20, max(3, len(data))), color="#6baed6", edgecolor="white")
    ax.set_xlabel(f"{name} ({unit})" if unit else name)
    ax.set_ylabel("lesion count")
    ax.set_title(f"{name} (n = {len(data)})", fontsize=9)
    return fig
