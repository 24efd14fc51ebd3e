"""Benchmarks of the perfusion and diffusion fits.

1. Extended Tofts on 100,000 voxels (synthetic SPGR signal, Parker AIF, 200 frames, SNR 50) vs dcmri
   ``TissueArray`` (kinetics 'HF', peer venv) on a 1,000-voxel subset of the same data, in the same run.
2. IVIM (full bounded fit) on 100,000 voxels (14 b-values, SNR 50) vs DIPY ``IvimModel(fit_method='trr')``
   (peer venv) on a 1,000-voxel subset, same bounds (OSIPI: S0 0.7-1.3 x, f 0-1, D* 0.005-0.2, D 0-0.005 mm2/s).
   For both: voxels/s, accuracy (fraction of voxels within the OSIPI tolerance: DCE Ktrans 0.005 + 10 %, ve 0.05,
   vp 0.025; IVIM f 0.2 + 10 %, D 5e-4 + 10 % (f < 0.8), D* 0.1 + 10 % (f > 0.03); plus tighter own IVIM limits:
   f 0.05 + 10 %, D 1e-4 + 10 %, D* 30 %) and peak memory (ours: tracemalloc peak of the fit; peers: process
   peak RSS) are printed. The peer's time is scaled to the full voxel count for the ratio.
3. The earlier rows: Tofts (10,000 voxels) and IVIM (10,000 voxels) vs a per-voxel scipy ``curve_fit`` loop.

Row 3 details.

Setup (as in the store's dcmri comparison): 10,000 synthetic voxels, Parker AIF (plasma, Hct 0.45), dt 1.5 s,
200 frames, Ktrans 0.05-0.5 /min, ve 0.1-0.6, Gaussian noise 2 % of the peak. The peer is
``scipy.optimize.curve_fit`` (trust-region reflective, OSIPI start values and bounds) called once per voxel on
the same forward model; it is timed on a 200-voxel subsample and scaled to 10,000 voxels. Peak memory is
measured with tracemalloc in a separate call (voxels are fitted in chunks of 4,096).
"""

from __future__ import annotations

import time

import numpy as np

try:
    from benchmarks._measure import best_time_s, peak_memory_mb
except ImportError:  # run as a script from benchmarks/
    from _measure import best_time_s, peak_memory_mb

N_VOXELS = 10_000
N_PEER = 200


def _data(n: int, seed: int = 0):
    from imagebio.perfusion.aif import parker_aif
    from imagebio.perfusion.models import tofts_concentration

    rng = np.random.default_rng(seed)
    t = np.arange(200) * 1.5
    cp = parker_aif(t, delay_s=15.0, hct=0.45)
    ktrans = rng.uniform(0.05, 0.5, n)
    ve = rng.uniform(0.1, 0.6, n)
    clean = tofts_concentration(t, cp, ktrans, ve)
    noisy = clean + rng.normal(0.0, 0.02 * clean.max(), clean.shape)
    return t, cp, noisy, ktrans, ve


def _ours(t, cp, conc):
    from imagebio.perfusion.dce import fit_dce

    return fit_dce(t, conc, cp, model="tofts")


def _peer(t, cp, conc):
    from scipy.optimize import curve_fit

    from imagebio.perfusion.models import tofts_concentration

    def model(_t, ktrans, ve):
        return tofts_concentration(t, cp, ktrans, ve)

    out = np.empty((conc.shape[0], 2))
    for i, curve in enumerate(conc):
        out[i], _ = curve_fit(model, t, curve, p0=(0.6, 0.2), bounds=((0.0, 0.0), (5.0, 1.0)))
    return out


