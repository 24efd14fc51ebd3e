"""Habitats (population k-means, deterministic labels) and response plots."""

import numpy as np
import pytest

from imagebio.errors import GeometryMismatchError
from imagebio.response import assess, example_table_path
from imagebio.response.habitats import assign_habitats, choose_k, fit_habitats, habitats_over_time
from imagebio.response.plots import plot_data, spider_plot, swimmer_plot, waterfall_plot


def two_region_tumour(split_x):
    # Two maps (ADC mm^2/s, Ktrans 1/min): left part "necrotic" (high ADC, low Ktrans), right "viable".
    rng = np.random.default_rng(split_x)
    adc = np.full((4, 12, 12), 0.8e-3) * rng.normal(1.0, 0.02, (4, 12, 12))
    ktrans = np.full((4, 12, 12), 0.30) * rng.normal(1.0, 0.02, (4, 12, 12))
    adc[:, :, :split_x] = 2.0e-3 * rng.normal(1.0, 0.02, (4, 12, split_x))
    ktrans[:, :, :split_x] = 0.02 * rng.normal(1.0, 0.02, (4, 12, split_x))
    mask = np.zeros((4, 12, 12), bool)
    mask[1:3, 2:10, 2:10] = True
    return [adc, ktrans], mask


def test_habitats_found_ordered_and_tracked():
    # Rules 77-78: two clear habitats; label 1 = lower first-map (ADC) centroid; volumes over time.
    base = two_region_tumour(6)
    later = two_region_tumour(8)  # the necrotic (high-ADC) part grows by 2 columns x 8 rows x 2 slices = 32 voxels
    model = fit_habitats([base, later], n_habitats=2, map_names=["adc", "ktrans"], seed=0)
    centroids = model.centroids_in_map_units()
    # 2 % noise on 64-96 voxels per class: centroids within 1 % of the class values.
    assert centroids.loc[1, "adc"] == pytest.approx(0.8e-3, rel=0.01)
    assert centroids.loc[2, "adc"] == pytest.approx(2.0e-3, rel=0.01)
    over = habitats_over_time(model, [("t0", *base, (1.0, 1.0, 1.0)), ("t1", *later, (1.0, 1.0, 1.0))])
    t0 = over[over.timepoint == "t0"].set_index("habitat")
    t1 = over[over.timepoint == "t1"].set_index("habitat")
    assert (t0.loc[2, "voxels"], t1.loc[2, "voxels"]) == (64, 96)
    assert t1.loc[2, "change_ml"] == pytest.approx(0.032)
    assert t0["fraction"].sum() == pytest.approx(1.0)
    assert assign_habitats(model, *base)[0, 0, 0] == 0
    # Same seed, same labels (rule 78).
    again = fit_habitats([base, later], n_habitats=2, seed=0)
    np.testing.assert_array_equal(again.centroids, model.centroids)


def test_choose_k_prefers_two_clusters_and_bad_shapes():
    base = two_region_tumour(6)
    scores = choose_k([base], ks=(2, 3))
    assert scores.loc[scores.silhouette.idxmax(), "k"] == 2
    with pytest.raises(GeometryMismatchError):
        fit_habitats([([base[0][0][:, :5]], base[1])])


def test_plots_write_png_and_svg(tmp_path):
    data = plot_data(assess(example_table_path(), "recist11"))
    assert set(data["subject"]) == {"P01", "P02"}
    best = data.groupby("subject")["change_pct"].min().to_dict()
    cats = data.groupby("subject")["best"].first().to_dict()
    waterfall_plot(best, cats, tmp_path / "w.png")
    spider_plot(data, tmp_path / "s.svg")
    swimmer_plot(data, tmp_path / "sw.png")
    assert (tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (tmp_path / "s.svg").read_bytes()[:500]
    assert (tmp_path / "sw.png").stat().st_size > 1000
