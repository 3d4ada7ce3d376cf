"""Maximum mean discrepancy (MMD) between two sample sets, differentiable in torch.

MMD^2(P, Q) = E k(a, a') + E k(b, b') - 2 E k(a, b). Here it is the *biased* estimate:
the plain mean over the full kernel matrices, diagonals included, as the paper's public
experiment code computes it (Ardizzone et al. 2019, arXiv 1808.04730). It is >= 0 for
a positive-definite kernel, exactly 0 for identical sets, and is not unbiased.

Kernels act on squared Euclidean distances ``d2`` (any shape) and are sums of
heavy-tailed multiquadratic terms, which give useful gradients far from the data where
Gaussian kernels vanish:

- :func:`inverse_multiquadratic`: sum_h h^2 / (h^2 + d2) (the paper's text, the 8-mode toy).
- :func:`generalized_multiquadratic`: sum_(C, a) C^a ((C + d2) / a)^(-a) (the family the
  paper's code uses for the oximetry experiment; (C, a) = (h^2, 1) is the term above).

Use ``functools.partial`` (or :func:`imq_kernel` / :func:`multiquadratic_kernel`) to fix
the widths and pass the result as ``kernel=`` to :func:`mmd`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import torch

__all__ = [
    "TOY_WIDTHS",
    "PAPER_FORWARD_KERNEL_PARAMS",
    "PAPER_BACKWARD_KERNEL_PARAMS",
    "PAPER_Y_SIGMA",
    "inverse_multiquadratic",
    "generalized_multiquadratic",
    "imq_kernel",
    "multiquadratic_kernel",
    "squared_distances",
    "y_similarity_weights",
    "mmd",
    "mmd_numpy",
]

Kernel = Callable[[torch.Tensor], torch.Tensor]

#: Widths h of the 8-mode toy's inverse multiquadratic kernel sum.
TOY_WIDTHS: tuple[float, ...] = (0.05, 0.2, 0.9)
#: (C, a) pairs of the paper code's forward (latent) MMD, oximetry experiment.
PAPER_FORWARD_KERNEL_PARAMS: tuple[tuple[float, float], ...] = ((0.2, 2.0), (1.5, 2.0), (3.0, 2.0))
#: (C, a) pairs of the paper code's backward (x-space) MMD, oximetry experiment.
PAPER_BACKWARD_KERNEL_PARAMS: tuple[tuple[float, float], ...] = ((0.2, 0.1), (0.2, 0.5), (0.2, 2.0))
#: sigma of the y-similarity weight exp(-|y_i - y_j|^2 / (2 sigma^2)) of the backward MMD.
PAPER_Y_SIGMA: float = 0.48


def _positive_tuple(values, field: str) -> tuple[float, ...]:
    values = tuple(float(v) for v in np.atleast_1d(np.asarray(values, dtype=float)))
    if not values or not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"{field} must be a non-empty sequence of positive finite numbers, got {values}")
    return values


def _kernel_params(params) -> tuple[tuple[float, float], ...]:
    arr = np.asarray(params, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"params must be a non-empty sequence of (C, a) pairs with C > 0 and a > 0, got {params!r}")
    return tuple((float(c), float(a)) for c, a in arr)


def inverse_multiquadratic(d2: torch.Tensor, widths: Sequence[float] = TOY_WIDTHS) -> torch.Tensor:
    """sum_h h^2 / (h^2 + d2) elementwise; ``d2`` squared distances of any shape, same shape out."""
    widths = _positive_tuple(widths, "widths")
    out = torch.zeros_like(d2)
    for h in widths:
        out = out + h * h / (h * h + d2)
    return out


def generalized_multiquadratic(
    d2: torch.Tensor, params: Sequence[tuple[float, float]] = PAPER_FORWARD_KERNEL_PARAMS
) -> torch.Tensor:
    """sum over (C, a) of C^a ((C + d2) / a)^(-a) elementwise; same shape as ``d2``.

    A term equals a^a at d2 = 0 and decays like d2^(-a) (heavier tails for small a);
    (C, a) = (h^2, 1) gives the inverse multiquadratic h^2 / (h^2 + d2).
    """
    params = _kernel_params(params)
    out = torch.zeros_like(d2)
    for c, a in params:
        out = out + c**a * ((c + d2) / a) ** (-a)
    return out


def imq_kernel(widths: Sequence[float] = TOY_WIDTHS) -> Kernel:
    """:func:`inverse_multiquadratic` with fixed widths, as a ``kernel=`` for :func:`mmd`."""
    return partial(inverse_multiquadratic, widths=_positive_tuple(widths, "widths"))


def multiquadratic_kernel(params: Sequence[tuple[float, float]]) -> Kernel:
    """:func:`generalized_multiquadratic` with fixed (C, a) pairs, as a ``kernel=`` for :func:`mmd`."""
    return partial(generalized_multiquadratic, params=_kernel_params(params))


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a_i - b_j|^2 for a (..., n, d), b (..., m, d): tensor (..., n, m), >= 0.

    Uses |a|^2 + |b|^2 - 2 a.b (memory O(n m), not O(n m d)), clamped at 0 against
    round-off; unlike ``torch.cdist(...)**2`` its gradient at zero distance is finite.
    Leading (batch) dimensions broadcast.
    """
    aa = (a * a).sum(dim=-1, keepdim=True)
    bb = (b * b).sum(dim=-1)[..., None, :]
    return (aa + bb - 2.0 * (a @ b.transpose(-1, -2))).clamp_min(0.0)


