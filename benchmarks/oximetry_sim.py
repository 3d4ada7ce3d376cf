"""Oximetry forward-model benchmark: Monte Carlo speed and reference values, adding-doubling speed and
accuracy against Monte Carlo, the neural surrogate's speed and accuracy against adding-doubling.

Usage: python benchmarks/oximetry_sim.py [--quick] [--out results.json]
Prints a markdown table and writes JSON. Rates are given per wall-clock second and per CPU
second of this process (the latter is robust to other load on the machine; on 2 free cores
the wall rate approaches 2x the CPU-second rate of a 2-thread run). ``--quick`` uses tiny
photon and tissue counts (a smoke test, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from oximetry.camera import PAPER_BAND_CENTRES_NM, default_camera  # noqa: E402
from oximetry.forward import band_reflectance  # noqa: E402
from oximetry.tissue import COLON  # noqa: E402
from oximetry.transport import LayeredSlab, adding_doubling, monte_carlo  # noqa: E402

warnings.simplefilter("ignore", category=Warning)


def timed(function, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def mc_throughput(photons: int) -> list[dict]:
    x = COLON.sample(1, 123)
    monte_carlo(COLON.slab(x, [560.0]), 1000, 0)  # load the compiled kernel
    rows = []
    for wl in (470.0, 560.0, 700.0):
        slab = COLON.slab(x, [wl])
        result, wall, cpu = timed(monte_carlo, slab, photons, 1)
        rows.append(
            {
                "wavelength_nm": wl,
                "photons": photons,
                "photons_per_s_wall": photons / wall,
                "photons_per_cpu_s": photons / cpu,
                "rel_noise": float(result.diffuse_reflectance_std.item() / result.diffuse_reflectance.item()),
            }
        )
    return rows


def reference_values(photons: int) -> list[dict]:
    cases = [
        ("van de Hulst slab Rd", LayeredSlab([10.0], [90.0], [0.75], [1.0], [0.02]), "diffuse_reflectance", 0.09739),
        ("van de Hulst slab Tt", LayeredSlab([10.0], [90.0], [0.75], [1.0], [0.02]), "transmittance", 0.66096),
        ("Giovanelli n=1 Rd", LayeredSlab([1.0], [9.0], [0.0], [1.0], [np.inf]), "diffuse_reflectance", 0.41495),
        ("Giovanelli n=1.5 Rd+Rsp", LayeredSlab([1.0], [9.0], [0.0], [1.5], [np.inf]), "total", 0.2600),
    ]
    rows = []
    for name, slab, field, reference in cases:
        mc = monte_carlo(slab, photons, seed=11)
        ad = adding_doubling(slab, n_quad=16)
        if field == "total":
            mc_value, sigma = mc.diffuse_reflectance + mc.specular_reflectance, mc.diffuse_reflectance_std
            ad_value = ad.diffuse_reflectance + ad.specular_reflectance
        else:
            mc_value, sigma = getattr(mc, field), getattr(mc, field + "_std")
            ad_value = getattr(ad, field)
        rows.append(
            {
                "case": name,
                "reference": reference,
                "mc": float(mc_value),
                "mc_sigma": float(sigma),
                "mc_z": float((mc_value - reference) / sigma),
                "adding_doubling_N16": float(ad_value),
            }
        )
    return rows


def solver_throughput(n_tissues: int) -> list[dict]:
    x = COLON.sample(n_tissues, 7)
    band_reflectance(x[:2])  # compile
    rows = []
    for n_quad in (12, 16):
        _, wall, cpu = timed(band_reflectance, x, n_quad=n_quad)
        rows.append(
            {
                "n_quad": n_quad,
                "tissues": n_tissues,
                "wavelengths_per_spectrum": default_camera().wavelengths_nm.size,
                "spectra_per_s_wall": n_tissues / wall,
                "spectra_per_cpu_s": n_tissues / cpu,
            }
        )
    return rows


def solver_vs_mc(n_tissues: int, photons: int) -> dict:
    x = COLON.sample(n_tissues, 2024)
    slab = COLON.slab(x, list(PAPER_BAND_CENTRES_NM))
    fast = adding_doubling(slab, n_quad=16).diffuse_reflectance
    mc, wall, _ = timed(monte_carlo, slab, photons, 5)
    rel = fast / mc.diffuse_reflectance - 1
    noise = mc.diffuse_reflectance_std / mc.diffuse_reflectance
    return {
        "tissues": n_tissues,
        "wavelengths": list(PAPER_BAND_CENTRES_NM),
        "photons_per_wavelength": photons,
        "median_abs_rel_dev": float(np.median(np.abs(rel))),
        "p99_abs_rel_dev": float(np.percentile(np.abs(rel), 99)),
        "max_abs_rel_dev": float(np.abs(rel).max()),
        "median_signed_rel_dev": float(np.median(rel)),
        "mc_rel_noise_median": float(np.median(noise)),
        "mc_rel_noise_max": float(noise.max()),
        "rms_z": float(np.sqrt(np.mean((rel / noise) ** 2))),
        "mc_seconds": wall,
    }


def surrogate_figures(n_check: int, n_speed: int) -> dict | None:
    try:
        from oximetry.surrogate import colon_surrogate, surrogate_report

        model = colon_surrogate()
    except (ValueError, OSError) as error:
        return {"available": False, "reason": str(error)}
    x = COLON.sample(max(n_check, 2), 99)
    solver = band_reflectance(x, n_quad=16)
    rel = np.abs(model.predict(x) / solver - 1)
    big = COLON.sample(n_speed, 5)
    model.predict(big[:1000])
    _, wall, cpu = timed(model.predict, big)
    report = surrogate_report()
    return {
        "available": True,
        "check_tissues": len(x),
        "median_abs_rel_dev": float(np.median(rel)),
        "p99_abs_rel_dev": float(np.percentile(rel, 99)),
        "max_abs_rel_dev": float(rel.max()),
        "spectra_per_s_wall": len(big) / wall,
        "spectra_per_cpu_s": len(big) / cpu,
        "training_report": report,
    }


PARTS = ("mc", "reference", "solver", "accuracy", "surrogate")


def markdown(results: dict) -> str:
    lines = ["| quantity | value |", "|---|---|"]
    for row in results.get("mc_throughput", []):
        lines.append(
            f"| MC photons/s at {row['wavelength_nm']:g} nm (wall / per CPU-s) | "
            f"{row['photons_per_s_wall']:,.0f} / {row['photons_per_cpu_s']:,.0f} |"
        )
    for row in results.get("reference_values", []):
        lines.append(
            f"| {row['case']}: reference {row['reference']} | MC {row['mc']:.5f} ± {row['mc_sigma']:.5f} "
            f"(z {row['mc_z']:+.2f}); AD N16 {row['adding_doubling_N16']:.5f} |"
        )
    for row in results.get("solver_throughput", []):
        lines.append(
            f"| adding-doubling N={row['n_quad']} 8-band spectra/s ({row['wavelengths_per_spectrum']} "
            f"wavelengths; wall / per CPU-s) | {row['spectra_per_s_wall']:.1f} / {row['spectra_per_cpu_s']:.1f} |"
        )
    acc = results.get("solver_vs_mc")
    if acc:
        lines.append(
            f"| AD N16 vs MC ({acc['tissues']} colon tissues x 8 band wavelengths, {acc['photons_per_wavelength']:,} "
            f"photons): median / p99 / max abs rel dev | {100 * acc['median_abs_rel_dev']:.3f} % / "
            f"{100 * acc['p99_abs_rel_dev']:.3f} % / {100 * acc['max_abs_rel_dev']:.3f} % |"
        )
        lines.append(
            f"| ... signed median dev; MC noise median / max; rms z | {100 * acc['median_signed_rel_dev']:+.3f} %; "
            f"{100 * acc['mc_rel_noise_median']:.3f} % / {100 * acc['mc_rel_noise_max']:.3f} %; "
            f"{acc['rms_z']:.2f} |"
        )
    sur = results.get("surrogate", {})
    if sur.get("available"):
        rep = sur["training_report"]
        lines.append(
            f"| surrogate vs AD ({sur['check_tissues']} fresh tissues): median / p99 / max | "
            f"{100 * sur['median_abs_rel_dev']:.3f} % / {100 * sur['p99_abs_rel_dev']:.3f} % / "
            f"{100 * sur['max_abs_rel_dev']:.3f} % |"
        )
        lines.append(
            f"| surrogate held-out at training ({rep.get('n_test')} tissues): median / p99 | "
            f"{100 * rep['test_median_rel_error']:.3f} % / {100 * rep['test_p99_rel_error']:.3f} % |"
        )
        lines.append(
            f"| surrogate spectra/s (wall / per CPU-s) | {sur['spectra_per_s_wall']:,.0f} / "
            f"{sur['spectra_per_cpu_s']:,.0f} |"
        )
    elif sur:
        lines.append(f"| surrogate | not available: {sur.get('reason')} |")
    load = f"{results['load_start']:.1f} / {results['load_end']:.1f}"
    lines.append(f"| load average during the run (1 min, start / end) | {load} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke test")
    parser.add_argument("--out", default="oximetry_sim.json")
    parser.add_argument("--tissues", type=int, default=40, help="colon tissues for AD vs MC")
    parser.add_argument("--photons", type=int, default=400_000, help="photons per tissue and wavelength for AD vs MC")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if not set(parts) <= set(PARTS):
        parser.error(f"--parts must be a subset of {PARTS}")
    quick = args.quick
    results = {"quick": quick, "load_start": os.getloadavg()[0]}
    if "mc" in parts:
        results["mc_throughput"] = mc_throughput(10_000 if quick else 1_000_000)
    if "reference" in parts:
        results["reference_values"] = reference_values(10_000 if quick else 1_000_000)
    if "solver" in parts:
        results["solver_throughput"] = solver_throughput(5 if quick else 400)
    if "accuracy" in parts:
        results["solver_vs_mc"] = solver_vs_mc(3 if quick else args.tissues, 5_000 if quick else args.photons)
    if "surrogate" in parts:
        results["surrogate"] = surrogate_figures(20 if quick else 5_000, 20_000 if quick else 200_000)
    results["load_end"] = os.getloadavg()[0]
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=2)
    print(markdown(results))


if __name__ == "__main__":
    main()