def _ivim_rows() -> list[dict]:
    """IVIM full fit (4 parameters, OSIPI bounds) on 10,000 noisy voxels vs a per-voxel curve_fit loop."""
    from scipy.optimize import curve_fit

    from imagebio.diffusion.ivim import fit_ivim, ivim_signal

    rng = np.random.default_rng(1)
    b = np.array([0, 10, 20, 30, 50, 75, 100, 150, 200, 300, 400, 600, 800, 1000.0])
    truth = np.column_stack(
        [
            np.ones(N_VOXELS),
            rng.uniform(0.05, 0.4, N_VOXELS),
            rng.uniform(0.01, 0.1, N_VOXELS),
            rng.uniform(0.5e-3, 2.5e-3, N_VOXELS),
        ]
    )
    signals = ivim_signal(*truth.T, b) + rng.normal(0, 0.02, (N_VOXELS, b.size))
    ours_s = best_time_s(lambda: fit_ivim(signals, b, method="full"), repeat=2)
    peak_mb = peak_memory_mb(lambda: fit_ivim(signals, b, method="full"))

    def model(bb, s0, f, ds, d):
        return s0 * (f * np.exp(-bb * ds) + (1 - f) * np.exp(-bb * d))

    start = time.perf_counter()
    for curve in signals[:N_PEER]:
        curve_fit(model, b, curve, p0=(1.0, 0.1, 0.01, 1e-3), bounds=((0.7, 0, 0.005, 0), (1.3, 1, 0.2, 0.005)))
    peer_s = (time.perf_counter() - start) * N_VOXELS / N_PEER
    return [
        {
            "name": f"ivim full fit, {N_VOXELS} voxels x 14 b-values (peer timed on {N_PEER} voxels, scaled)",
            "ours_s": ours_s,
            "peer": "scipy.optimize.curve_fit per voxel",
            "peer_s": peer_s,
            "ratio": peer_s / ours_s,
            "peak_mem_mb": peak_mb,
        }
    ]


N_BIG = 100_000
N_PEER_BIG = 1_000
SNR = 50.0
DCE_SEQ = {"tr_s": 0.005, "fa_deg": 15.0, "r10_per_s": 1.0, "r1_per_mM_per_s": 4.5, "hct": 0.45, "n0": 10}
IVIM_LOWER = (0.7, 0.0, 0.005, 0.0)
IVIM_UPPER = (1.3, 1.0, 0.2, 0.005)


def _dce_within_osipi(kt, ve, vp, true_kt, true_ve, true_vp) -> np.ndarray:
    return (np.abs(kt - true_kt) <= 0.005 + 0.1 * true_kt) & (np.abs(ve - true_ve) <= 0.05) & (
        np.abs(vp - true_vp) <= 0.025)


def _ivim_within(f, d, ds, truth, tight: bool) -> np.ndarray:
    tf, tds, td = truth[:, 1], truth[:, 2], truth[:, 3]
    if tight:
        return (np.abs(f - tf) <= 0.05 + 0.1 * tf) & (np.abs(d - td) <= 1e-4 + 0.1 * td) & (
            np.abs(ds - tds) <= 0.3 * tds)
    return (np.abs(f - tf) <= 0.2 + 0.1 * tf) & ((tf >= 0.8) | (np.abs(d - td) <= 5e-4 + 0.1 * td)) & (
        (tf <= 0.03) | (np.abs(ds - tds) <= 0.1 + 0.1 * tds))


def _peer_script(name: str, package: str, script: str, payload: dict):
    """(result, reason): the peer's JSON answer, or None and why."""
    from pathlib import Path

    try:
        from benchmarks.peer_env import peer_python, run_peer
    except ImportError:
        from peer_env import peer_python, run_peer
    python = peer_python(name, [[package]])
    if python is None:
        return None, f"pip install {package} failed"
    try:
        return run_peer(python, Path(__file__).resolve().parent / "peers" / script, payload), ""
    except Exception as exc:  # report the other rows anyway
        return None, str(exc)[-300:]


