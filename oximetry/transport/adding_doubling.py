"""Adding-doubling for layered slabs: a deterministic, fast solver of the same transport problem.

Representation: flux per quadrature bin, so a layer is a pair of matrices R, T (bins x
bins) that map incident to reflected / transmitted flux, and stacking layers is plain
matrix algebra. Per layer: Henyey-Greenstein in Legendre terms with delta-M truncation
(M = N terms, f = g^N; scaled albedo a(1-f)/(1-af), optical thickness tau(1-af)); the
redistribution matrix with its columns renormalized so scattering conserves energy on the
quadrature; a thin layer from the diamond-difference scheme, doubled
nd = ceil(log2(tau* / (16 nu_min))) times. Layers are added from the bottom: the lower Fresnel
boundary, then layer by layer with exact refractive interfaces (see :mod:`quadrature`),
and finally the top boundary with the normally incident beam (entry loss 1 - r0).

References: van de Hulst (1980) Multiple Light Scattering; Prahl (1995) "The
adding-doubling method", in Optical-Thermal Response of Laser-Irradiated Tissue;
Wiscombe (1976) on the diamond initialization; Wiscombe (1977) on delta-M.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from oximetry.transport.monte_carlo import specular_reflectance
from oximetry.transport.quadrature import layer_quadrature
from oximetry.transport.slab import LayeredSlab

__all__ = ["AddingDoublingResult", "adding_doubling"]

TAU_MAX = 1.0e4  # optical thickness standing in for a semi-infinite layer
# The diamond-difference start layer is at most START_FACTOR * nu_min thick. Against a start
# at nu_min this changed colon band reflectances by <= 0.04 % (N = 16) and saves four doublings.
START_FACTOR = 16.0


_JIT = dict(cache=True, fastmath=True, error_model="numpy")


@numba.njit(**_JIT)
def _fresnel(n_i, n_t, cos_i):
    """Unpolarized Fresnel reflectance for incidence cosine ``cos_i`` from index n_i into n_t."""
    if n_i == n_t:
        return 0.0
    sin_t = n_i / n_t * np.sqrt(max(0.0, 1.0 - cos_i * cos_i))
    if sin_t >= 1.0:
        return 1.0
    cos_t = np.sqrt(1.0 - sin_t * sin_t)
    rs = (n_i * cos_i - n_t * cos_t) / (n_i * cos_i + n_t * cos_t)
    rp = (n_i * cos_t - n_t * cos_i) / (n_i * cos_t + n_t * cos_i)
    return 0.5 * (rs * rs + rp * rp)


# Small dense kernels written out so the doubling loop allocates nothing and LLVM vectorizes the
# contiguous inner loops. The systems solved, I - R R and their kin, are diagonally dominant
# (column sums of R and T stay below one), so elimination needs no pivoting.
@numba.njit(**_JIT)
def _matmul(a, b, out):
    """out = a @ b (square or (m, k) @ (k, n)); ``out`` must not alias a or b."""
    m, k = a.shape
    n = b.shape[1]
    b_t = np.empty((n, k))  # contiguous columns of b: each entry is a unit-stride dot product
    for l in range(k):
        for j in range(n):
            b_t[j, l] = b[l, j]
    for i in range(m):
        for j in range(n):
            total = 0.0
            for l in range(k):
                total += a[i, l] * b_t[j, l]
            out[i, j] = total


@numba.njit(**_JIT)
def _solve_inplace(m, b):
    """Overwrite ``b`` (k, n) with m^-1 b by Gaussian elimination without pivoting; ``m`` is destroyed."""
    k = m.shape[0]
    n = b.shape[1]
    for p in range(k):
        inv = 1.0 / m[p, p]
        for i in range(p + 1, k):
            factor = m[i, p] * inv
            if factor != 0.0:
                for j in range(p + 1, k):
                    m[i, j] -= factor * m[p, j]
                for j in range(n):
                    b[i, j] -= factor * b[p, j]
    for i in range(k - 1, -1, -1):
        inv = 1.0 / m[i, i]
        for l in range(i + 1, k):
            m_il = m[i, l]
            for j in range(n):
                b[i, j] -= m_il * b[l, j]
        for j in range(n):
            b[i, j] *= inv


@numba.njit(**_JIT)
def _identity_minus_product(a, b, out):
    """out = I - a @ b."""
    _matmul(a, b, out)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = -out[i, j]
        out[i, i] += 1.0


@numba.njit(**_JIT)
def _layer_matrices(mua, mus, g, d, nu, w, n_terms):
    """R, T (K x K, flux representation) of one homogeneous layer for quadrature (nu, w)."""
    k = nu.shape[0]
    mut = mua + mus
    albedo = mus / mut if mut > 0.0 else 0.0
    f = g**n_terms
    albedo_s = albedo * (1.0 - f) / (1.0 - albedo * f)
    tau_s = min(mut * d * (1.0 - albedo * f), TAU_MAX)
    r = np.zeros((k, k))
    t = np.zeros((k, k))
    if tau_s <= 0.0:
        for i in range(k):
            t[i, i] = 1.0
        return r, t
    # delta-M Legendre moments and the azimuth-averaged redistribution on the quadrature
    legendre = np.empty((n_terms, k))
    for i in range(k):
        legendre[0, i] = 1.0
        if n_terms > 1:
            legendre[1, i] = nu[i]
    for l in range(2, n_terms):
        for i in range(k):
            legendre[l, i] = ((2 * l - 1) * nu[i] * legendre[l - 1, i] - (l - 1) * legendre[l - 2, i]) / l
    coef = np.empty(n_terms)
    g_power = 1.0
    for l in range(n_terms):
        coef[l] = (2 * l + 1) / 2.0 * (g_power - f) / (1.0 - f)
        g_power *= g
    p_same = np.zeros((k, k))
    p_opp = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            even = 0.0
            odd = 0.0
            for l in range(0, n_terms, 2):
                even += coef[l] * legendre[l, i] * legendre[l, j]
            for l in range(1, n_terms, 2):
                odd += coef[l] * legendre[l, i] * legendre[l, j]
            p_same[i, j] = w[i] * (even + odd)
            p_opp[i, j] = w[i] * (even - odd)
    for j in range(k):
        total = 0.0
        for i in range(k):
            total += p_same[i, j] + p_opp[i, j]
        for i in range(k):
            p_same[i, j] /= total
            p_opp[i, j] /= total
    nu_min = nu[0]
    for i in range(k):
        nu_min = min(nu_min, nu[i])
    n_doublings = max(0, int(np.ceil(np.log2(tau_s / (START_FACTOR * nu_min)))))
    half_step = 0.5 * tau_s / 2.0**n_doublings
    # diamond difference: E = (I+A)^-1 B, C = B E, T = (I+A-C)^-1 (I-A+C), R = E (I+T)
    a = np.empty((k, k))
    e = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            a[i, j] = half_step * ((1.0 if i == j else 0.0) - albedo_s * p_same[i, j]) / nu[j]
            e[i, j] = half_step * albedo_s * p_opp[i, j] / nu[j]
    b = e.copy()
    m = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            m[i, j] = a[i, j] + (1.0 if i == j else 0.0)
    _solve_inplace(m, e)
    c = np.empty((k, k))
    _matmul(b, e, c)
    for i in range(k):
        for j in range(k):
            delta = 1.0 if i == j else 0.0
            m[i, j] = delta + a[i, j] - c[i, j]
            t[i, j] = delta - a[i, j] + c[i, j]
    _solve_inplace(m, t)
    for i in range(k):
        t[i, i] += 1.0
    _matmul(e, t, r)
    for i in range(k):
        t[i, i] -= 1.0
    # doubling: X = (I - R R)^-1 T, R <- R + (T R) X, T <- T X
    tr = np.empty((k, k))
    for _ in range(n_doublings):
        _identity_minus_product(r, r, m)
        x = t.copy()
        _solve_inplace(m, x)
        _matmul(t, r, tr)
        _matmul(tr, x, c)
        for i in range(k):
            for j in range(k):
                r[i, j] += c[i, j]
        _matmul(t, x, tr)
        t, tr = tr, t
    return r, t


@numba.njit(**_JIT)
def _add_layer_on_top(r_layer, t_layer, r_stack, t_stack):
    """Stack (R, t) after putting a symmetric layer (R_l, T_l) on top: R_l + T_l (I - Rs R_l)^-1 Rs T_l."""
    k = r_layer.shape[0]
    m = np.empty((k, k))
    x = np.empty((k, k))
    _identity_minus_product(r_stack, r_layer, m)
    _matmul(r_stack, t_layer, x)
    _solve_inplace(m, x)
    r_new = np.empty((k, k))
    _matmul(t_layer, x, r_new)
    for i in range(k):
        for j in range(k):
            r_new[i, j] += r_layer[i, j]
    # t (I - R_l Rs)^-1 T_l: solve the transposed system for the row vector
    _identity_minus_product(r_layer, r_stack, m)
    m_t = np.ascontiguousarray(m.T)
    y = t_stack.reshape(k, 1).copy()
    _solve_inplace(m_t, y)
    t_new = np.zeros(k)
    for l in range(k):
        for j in range(k):
            t_new[j] += y[l, 0] * t_layer[l, j]
    return r_new, t_new


@numba.njit(**_JIT)
def _cross_interface(r_stack, t_stack, nu_top, n_top, n_bottom, k_top):
    """Stack (R, t) seen from the layer above an index step (k_top bins above, R's size below).

    Bins with the same Snell invariant s pair up with Fresnel transmission 1 - r; bins that
    exist on one side only are totally reflected (r = 1).
    """
    k_bottom = r_stack.shape[0]
    k_common = min(k_top, k_bottom)
    r_top = np.ones(k_top)
    r_bottom = np.ones(k_bottom)
    t_pass = np.zeros(k_common)
    for i in range(k_common):
        r = _fresnel(n_top, n_bottom, nu_top[i])
        r_top[i] = r
        r_bottom[i] = r
        t_pass[i] = 1.0 - r
    # R' = Ra + Ta^T (I - Rs Ra')^-1 Rs Ta ;  t' = t (I - Ra' Rs)^-1 Ta
    m = np.empty((k_bottom, k_bottom))
    m_up = np.empty((k_bottom, k_bottom))
    for i in range(k_bottom):
        for j in range(k_bottom):
            m[i, j] = (1.0 if i == j else 0.0) - r_stack[i, j] * r_bottom[j]
            m_up[j, i] = (1.0 if i == j else 0.0) - r_bottom[i] * r_stack[i, j]
    x = np.zeros((k_bottom, k_top))
    for i in range(k_bottom):
        for j in range(k_common):
            x[i, j] = r_stack[i, j] * t_pass[j]
    _solve_inplace(m, x)
    r_new = np.zeros((k_top, k_top))
    for i in range(k_common):
        for j in range(k_top):
            r_new[i, j] = t_pass[i] * x[i, j]
    for i in range(k_top):
        r_new[i, i] += r_top[i]
    y = t_stack.reshape(k_bottom, 1).copy()
    _solve_inplace(m_up, y)
    t_new = np.zeros(k_top)
    for i in range(k_common):
        t_new[i] = y[i, 0] * t_pass[i]
    return r_new, t_new


@numba.njit(**_JIT)
def _solve_slab(mua, mus, g, n, d, n_above, n_below, quad_nu, quad_w, quad_size, n_terms):
    """(diffuse reflectance, total transmittance) of one slab; quad_* are its quadrature's arrays."""
    last = mua.shape[0] - 1
    k = quad_size[last]
    r_stack = np.zeros((k, k))
    t_stack = np.empty(k)
    for i in range(k):
        r = _fresnel(n[last], n_below, quad_nu[last, i])
        r_stack[i, i] = r
        t_stack[i] = 1.0 - r
    for layer in range(last, -1, -1):
        k = quad_size[layer]
        nu = quad_nu[layer, :k].copy()
        if layer < last and n[layer] != n[layer + 1]:
            r_stack, t_stack = _cross_interface(r_stack, t_stack, nu, n[layer], n[layer + 1], k)
        r_layer, t_layer = _layer_matrices(
            mua[layer], mus[layer], g[layer], d[layer], nu, quad_w[layer, :k].copy(), n_terms
        )
        r_stack, t_stack = _add_layer_on_top(r_layer, t_layer, r_stack, t_stack)
    k = quad_size[0]
    system = np.empty((k, k))
    r_exit = np.empty(k)
    for i in range(k):
        r_exit[i] = _fresnel(n[0], n_above, quad_nu[0, i])
        for j in range(k):
            system[i, j] = (1.0 if i == j else 0.0) - r_exit[i] * r_stack[i, j]
    r0 = (n_above - n[0]) / (n_above + n[0])
    down = np.zeros((k, 1))
    down[0, 0] = 1.0 - r0 * r0
    _solve_inplace(system, down)
    reflectance = 0.0
    transmittance = 0.0
    for i in range(k):
        up_i = 0.0
        for j in range(k):
            up_i += r_stack[i, j] * down[j, 0]
        reflectance += (1.0 - r_exit[i]) * up_i
        transmittance += t_stack[i] * down[i, 0]
    return reflectance, transmittance


@numba.njit(cache=True, parallel=True)
def _ad_kernel(mua, mus, g, n, d, n_above, n_below, quad_index, quad_nu, quad_w, quad_size, n_terms):
    """Diffuse reflectance and total transmittance (B, 2) for every slab of the flat batch."""
    n_items = mua.shape[0]
    out = np.zeros((n_items, 2))
    for item in numba.prange(n_items):
        q = quad_index[item]
        out[item, 0], out[item, 1] = _solve_slab(
            mua[item],
            mus[item],
            g[item],
            n[item],
            d[item],
            n_above[item],
            n_below[item],
            quad_nu[q],
            quad_w[q],
            quad_size[q],
            n_terms,
        )
    return out


@dataclass(frozen=True)
class AddingDoublingResult:
    """Deterministic estimates over the slab's batch shape (fractions of the incident power)."""

    diffuse_reflectance: np.ndarray
    transmittance: np.ndarray
    specular_reflectance: np.ndarray
    n_quad: int


def _quadratures(flat: LayeredSlab, n_quad: int):
    keys = np.concatenate([flat.n, flat.n_above[:, None], flat.n_below[:, None]], axis=1)
    unique, index = np.unique(keys, axis=0, return_inverse=True)
    quads = [layer_quadrature(tuple(row[:-2]), float(row[-2]), float(row[-1]), n_quad) for row in unique]
    k_max = max(q.nu.shape[1] for q in quads)
    n_layers = flat.n_layers
    nu = np.zeros((len(quads), n_layers, k_max))
    w = np.zeros((len(quads), n_layers, k_max))
    size = np.zeros((len(quads), n_layers), dtype=np.int64)
    for i, q in enumerate(quads):
        nu[i, :, : q.nu.shape[1]] = q.nu
        w[i, :, : q.nu.shape[1]] = q.weight
        size[i] = q.size
    return index.reshape(-1).astype(np.int64), nu, w, size


def adding_doubling(slab: LayeredSlab, n_quad: int = 16) -> AddingDoublingResult:
    """Diffuse reflectance and total transmittance of every slab for a normally incident beam.

    ``n_quad`` (even, 4..32) is N, the quadrature points per hemisphere in the escape cone
    plus the cone totally reflected at the top surface (N/2 each; index-matched slabs get N
    in one segment) and the number of delta-M terms. Parallel over the batch.
    """
    if not isinstance(slab, LayeredSlab):
        raise ValueError(f"slab must be a LayeredSlab, got {type(slab).__name__}")
    if int(n_quad) != n_quad or n_quad % 2 or not 4 <= n_quad <= 32:
        raise ValueError(f"n_quad must be an even integer in [4, 32], got {n_quad!r}")
    flat = slab.flat()
    quad_index, nu, w, size = _quadratures(flat, int(n_quad))
    mut = flat.mua + flat.mus
    d = np.where(np.isinf(flat.d), TAU_MAX / np.maximum(mut, 1e-300), flat.d)
    out = _ad_kernel(
        flat.mua, flat.mus, flat.g, flat.n, d, flat.n_above, flat.n_below, quad_index, nu, w, size, int(n_quad)
    )
    shape = slab.batch_shape
    return AddingDoublingResult(
        out[:, 0].reshape(shape), out[:, 1].reshape(shape), specular_reflectance(slab), int(n_quad)
    )
