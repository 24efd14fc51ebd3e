"""Habitat imaging: cluster voxels of several co-registered maps into sub-regions and follow their volumes.

Method (rule sheet rules 76-78; Gatenby RA, Grove O, Gillies RJ, Quantitative imaging in cancer evolution
and ecology, Radiology 2013;269:8-15; Napel S et al., Quantitative imaging of cancer in the postgenomic era:
radio(geno)mics, deep learning, and habitats, Cancer 2018;124:4633-4649):

* Each voxel inside the tumour mask is a feature vector of the maps' values (e.g. ADC, Ktrans, SUV).
* Each map is z-scored with the mean and SD of the **pooled training voxels** (population level), so that the
  same transform applies to every patient and time point and changes over time are kept.
* k-means (scikit-learn, fixed seed, ``n_init`` restarts) is fitted at population level, so a habitat label
  means the same thing in every patient.
* Labels are ordered deterministically by the centroid of the first map (habitat 1 = lowest), so reruns give
  the same numbering.
* ``choose_k`` reports silhouette scores (on a seeded subsample) to choose k with a stated criterion.

scikit-learn is imported inside the functions that need it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from imagebio.errors import EmptyMaskError, GeometryMismatchError, InvalidParameterError

__all__ = ["HabitatModel", "assign_habitats", "choose_k", "fit_habitats", "habitat_volumes", "habitats_over_time"]

Sample = tuple[Sequence[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class HabitatModel:
    """A fitted habitat model: normalisation (per-map mean, SD in map units) and ordered centroids (z-scores)."""

    map_names: tuple[str, ...]
    mean: np.ndarray
    sd: np.ndarray
    centroids: np.ndarray
    seed: int

    @property
    def n_habitats(self) -> int:
        return int(self.centroids.shape[0])

    def centroids_in_map_units(self) -> pd.DataFrame:
        """Centroids back in each map's unit, one row per habitat (1..k)."""
        values = self.centroids * self.sd + self.mean
        return pd.DataFrame(
            values, columns=list(self.map_names), index=pd.RangeIndex(1, self.n_habitats + 1, name="habitat")
        )


def _features(maps: Sequence[np.ndarray], mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask).astype(bool)
    if not maps:
        raise InvalidParameterError("maps", maps, "at least one co-registered map")
    for k, m in enumerate(maps):
        if np.asarray(m).shape != mask.shape:
            raise GeometryMismatchError(f"map {k} shape {np.asarray(m).shape} differs from the mask shape {mask.shape}")
    if not mask.any():
        raise EmptyMaskError("tumour", detail="(no voxel for habitat analysis)")
    return np.stack([np.asarray(m, dtype=np.float64)[mask] for m in maps], axis=1)


def _pooled(samples: Sequence[Sample]) -> np.ndarray:
    if not samples:
        raise InvalidParameterError("samples", samples, "at least one (maps, mask) pair")
    data = np.concatenate([_features(maps, mask) for maps, mask in samples])
    if not np.isfinite(data).all():
        raise InvalidParameterError("maps", "non-finite values inside the mask", "finite map values")
    return data


def fit_habitats(
    samples: Sequence[Sample],
    n_habitats: int = 3,
    map_names: Sequence[str] | None = None,
    seed: int = 0,
    n_init: int = 10,
) -> HabitatModel:
    """Fit population-level habitats by k-means.

    Parameters
    ----------
    samples : sequence of (maps, mask)
        For each patient (and/or time point) the co-registered maps (each (z, y, x), the same order in every
        sample) and the tumour mask.
    n_habitats : int
        k.
    map_names : sequence of str, optional
        Names of the maps (for reports).
    seed, n_init : int
        k-means seed and restarts.
    """
    from sklearn.cluster import KMeans

    data = _pooled(samples)
    if not 1 <= n_habitats <= len(data):
        raise InvalidParameterError("n_habitats", n_habitats, f"between 1 and the number of voxels ({len(data)})")
    mean = data.mean(axis=0)
    sd = data.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z = (data - mean) / sd
    km = KMeans(n_clusters=n_habitats, n_init=n_init, random_state=seed).fit(z)
    order = np.lexsort(km.cluster_centers_.T[::-1])  # by first map, then the next ones
    names = tuple(map_names) if map_names is not None else tuple(f"map{k}" for k in range(data.shape[1]))
    if len(names) != data.shape[1]:
        raise InvalidParameterError("map_names", map_names, f"{data.shape[1]} names")
    return HabitatModel(names, mean, sd, km.cluster_centers_[order], seed)


def assign_habitats(model: HabitatModel, maps: Sequence[np.ndarray], mask: np.ndarray) -> np.ndarray:
    """Habitat label map (0 outside the mask, 1..k inside): nearest centroid in normalised space."""
    feats = _features(maps, mask)
    if feats.shape[1] != len(model.map_names):
        raise InvalidParameterError(
            "maps", f"{feats.shape[1]} maps", f"{len(model.map_names)} maps ({', '.join(model.map_names)})"
        )
    z = (feats - model.mean) / model.sd
    nearest = ((z[:, None, :] - model.centroids[None, :, :]) ** 2).sum(-1).argmin(axis=1)
    labels = np.zeros(np.asarray(mask).shape, dtype=np.int16)
    labels[np.asarray(mask).astype(bool)] = nearest + 1
    return labels


def habitat_volumes(labels: np.ndarray, spacing: tuple[float, float, float], n_habitats: int) -> pd.DataFrame:
    """Volume (mL) and fraction of each habitat (fractions sum to 1)."""
    voxel_ml = float(np.prod([float(s) for s in spacing])) / 1000.0
    counts = np.bincount(np.asarray(labels).ravel().astype(np.int64), minlength=n_habitats + 1)[1 : n_habitats + 1]
    total = counts.sum()
    if total == 0:
        raise EmptyMaskError("habitat labels")
    return pd.DataFrame(
        {
            "habitat": np.arange(1, n_habitats + 1),
            "voxels": counts,
            "volume_ml": counts * voxel_ml,
            "fraction": counts / total,
        }
    )


def habitats_over_time(
    model: HabitatModel, series: Sequence[tuple[str, Sequence[np.ndarray], np.ndarray, tuple[float, float, float]]]
) -> pd.DataFrame:
    """Habitat volumes at each time point: ``series`` of (timepoint, maps, mask, spacing).

    Returns one row per time point and habitat with ``volume_ml``, ``fraction`` and ``change_ml`` from the
    first time point.
    """
    frames = []
    for timepoint, maps, mask, spacing in series:
        table = habitat_volumes(assign_habitats(model, maps, mask), spacing, model.n_habitats)
        table.insert(0, "timepoint", timepoint)
        frames.append(table)
    out = pd.concat(frames, ignore_index=True)
    first = out.groupby("habitat")["volume_ml"].transform("first")
    out["change_ml"] = out["volume_ml"] - first
    return out


def choose_k(
    samples: Sequence[Sample], ks: Sequence[int] = (2, 3, 4, 5), seed: int = 0, max_voxels: int = 5000
) -> pd.DataFrame:
    """Silhouette score of k-means for each k (on at most ``max_voxels`` seeded pooled voxels); higher is better."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    data = _pooled(samples)
    z = (data - data.mean(0)) / np.where(data.std(0) > 0, data.std(0), 1.0)
    rng = np.random.default_rng(seed)
    if len(z) > max_voxels:
        z = z[rng.choice(len(z), max_voxels, replace=False)]
    rows = []
    for k in ks:
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(z)
        rows.append({"k": k, "silhouette": float(silhouette_score(z, labels))})
    return pd.DataFrame(rows)