def _etofts_vs_dcmri() -> list[dict]:
    from imagebio.perfusion.aif import parker_aif
    from imagebio.perfusion.concentration import concentration_to_signal, signal_to_concentration
    from imagebio.perfusion.dce import fit_dce
    from imagebio.perfusion.models import extended_tofts_concentration

    rng = np.random.default_rng(7)
    t = np.arange(200) * 1.5
    cb = parker_aif(t, delay_s=15.0)
    cp = cb / (1.0 - DCE_SEQ["hct"])
    kt = rng.uniform(0.05, 0.5, N_BIG)
    ve = rng.uniform(0.1, 0.6, N_BIG)
    vp = rng.uniform(0.005, 0.1, N_BIG)
    r10 = DCE_SEQ["r10_per_s"]
    signal = concentration_to_signal(extended_tofts_concentration(t, cp, kt, ve, vp), 1000.0, 1.0 / r10,
                                     DCE_SEQ["fa_deg"], DCE_SEQ["tr_s"], DCE_SEQ["r1_per_mM_per_s"])
    signal += rng.normal(0.0, 1.0, signal.shape) * (signal[:, :1] / SNR)  # SNR 50 of the baseline signal

    def ours(sig):
        conc = signal_to_concentration(sig, 1.0 / r10, DCE_SEQ["fa_deg"], DCE_SEQ["tr_s"],
                                       DCE_SEQ["r1_per_mM_per_s"], n_baseline=DCE_SEQ["n0"])
        return fit_dce(t, conc, cp, model="extended_tofts", multistart=False)

    start = time.perf_counter()
    maps = ours(signal)
    ours_s = time.perf_counter() - start
    peak_mb = peak_memory_mb(lambda: ours(signal[:20_000]))
    acc_all = _dce_within_osipi(maps["ktrans_per_min"], maps["ve"], maps["vp"], kt, ve, vp).mean()
    sub = slice(0, N_PEER_BIG)
    acc_sub = _dce_within_osipi(maps["ktrans_per_min"][sub], maps["ve"][sub], maps["vp"][sub], kt[sub], ve[sub],
                                vp[sub]).mean()
    payload = {"t_s": t.tolist(), "signal": signal[sub].tolist(), "cb_mM": cb.tolist(), **DCE_SEQ}
    peer, why = _peer_script("dcmri", "dcmri==0.6.20", "dcmri_etofts.py", payload)
    row = {"name": "", "ours_s": ours_s, "peer": None, "peer_s": None, "ratio": None, "peak_mem_mb": peak_mb}
    text = (f"extended Tofts {N_BIG} voxels x 200 frames, SNR {SNR:g}: imagebio {N_BIG / ours_s:,.0f} voxels/s, "
            f"OSIPI accuracy {acc_all:.3f} (subset {acc_sub:.3f}), peak {peak_mb:.0f} MB (20k-voxel call)")
    if peer is not None:
        peer_rate = N_PEER_BIG / peer["seconds"]
        peer_acc = _dce_within_osipi(np.array(peer["ktrans_per_min"]), np.array(peer["ve"]), np.array(peer["vp"]),
                                     kt[sub], ve[sub], vp[sub]).mean()
        row.update(peer=f"dcmri {peer['version']} TissueArray", peer_s=peer["seconds"] * N_BIG / N_PEER_BIG)
        row["ratio"] = row["peer_s"] / ours_s
        text += (f"; dcmri {peer_rate:,.1f} voxels/s on {N_PEER_BIG} voxels (scaled), accuracy {peer_acc:.3f}, "
                 f"peak RSS {peer['peak_rss_mb']:.0f} MB; speed-up {row['ratio']:.0f}x")
    else:
        text += f"; dcmri unavailable: {why}"
    row["name"] = text
    print("  " + text, flush=True)
    return [row]