def y_similarity_weights(y: torch.Tensor, sigma: float = PAPER_Y_SIGMA) -> torch.Tensor:
    """exp(-|y_i - y_j|^2 / (2 sigma^2)) for y (n, dy): (n, n) weights for :func:`mmd`.

    The paper code's weighting of the backward MMD: pairs of rows whose conditioning y
    differ by much more than the measurement uncertainty ``sigma`` are not compared.
    Computed without gradient (the weights are constants of the loss).
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    y = _as_2d(y, "y")
    with torch.no_grad():
        return torch.exp(-0.5 / sigma**2 * squared_distances(y, y))


def _as_2d(t: torch.Tensor, field: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{field} must be a torch.Tensor of shape (n, d), got {type(t).__name__}")
    if t.ndim != 2 or t.shape[0] == 0:
        raise ValueError(f"{field} must have shape (n, d) with n >= 1, got {tuple(t.shape)}")
    return t


def mmd(
    a: torch.Tensor,
    b: torch.Tensor,
    kernel: Kernel | None = None,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Biased MMD^2 estimate between sample sets a (n, d) and b (m, d): a 0-dim tensor.

    ``kernel`` maps squared distances to kernel values (default: inverse multiquadratic
    with :data:`TOY_WIDTHS`). The estimate is mean(K_aa) + mean(K_bb) - 2 mean(K_ab).

    ``weights`` (n, n), optional, for *paired* sets (n == m, row i of a and of b share a
    condition y_i): the estimate becomes mean(W * (K_aa + K_bb - 2 K_ab)), elementwise,
    which is exactly how the paper's code weights its backward MMD with
    :func:`y_similarity_weights`. All three terms are weighted (not only the cross term),
    so identical sets still give 0. The result is differentiable in ``a`` and ``b``; it
    keeps their dtype (float32 or float64).
    """
    a = _as_2d(a, "a")
    b = _as_2d(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same number of columns, got {a.shape[1]} and {b.shape[1]}")
    kernel = imq_kernel() if kernel is None else kernel
    # Centering on a common point reduces round-off in |a|^2 + |b|^2 - 2 a.b.
    center = torch.cat([a, b]).mean(dim=0, keepdim=True).detach()
    a, b = a - center, b - center
    k_aa = kernel(squared_distances(a, a))
    k_bb = kernel(squared_distances(b, b))
    k_ab = kernel(squared_distances(a, b))
    if weights is None:
        return k_aa.mean() + k_bb.mean() - 2.0 * k_ab.mean()
    n = a.shape[0]
    if b.shape[0] != n:
        raise ValueError(f"weights need paired sets (equal row counts), got {n} and {b.shape[0]} rows")
    if not isinstance(weights, torch.Tensor) or tuple(weights.shape) != (n, n):
        raise ValueError(
            f"weights must be a torch.Tensor of shape ({n}, {n}), got {getattr(weights, 'shape', weights)!r}"
        )
    return (weights.to(k_aa.dtype) * (k_aa + k_bb - 2.0 * k_ab)).mean()


#: Kernel-matrix elements evaluated at once by :func:`mmd_numpy` (bounds its memory).
_BLOCK_ELEMENTS = 2**24


def _kernel_mean(a: torch.Tensor, b: torch.Tensor, kernel: Kernel) -> torch.Tensor:
    """mean_ij k(a_i, b_j) per batch entry, a (B, n, d), b (B, m, d) -> (B,), in blocks."""
    block = max(1, int((_BLOCK_ELEMENTS / a.shape[0]) ** 0.5))
    total = torch.zeros(a.shape[0], dtype=a.dtype)
    for i in range(0, a.shape[1], block):
        for j in range(0, b.shape[1], block):
            total += kernel(squared_distances(a[:, i : i + block], b[:, j : j + block])).sum(dim=(1, 2))
    return total / (a.shape[1] * b.shape[1])


def mmd_numpy(a, b, widths: Sequence[float] = TOY_WIDTHS, params=None):
    """Biased MMD^2 between numpy sample sets, in float64.

    a (n, d) and b (m, d) -> a Python float; or, per observation, a (n_obs, n, d) and
    b (n_obs, m, d) -> array (n_obs,) (e.g. a model's posterior draws against a
    rejection-ABC reference, for every observation at once). Inverse multiquadratic
    kernel with ``widths``, or the generalized multiquadratic family when ``params``
    ((C, a) pairs) is given. Kernel matrices are summed in blocks, so memory stays
    bounded (~2^24 elements) whatever the set sizes.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    single = a.ndim == 2
    for name, arr in (("a", a), ("b", b)):
        if arr.ndim not in (2, 3) or arr.ndim != a.ndim or arr.shape[-2] == 0:
            raise ValueError(f"{name} must have shape (n, d) or (n_obs, n, d) like a, with n >= 1, got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values")
    if a.shape[-1] != b.shape[-1] or (not single and a.shape[0] != b.shape[0]):
        raise ValueError(f"a {a.shape} and b {b.shape} must agree in n_obs and d")
    kernel = imq_kernel(widths) if params is None else multiquadratic_kernel(params)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    if single:
        ta, tb = ta[None], tb[None]
    center = torch.cat([ta, tb], dim=1).mean(dim=1, keepdim=True)
    ta, tb = ta - center, tb - center
    with torch.no_grad():
        value = _kernel_mean(ta, ta, kernel) + _kernel_mean(tb, tb, kernel) - 2.0 * _kernel_mean(ta, tb, kernel)
    return float(value[0]) if single else value.numpy()
