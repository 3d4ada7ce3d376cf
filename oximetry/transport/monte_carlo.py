"""Monte Carlo light transport in layered slabs (MCML: Wang, Jacques & Zheng 1995).

Photons enter at normal incidence with weight 1 - R_sp (R_sp the Fresnel specular
reflection), take steps -ln(xi)/mu_t with the dimensionless leftover of a step carried
across layer boundaries, lose the fraction mu_a/mu_t of their weight at each interaction,
scatter by Henyey-Greenstein, meet Fresnel boundaries (reflect with the Fresnel
probability, otherwise refract or escape), and play Russian roulette below weight 1e-4
(survival 1/10). The slab is laterally infinite, so only depth is tracked.

White Monte Carlo (:func:`white_monte_carlo`) runs without absorption and records each
escaping photon's path length per layer; reflectance for any absorption then follows by
reweighting, valid while scattering, geometry and wavelength stay fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from oximetry.transport._random import stream_state, uniform01
from oximetry.transport.slab import LayeredSlab

__all__ = ["MonteCarloResult", "WhiteMonteCarlo", "monte_carlo", "white_monte_carlo", "specular_reflectance"]

ROULETTE_THRESHOLD = 1e-4
ROULETTE_SURVIVAL = 0.1
CHUNK = 2048  # photons per parallel task
_EXIT_NONE, _EXIT_TOP, _EXIT_BOTTOM = 0, 1, 2


@numba.njit(cache=True, inline="always")
def _fresnel(n_i, n_t, cos_i):
    """Unpolarized Fresnel reflectance and the transmitted cosine for incidence cosine ``cos_i`` >= 0."""
    if n_i == n_t:
        return 0.0, cos_i
    sin_t = n_i / n_t * np.sqrt(max(0.0, 1.0 - cos_i * cos_i))
    if sin_t >= 1.0:
        return 1.0, 0.0
    cos_t = np.sqrt(1.0 - sin_t * sin_t)
    if cos_i > 0.999999:
        r = (n_i - n_t) / (n_i + n_t)
        return r * r, cos_t
    rs = (n_i * cos_i - n_t * cos_t) / (n_i * cos_i + n_t * cos_t)
    rp = (n_i * cos_t - n_t * cos_i) / (n_i * cos_t + n_t * cos_i)
    return 0.5 * (rs * rs + rp * rp), cos_t


@numba.njit(cache=True, inline="always")
def _henyey_greenstein_cosine(g, xi):
    if g == 0.0:
        return 2.0 * xi - 1.0
    t = (1.0 - g * g) / (1.0 - g + 2.0 * g * xi)
    return min(1.0, max(-1.0, (1.0 + g * g - t * t) / (2.0 * g)))


@numba.njit(cache=True)
def _trace_photon(mua, mus, g, n, z_bound, n_above, n_below, weight, white, state, path):
    """Follow one photon; returns (exit code, exit weight). ``path`` (per layer, cm) is accumulated."""
    n_layers = mua.shape[0]
    z, ux, uy, uz = 0.0, 0.0, 0.0, 1.0
    layer = 0
    s_left = 0.0
    while True:
        mu_a = 0.0 if white else mua[layer]
        mu_t = mu_a + mus[layer]
        if s_left == 0.0:
            s_left = -np.log(uniform01(state))
        if uz > 0.0:
            d_boundary = (z_bound[layer + 1] - z) / uz
        elif uz < 0.0:
            d_boundary = (z_bound[layer] - z) / uz
        else:
            d_boundary = np.inf
        if mu_t * d_boundary <= s_left:  # reaches the boundary before interacting
            path[layer] += d_boundary
            s_left -= d_boundary * mu_t
            going_down = uz > 0.0
            z = z_bound[layer + 1] if going_down else z_bound[layer]
            if going_down:
                n_next = n_below if layer == n_layers - 1 else n[layer + 1]
            else:
                n_next = n_above if layer == 0 else n[layer - 1]
            r, cos_t = _fresnel(n[layer], n_next, abs(uz))
            if r > 0.0 and uniform01(state) <= r:
                uz = -uz
                continue
            if going_down and layer == n_layers - 1:
                return _EXIT_BOTTOM, weight
            if not going_down and layer == 0:
                return _EXIT_TOP, weight
            ratio = n[layer] / n_next
            ux *= ratio
            uy *= ratio
            uz = cos_t if going_down else -cos_t
            layer += 1 if going_down else -1
            continue
        step = s_left / mu_t
        s_left = 0.0
        z += step * uz
        path[layer] += step
        if mu_a > 0.0:
            weight -= weight * mu_a / mu_t
        cos_theta = _henyey_greenstein_cosine(g[layer], uniform01(state))
        sin_theta = np.sqrt(1.0 - cos_theta * cos_theta)
        psi = 2.0 * np.pi * uniform01(state)
        cos_psi, sin_psi = np.cos(psi), np.sin(psi)
        if abs(uz) > 0.99999:
            ux = sin_theta * cos_psi
            uy = sin_theta * sin_psi
            uz = cos_theta if uz > 0.0 else -cos_theta
        else:
            temp = np.sqrt(1.0 - uz * uz)
            ux_new = sin_theta * (ux * uz * cos_psi - uy * sin_psi) / temp + ux * cos_theta
            uy_new = sin_theta * (uy * uz * cos_psi + ux * sin_psi) / temp + uy * cos_theta
            uz = -sin_theta * cos_psi * temp + uz * cos_theta
            ux, uy = ux_new, uy_new
        if weight < ROULETTE_THRESHOLD and not white:
            if uniform01(state) < ROULETTE_SURVIVAL:
                weight /= ROULETTE_SURVIVAL
            else:
                return _EXIT_NONE, 0.0


@numba.njit(cache=True, inline="always")
def _specular(n_above, n_top):
    r = (n_above - n_top) / (n_above + n_top)
    return r * r


@numba.njit(cache=True, parallel=True)
def _mc_kernel(mua, mus, g, n, d, n_above, n_below, n_photons, seed):
    """Sums over photons per batch item: (sum R, sum R^2, sum T, sum T^2), each (B,)."""
    n_items, n_layers = mua.shape
    n_chunks = (n_photons + CHUNK - 1) // CHUNK
    n_tasks = n_items * n_chunks
    sums = np.zeros((n_tasks, 4))
    for task in numba.prange(n_tasks):
        item = task // n_chunks
        chunk = task % n_chunks
        count = min(CHUNK, n_photons - chunk * CHUNK)
        state = stream_state(seed, task)
        z_bound = np.empty(n_layers + 1)
        z_bound[0] = 0.0
        for k in range(n_layers):
            z_bound[k + 1] = z_bound[k] + d[item, k]
        path = np.zeros(n_layers)
        w0 = 1.0 - _specular(n_above[item], n[item, 0])
        for _ in range(count):
            code, w = _trace_photon(
                mua[item], mus[item], g[item], n[item], z_bound, n_above[item], n_below[item], w0, False, state, path
            )
            if code == _EXIT_TOP:
                sums[task, 0] += w
                sums[task, 1] += w * w
            elif code == _EXIT_BOTTOM:
                sums[task, 2] += w
                sums[task, 3] += w * w
    out = np.zeros((n_items, 4))
    for task in range(n_tasks):
        out[task // n_chunks] += sums[task]
    return out


@numba.njit(cache=True, parallel=True)
def _white_kernel(mus, g, n, d, n_above, n_below, n_photons, seed):
    """Per photon of the single slab: exit code (N,), exit weight (N,), path per layer (N, L)."""
    n_layers = mus.shape[0]
    n_chunks = (n_photons + CHUNK - 1) // CHUNK
    codes = np.zeros(n_photons, dtype=np.int8)
    weights = np.zeros(n_photons)
    paths = np.zeros((n_photons, n_layers))
    mua = np.zeros(n_layers)
    z_bound = np.empty(n_layers + 1)
    z_bound[0] = 0.0
    for k in range(n_layers):
        z_bound[k + 1] = z_bound[k] + d[k]
    w0 = 1.0 - _specular(n_above, n[0])
    for chunk in numba.prange(n_chunks):
        state = stream_state(seed, chunk)
        for p in range(chunk * CHUNK, min(n_photons, (chunk + 1) * CHUNK)):
            code, w = _trace_photon(mua, mus, g, n, z_bound, n_above, n_below, w0, True, state, paths[p])
            codes[p] = code
            weights[p] = w
    return codes, weights, paths


def specular_reflectance(slab: LayeredSlab) -> np.ndarray:
    """Fresnel reflection of the normally incident beam at the top surface, batch shape."""
    r = (slab.n_above - slab.n[..., 0]) / (slab.n_above + slab.n[..., 0])
    return r * r


@dataclass(frozen=True)
class MonteCarloResult:
    """Monte Carlo estimates over the slab's batch shape.

    ``diffuse_reflectance`` (specular excluded) and ``transmittance`` (total: diffuse and
    unscattered) are fractions of the incident power; ``*_std`` are their photon-noise
    standard errors; ``specular_reflectance`` is exact.
    """

    diffuse_reflectance: np.ndarray
    diffuse_reflectance_std: np.ndarray
    transmittance: np.ndarray
    transmittance_std: np.ndarray
    specular_reflectance: np.ndarray
    n_photons: int


def _check_photons(n_photons, seed):
    if int(n_photons) != n_photons or n_photons < 1:
        raise ValueError(f"n_photons must be a positive integer, got {n_photons!r}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(n_photons), int(seed)


def monte_carlo(slab: LayeredSlab, n_photons: int = 100_000, seed: int = 0) -> MonteCarloResult:
    """MCML for every slab of the batch, ``n_photons`` each, parallel over photon chunks.

    Deterministic for a given ``seed`` whatever the number of threads.
    """
    if not isinstance(slab, LayeredSlab):
        raise ValueError(f"slab must be a LayeredSlab, got {type(slab).__name__}")
    n_photons, seed = _check_photons(n_photons, seed)
    flat = slab.flat()
    sums = _mc_kernel(flat.mua, flat.mus, flat.g, flat.n, flat.d, flat.n_above, flat.n_below, n_photons, seed)
    mean = sums / n_photons
    r, t = mean[:, 0], mean[:, 2]
    r_std = np.sqrt(np.maximum(mean[:, 1] - r * r, 0.0) / n_photons)
    t_std = np.sqrt(np.maximum(mean[:, 3] - t * t, 0.0) / n_photons)
    shape = slab.batch_shape
    return MonteCarloResult(
        diffuse_reflectance=r.reshape(shape),
        diffuse_reflectance_std=r_std.reshape(shape),
        transmittance=t.reshape(shape),
        transmittance_std=t_std.reshape(shape),
        specular_reflectance=specular_reflectance(slab),
        n_photons=n_photons,
    )


@dataclass(frozen=True)
class WhiteMonteCarlo:
    """One absorption-free run of a single slab: per escaping photon its weight and path per layer (cm)."""

    reflected_weight: np.ndarray  # (n_reflected,)
    reflected_paths: np.ndarray  # (n_reflected, n_layers)
    transmitted_weight: np.ndarray
    transmitted_paths: np.ndarray
    n_photons: int

    def _reweight(self, weight, paths, mua):
        mua = np.asarray(mua, dtype=float)
        if mua.shape[-1:] != paths.shape[1:]:
            raise ValueError(f"mua must end with the layer axis of length {paths.shape[1]}, got shape {mua.shape}")
        if np.any(mua < 0) or not np.all(np.isfinite(mua)):
            raise ValueError("mua must be finite and >= 0 (1/cm)")
        flat = mua.reshape(-1, paths.shape[1])
        values = np.exp(-flat @ paths.T) @ weight / self.n_photons
        return values.reshape(mua.shape[:-1])

    def diffuse_reflectance(self, mua) -> np.ndarray:
        """Diffuse reflectance for absorption ``mua`` (..., n_layers) in 1/cm: shape ``mua.shape[:-1]``."""
        return self._reweight(self.reflected_weight, self.reflected_paths, mua)

    def transmittance(self, mua) -> np.ndarray:
        """Total transmittance for absorption ``mua`` (..., n_layers)."""
        return self._reweight(self.transmitted_weight, self.transmitted_paths, mua)


def white_monte_carlo(slab: LayeredSlab, n_photons: int = 100_000, seed: int = 0) -> WhiteMonteCarlo:
    """White Monte Carlo of one slab (batch shape ()) with finite layers; ``slab.mua`` is ignored."""
    if not isinstance(slab, LayeredSlab):
        raise ValueError(f"slab must be a LayeredSlab, got {type(slab).__name__}")
    if slab.batch_shape != ():
        raise ValueError(f"white_monte_carlo takes one slab (batch shape ()), got batch shape {slab.batch_shape}")
    if not np.all(np.isfinite(slab.d)):
        raise ValueError("white_monte_carlo needs finite layer thicknesses (absorption-free paths never end)")
    n_photons, seed = _check_photons(n_photons, seed)
    codes, weights, paths = _white_kernel(
        slab.mus, slab.g, slab.n, slab.d, float(slab.n_above), float(slab.n_below), n_photons, seed
    )
    top, bottom = codes == _EXIT_TOP, codes == _EXIT_BOTTOM
    return WhiteMonteCarlo(weights[top], paths[top], weights[bottom], paths[bottom], n_photons)