def _ivim_vs_dipy() -> list[dict]:
    from imagebio.diffusion.ivim import IvimBounds, fit_ivim, ivim_signal

    rng = np.random.default_rng(8)
    b = np.array([0, 10, 20, 30, 50, 75, 100, 150, 200, 300, 400, 600, 800, 1000.0])
    truth = np.column_stack([np.full(N_BIG, 1000.0), rng.uniform(0.05, 0.4, N_BIG), rng.uniform(0.01, 0.1, N_BIG),
                             rng.uniform(0.5e-3, 2.5e-3, N_BIG)])
    signals = ivim_signal(*truth.T, b) + rng.normal(0.0, 1000.0 / SNR, (N_BIG, b.size))
    bounds = IvimBounds(s0=(IVIM_LOWER[0], IVIM_UPPER[0]), f=(IVIM_LOWER[1], IVIM_UPPER[1]),
                        d_star_mm2_per_s=(IVIM_LOWER[2], IVIM_UPPER[2]), d_mm2_per_s=(IVIM_LOWER[3], IVIM_UPPER[3]))

    def ours(s):
        return fit_ivim(s, b, method="full", bounds=bounds)

    start = time.perf_counter()
    fit = ours(signals)
    ours_s = time.perf_counter() - start
    peak_mb = peak_memory_mb(lambda: ours(signals[:20_000]))
    sub = slice(0, N_PEER_BIG)

    def accuracy(f, d, ds, rows, tight):
        return _ivim_within(np.asarray(f), np.asarray(d), np.asarray(ds), truth[rows], tight).mean()

    acc = accuracy(fit["f"], fit["d_mm2_per_s"], fit["d_star_mm2_per_s"], slice(None), False)
    tight = accuracy(fit["f"], fit["d_mm2_per_s"], fit["d_star_mm2_per_s"], slice(None), True)
    tight_sub = accuracy(fit["f"][sub], fit["d_mm2_per_s"][sub], fit["d_star_mm2_per_s"][sub], sub, True)
    lower = [IVIM_LOWER[0] * 1000.0, *IVIM_LOWER[1:]]
    upper = [IVIM_UPPER[0] * 1000.0, *IVIM_UPPER[1:]]
    payload = {"b_values_s_per_mm2": b.tolist(), "signal": signals[sub].tolist(), "lower": lower, "upper": upper}
    peer, why = _peer_script("dipy", "dipy==1.12.1", "dipy_ivim.py", payload)
    row = {"name": "", "ours_s": ours_s, "peer": None, "peer_s": None, "ratio": None, "peak_mem_mb": peak_mb}
    text = (f"IVIM full fit {N_BIG} voxels x {b.size} b-values, SNR {SNR:g}: imagebio {N_BIG / ours_s:,.0f} "
            f"voxels/s, OSIPI accuracy {acc:.3f}, tight {tight:.3f} (subset {tight_sub:.3f}), "
            f"peak {peak_mb:.0f} MB (20k-voxel call)")
    if peer is not None:
        p_acc = accuracy(peer["f"], peer["d_mm2_per_s"], peer["d_star_mm2_per_s"], sub, False)
        p_tight = accuracy(peer["f"], peer["d_mm2_per_s"], peer["d_star_mm2_per_s"], sub, True)
        row.update(peer=f"dipy {peer['version']} IvimModel trr", peer_s=peer["seconds"] * N_BIG / N_PEER_BIG)
        row["ratio"] = row["peer_s"] / ours_s
        text += (f"; DIPY {N_PEER_BIG / peer['seconds']:,.1f} voxels/s on {N_PEER_BIG} voxels (scaled), OSIPI "
                 f"accuracy {p_acc:.3f}, tight {p_tight:.3f}, peak RSS {peer['peak_rss_mb']:.0f} MB; "
                 f"speed-up {row['ratio']:.0f}x")
    else:
        text += f"; DIPY unavailable: {why}"
    row["name"] = text
    print("  " + text, flush=True)
    return [row]


def run() -> list[dict]:
    rows = _etofts_vs_dcmri() + _ivim_vs_dipy()
    return rows + _earlier_rows()


def _earlier_rows() -> list[dict]:
    t, cp, conc, ktrans, ve = _data(N_VOXELS)

    maps = _ours(t, cp, conc)
    ours_s = best_time_s(lambda: _ours(t, cp, conc), repeat=2)
    peak_mb = peak_memory_mb(lambda: _ours(t, cp, conc))

    start = time.perf_counter()
    peer_params = _peer(t, cp, conc[:N_PEER])
    peer_s = (time.perf_counter() - start) * N_VOXELS / N_PEER

    # both must reach the same solutions (sanity, not a timing)
    agree = np.abs(maps["ktrans_per_min"][:N_PEER] - peer_params[:, 0]) <= 0.005 + 0.01 * np.abs(peer_params[:, 0])
    return [
        {
            "name": f"tofts voxel fit, {N_VOXELS} voxels x 200 frames "
            f"(peer: scipy curve_fit loop timed on {N_PEER} voxels, scaled; {agree.mean():.0%} agree)",
            "ours_s": ours_s,
            "peer": "scipy.optimize.curve_fit per voxel",
            "peer_s": peer_s,
            "ratio": peer_s / ours_s,  # > 1: imagebio faster
            "peak_mem_mb": peak_mb,
        }
    ] + _ivim_rows()


if __name__ == "__main__":
    for row in run():
        print(row)
