"""Benchmark of the astro forward model: accuracy against published models, and speed.

Sections (each prints a markdown table; everything goes to one JSON file):

1. Smooth-IMF colours U-B, B-V, V-I against BPASS v2.2.1 binary populations
   (Stanway & Eldridge 2018, MNRAS 479, 75; spectra-bin-imf135_300 shipped in the PyPI
   package ``hoki``, read by path: ``import hoki`` fails with astropy 8) at Z = 0.002 and
   0.008, log age 6.5-10. Target: |difference| <= 0.15 mag outside log age 7.0-7.3 (the
   red-supergiant window where single and binary models disagree; reported separately).
   Both sides go through the same filters (astro.build_tables: Bessell & Murphy 2012
   UBVRI from speclite, Vega from pyphot), so this needs the ``tables`` extra.
2. V-band mass-to-light ratio (per initial mass) at 10 Gyr against the same BPASS spectra.
3. The Sun (1 Msun, 4.6 Gyr, Z = 0.02) against M_V = 4.81, B-V = 0.65 (Willmer 2018,
   ApJS 236, 47), and stochastic B-V scatter at log age 8 for 10^3 / 10^4 / 10^5 Msun.
4. Throughput: clusters/s with stochastic sampling across the prior (log M 2-7), in one
   process and on the engine's grid with 2 workers; the 10^6-cluster extrapolation.
5. Table sizes (and the build times recorded when they were made, if given).

Usage: ``python benchmarks/astro_sim.py [--quick] [--json out.json]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path

import numpy as np

import astro
from astro.stellar_data import DATA_DIR

BPASS_FILE = "spectra-bin-imf135_300.z{z}.dat"
L_SUN_ERG = 3.828e33
M_V_SUN, BV_SUN = 4.81, 0.65  # Willmer 2018, ApJS 236, 47 (Vega system)
RSG_WINDOW = (7.0, 7.3)


def _bpass_path(ztag: str) -> Path:
    spec = importlib.util.find_spec("hoki")  # locate the data without importing hoki
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the PyPI package hoki is needed for the BPASS comparison")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / BPASS_FILE.format(z=ztag)


def bpass_spectra(ztag: str):
    """(wavelength A (n_w,), log ages (51,), L_lambda [Lsun/A per 10^6 Msun] (51, n_w))."""
    import pandas as pd

    data = pd.read_csv(_bpass_path(ztag), sep=r"\s+", header=None, dtype=float).to_numpy()
    keep = (data[:, 0] >= 900) & (data[:, 0] <= 30000)
    return data[keep, 0], 6.0 + 0.1 * np.arange(data.shape[1] - 1), data[keep, 1:].T


def bpass_vega_magnitudes(wave, spectra, bands):
    """Vega magnitudes (up to a common constant) of BPASS spectra (n, n_w) -> (n, n_band)."""
    from astro.build_tables import filter_weights, vega_flam_band_mean

    weights, _, _ = filter_weights(wave, bands)
    vega, _ = vega_flam_band_mean(weights, wave)
    return -2.5 * np.log10(spectra @ weights.T / vega)


def compare_bpass(log_ages):
    bands = ("U", "B", "V", "I")
    rows = []
    for ztag, z in (("002", 0.002), ("008", 0.008)):
        wave, ages, spectra = bpass_spectra(ztag)
        pick = [int(np.argmin(abs(ages - a))) for a in log_ages]
        theirs = bpass_vega_magnitudes(wave, spectra[pick], bands)
        ours = astro.photometry(6.0, np.asarray(log_ages), 0.0, z, bands, stochastic=False)
        for a, t, o in zip(log_ages, theirs, ours):
            ct = np.array([t[0] - t[1], t[1] - t[2], t[2] - t[3]])
            co = np.array([o[0] - o[1], o[1] - o[2], o[2] - o[3]])
            rows.append(
                {
                    "Z": z,
                    "log_age": round(float(a), 2),
                    "ours": co.round(3).tolist(),
                    "bpass": ct.round(3).tolist(),
                    "diff": (co - ct).round(3).tolist(),
                    "in_rsg_window": bool(RSG_WINDOW[0] <= a <= RSG_WINDOW[1]),
                }
            )
    outside = [max(abs(np.array(r["diff"]))) for r in rows if not r["in_rsg_window"]]
    inside = [max(abs(np.array(r["diff"]))) for r in rows if r["in_rsg_window"]]
    print("\n### Smooth-IMF colours vs BPASS v2.2.1 (binary, imf135_300); diff = ours - BPASS\n")
    print("| Z | log age | U-B ours / BPASS | B-V ours / BPASS | V-I ours / BPASS | max abs diff |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        cells = " | ".join(f"{o:+.2f} / {t:+.2f}" for o, t in zip(r["ours"], r["bpass"]))
        flag = " (RSG window)" if r["in_rsg_window"] else ""
        print(f"| {r['Z']} | {r['log_age']:.1f}{flag} | {cells} | {max(abs(np.array(r['diff']))):.3f} |")
    summary = {
        "max_abs_diff_outside_rsg": float(max(outside)),
        "max_abs_diff_inside_rsg": float(max(inside)),
        "n_ages_over_0.15_outside_rsg": int(sum(d > 0.15 for d in outside)),
        "n_ages_outside_rsg": len(outside),
    }
    print(
        f"\nmax |diff| outside log age 7.0-7.3: {summary['max_abs_diff_outside_rsg']:.3f} mag "
        f"({summary['n_ages_over_0.15_outside_rsg']} of {len(outside)} ages above 0.15); "
        f"inside: {summary['max_abs_diff_inside_rsg']:.3f} mag"
    )
    return {"rows": rows, **summary}


def mass_to_light_v(log_age=10.0):
    """M_initial / L_V [Msun / Lsun,V] of ours (smooth Kroupa) and of BPASS."""
    out = {}
    for ztag, z in (("002", 0.002), ("008", 0.008)):
        ours_mv = astro.photometry(6.0, log_age, 0.0, z, ("V",), stochastic=False)[0, 0]
        wave, ages, spectra = bpass_spectra(ztag)
        spec = spectra[int(np.argmin(abs(ages - log_age)))] * L_SUN_ERG / (4 * np.pi * (3.0856775814913673e19) ** 2)
        bpass_mv = bpass_vega_magnitudes(wave, spec[None], ("V",))[0, 0]
        out[z] = {"ours": 1e6 / 10 ** (-0.4 * (ours_mv - M_V_SUN)), "bpass": 1e6 / 10 ** (-0.4 * (bpass_mv - M_V_SUN))}
    print(f"\n### V-band M/L (initial mass, Msun/Lsun,V) at log age {log_age}\n")
    print("| Z | ours (single stars, Kroupa 0.08-120) | BPASS v2.2.1 (binaries, 0.1-300) | ratio |")
    print("|---|---|---|---|")
    for z, v in out.items():
        print(f"| {z} | {v['ours']:.2f} | {v['bpass']:.2f} | {v['ours'] / v['bpass']:.2f} |")
    return {str(z): v for z, v in out.items()}


def sun_and_scatter(n_clusters):
    sun = astro.star_photometry(1.0, np.log10(4.6e9), 0.0, 0.02, ("B", "V"))[0]
    result = {"sun_M_V": float(sun[1]), "sun_B_V": float(sun[0] - sun[1])}
    print("\n### The Sun and stochastic scatter\n")
    print(
        f"Sun (SSE 1 Msun, 4.6 Gyr, Z 0.02): M_V = {sun[1]:.3f} (reference 4.81), "
        f"B-V = {sun[0] - sun[1]:.3f} (reference 0.65)\n"
    )
    print("| log M | B-V 5 % | B-V 95 % | 5-95 % range | smooth B-V |")
    print("|---|---|---|---|---|")
    smooth = astro.photometry(3.0, 8.0, 0.0, 0.02, ("B", "V"), stochastic=False)[0]
    for log_m in (3.0, 4.0, 5.0):
        m = astro.photometry(np.full(n_clusters, log_m), 8.0, 0.0, 0.02, ("B", "V"), seed=1)
        bv = m[:, 0] - m[:, 1]
        lo, hi = np.percentile(bv, [5, 95])
        result[f"bv_range_logM{log_m:g}"] = [float(lo), float(hi)]
        print(f"| {log_m:g} | {lo:+.3f} | {hi:+.3f} | {hi - lo:.3f} | {smooth[0] - smooth[1]:+.3f} |")
    # the threshold approximation: every star drawn (no smooth part) at 10^5 Msun
    m = astro.photometry(
        np.full(min(n_clusters, 1000), 5.0), 8.0, 0.0, 0.02, ("B", "V"), seed=2, max_stochastic_stars=10**6
    )
    lo, hi = np.percentile(m[:, 0] - m[:, 1], [5, 95])
    result["bv_range_logM5_all_stars_drawn"] = [float(lo), float(hi)]
    print(f"| 5, all stars drawn | {lo:+.3f} | {hi:+.3f} | {hi - lo:.3f} | {smooth[0] - smooth[1]:+.3f} |")
    return result


def throughput(n_single, n_grid, quick):
    rng = np.random.default_rng(0)
    sim = astro.ClusterSimulator()
    x = sim.sample_prior(2000, rng)
    sim.simulate(x[:10], rng)  # compile and load the tables
    t0, c0 = time.perf_counter(), time.process_time()
    x = sim.sample_prior(n_single, rng)
    sim.simulate(x, rng)
    single = n_single / (time.perf_counter() - t0)
    single_cpu = n_single / (time.process_time() - c0)
    result = {
        "clusters_per_s_1_process": single,
        "clusters_per_cpu_s": single_cpu,
        "n_single": n_single,
        "load_average_1min": os.getloadavg()[0],
    }
    print("\n### Throughput (stochastic, prior log M 2-7, 5 LEGUS bands)\n")
    print(f"(machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores while measuring)\n")
    print("| setting | clusters/s | 10^6 clusters |")
    print("|---|---|---|")
    print(
        f"| ClusterSimulator.simulate, 1 process, wall ({n_single} clusters) | {single:,.0f} | "
        f"{1e6 / single / 60:.1f} min |"
    )
    print(f"| same, per CPU second (2 cores: x2) | {single_cpu:,.0f} | {1e6 / single_cpu / 120:.1f} min on 2 cores |")
    if not quick:
        t0 = time.perf_counter()
        astro.simulate_grid(n_grid, simulator=sim, chunk_size=max(n_grid // 20, 1), n_workers=2, progress=False)
        grid = n_grid / (time.perf_counter() - t0)
        result.update(clusters_per_s_grid_2_workers=grid, n_grid=n_grid)
        print(
            f"| simulate_grid, 2 workers ({n_grid} clusters, incl. start-up) | {grid:,.0f} | "
            f"{1e6 / grid / 60:.1f} min |"
        )
    return result


def table_sizes():
    sizes = {p.name: p.stat().st_size for p in sorted(DATA_DIR.glob("*.npz"))}
    print("\n### Committed tables\n")
    print("| file | size |")
    print("|---|---|")
    for name, size in sizes.items():
        print(f"| {name} | {size / 1e6:.2f} MB |")
    return sizes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer ages, clusters and no grid run")
    parser.add_argument("--json", type=Path, default=Path(os.environ.get("OUT", "out")) / "astro_sim.json")
    args = parser.parse_args(argv)
    log_ages = np.round(np.arange(6.5, 10.0 + 1e-9, 0.5 if args.quick else 0.1), 2)
    results = {"quick": args.quick}
    results["bpass"] = compare_bpass(log_ages)
    results["mass_to_light_V_10Gyr"] = mass_to_light_v()
    results["sun_and_scatter"] = sun_and_scatter(300 if args.quick else 3000)
    results["throughput"] = throughput(2000 if args.quick else 20000, 0 if args.quick else 100_000, args.quick)
    results["table_sizes_bytes"] = table_sizes()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(f"\nJSON: {args.json}")
    return results


if __name__ == "__main__":
    main()
