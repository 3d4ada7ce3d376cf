"""Population (hierarchical) inference on top of amortized posteriors, for any domain.

An amortized estimator gives draws theta_ij ~ q(theta | y_i) under its training prior pi_0
for each case i of a collection (clusters of a catalogue, pixels of an image). Together
they constrain the population pi_lambda of parameters that one case's data leave
degenerate. Following the recipe of gravitational-wave population studies (Thrane & Talbot
2019, PASA 36, e010; Mandel, Farr & Gair 2019, MNRAS 486, 1086):

    log L(lambda) = sum_i log mean_j [pi_lambda(theta_ij) / pi_0(theta_ij)]   (+ const)

and each case's posterior under pi_lambda is its draws reweighted by pi_lambda / pi_0.
Given the estimator's effective prior q_bar (:mod:`inn_engine.effective_prior`: the density
its posteriors of training-prior cases average to), the draws are divided by q_bar instead
of pi_0, so that the estimator's averaged-posterior waves are not fitted as population
structure. Where each case's draws were restricted to a known value of another parameter
(``given``: an astro cluster's metallicity), each is divided by the effective prior at its
own value, since the estimator's waves depend on it.

Family: a histogram over the fitted parameters ``params`` with equal-width bins
(``bin_width``, in the coordinate in which pi_0 is flat: the value, or its log10 for the
parameters in ``log10``) over the training support (cut at ``upper[param]``, a hard
limit, when given), the cell masses p = softmax(alpha), and a Gaussian Markov-random-field
prior on the log-densities alpha: neighbouring bins differ by N(0, smoothness^2) along
every axis, so with little data the fit stays near the flat training prior. The
smoothness is chosen from :data:`SMOOTHNESS_GRID` by the Laplace approximation of the
evidence, the fit is the posterior mode in alpha (L-BFGS, analytic gradient), and
:data:`N_POPULATION_DRAWS` populations are drawn from the exact posterior of alpha by
Langevin Monte Carlo preconditioned with the Laplace covariance (the Laplace Gaussian alone
inflated the tails: see :func:`_posterior_draws`). A case's posterior under the fitted
population averages its reweighted posteriors over those draws.

A histogram cell's log-likelihood term depends on the draws only through the share of each
case's draws per cell, so the fit costs a sparse (cases x cells) matrix, not the draws.
The training prior must be flat over each fitted parameter's support (in its coordinate);
the other parameters may have any prior, which cancels.

Selection: the population fitted is that of the cases given, not corrected for how they
were selected.

API (arrays in physical units, parameters in the order ``names``)::

    population = fit_population(draws, bounds, names, ("A_V",), {"A_V": 0.15})  # draws (n, m, d)
    kept, ess = population.reweight(draws, keep=1000)    # (n, 1000, d), (n,)
    population.to_dict(); plot_population(population)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = [
    "fit_population",
    "Population",
    "plot_population",
    "resample",
    "MIN_EFFECTIVE_DRAWS",
    "SMOOTHNESS_GRID",
    "N_POPULATION_DRAWS",
    "MAX_FIT_CASES",
]

#: candidate prior sd of the log-density step between neighbouring bins (chosen by evidence)
SMOOTHNESS_GRID = (0.3, 1.0, 3.0, 10.0)
RIDGE = 1e-3  # weak pull of the log-densities towards flat (fixes softmax's free offset)
N_POPULATION_DRAWS = 64
MCMC_BURN_IN, MCMC_THIN = 500, 10  # Langevin steps for the population draws
MIN_EFFECTIVE_DRAWS = 50
#: cases a population is fitted on at most (a random subset of larger collections)
MAX_FIT_CASES = 2000
MAX_ALPHA = 2000  # histogram parameters at most (the Hessian is dense)


@dataclass(frozen=True)
class Grid:
    """Equal-width bins over the fitted parameters ``params`` (columns ``columns`` of the draws).

    ``edges``: one array of bin edges per fitted parameter, in the flat-prior coordinate;
    ``support``: the training prior's (low, high) per fitted parameter in that coordinate;
    ``log_q`` (cells,): log mass of each cell under the density the draws were drawn under:
    the training prior (its share of the full support) or the estimator's effective prior
    (:mod:`inn_engine.effective_prior`);
    ``joint``: True for one softmax over all cells (alpha has one entry per cell), False for
    a product of one histogram per parameter (alpha: the per-parameter log-densities, concatenated);
    ``log10``: the fitted parameters binned in log10 of their value (their prior is flat there).
    """

    names: tuple
    params: tuple
    columns: tuple
    edges: tuple
    support: tuple
    log_q: np.ndarray
    joint: bool
    log10: tuple = ()

    @property
    def shape(self) -> tuple:
        return tuple(len(e) - 1 for e in self.edges)

    @property
    def blocks(self) -> list:
        """Slices of alpha that each carry one softmax."""
        sizes = [int(np.prod(self.shape))] if self.joint else list(self.shape)
        ends = np.cumsum([0] + sizes)
        return [slice(int(a), int(b)) for a, b in zip(ends[:-1], ends[1:])]

    def cells(self, x: np.ndarray) -> np.ndarray:
        """Flat cell index (...) of parameter rows x (..., len(names)); -1 outside or NaN."""
        index = np.zeros(x.shape[:-1], np.int64)
        inside = np.ones(x.shape[:-1], bool)
        for p, column, edges in zip(self.params, self.columns, self.edges):
            with np.errstate(invalid="ignore", divide="ignore"):
                v = np.log10(x[..., column]) if p in self.log10 else x[..., column]
            k = np.searchsorted(edges, v, side="right") - 1
            k = np.where(v == edges[-1], len(edges) - 2, k)  # the upper bound belongs to the last bin
            inside &= (k >= 0) & (k < len(edges) - 1)
            index = index * (len(edges) - 1) + np.clip(k, 0, len(edges) - 2)
        return np.where(inside, index, -1)

    def log_block_softmax(self, alpha: np.ndarray) -> np.ndarray:
        """(..., n_alpha): log-softmax of alpha (..., n_alpha) within each block."""
        return np.concatenate([_log_softmax(alpha[..., b]) for b in self.blocks], axis=-1)

    def log_p(self, alpha: np.ndarray) -> np.ndarray:
        """(..., cells) log population mass per cell for log-densities alpha (..., n_alpha)."""
        log_pb = self.log_block_softmax(alpha)
        if self.joint:
            return log_pb
        total = np.zeros(alpha.shape[:-1] + (1,))
        for b in self.blocks:
            total = (total[..., :, None] + log_pb[..., None, b]).reshape(alpha.shape[:-1] + (-1,))
        return total

    def indicator(self):
        """Sparse (cells, n_alpha) M: M[c, a] = 1 when alpha entry a is cell c's bin."""
        from scipy.sparse import csr_matrix, identity

        n = int(np.prod(self.shape))
        if self.joint:
            return identity(n, format="csr")
        k = np.stack(np.unravel_index(np.arange(n), self.shape), axis=1) + np.array([b.start for b in self.blocks])
        return csr_matrix(
            (np.ones(k.size), (np.repeat(np.arange(n), len(self.shape)), k.ravel())), shape=(n, self.blocks[-1].stop)
        )

    def precision(self, smoothness: float) -> np.ndarray:
        """(n_alpha, n_alpha) GMRF prior precision: first differences of the log-density along
        every axis / smoothness^2, plus RIDGE towards flat."""
        if self.joint:
            return _difference_precision(self.shape, smoothness)
        from scipy.linalg import block_diag

        return block_diag(*[_difference_precision((k,), smoothness) for k in self.shape])


def _grid(bounds, params, names, bin_width, joint, log10=(), upper=None) -> Grid:
    """The histogram's bins; ``bounds`` (len(names), 2) is the training support in physical
    units, ``upper`` {param: hard upper limit [physical units]} cuts the population's support."""
    bounds = np.asarray(bounds, float)
    upper = upper or {}
    edges, log_q, columns, support = [], [], [], []
    for p in params:
        column = names.index(p)
        low, high = np.log10(bounds[column]) if p in log10 else bounds[column]
        top = high
        if p in upper:
            top = min(high, float(np.log10(upper[p]) if p in log10 else upper[p]))
        k = max(1, int(np.ceil((top - low) / bin_width[p] - 1e-9)))
        e = np.linspace(low, top, k + 1)
        edges.append(e)
        log_q.append(np.log(np.diff(e) / (high - low)))
        columns.append(column)
        support.append((float(low), float(high)))
    total = np.zeros(())
    for lq in log_q:
        total = np.add.outer(total, lq)
    return Grid(
        tuple(names),
        tuple(params),
        tuple(columns),
        tuple(edges),
        tuple(support),
        total.ravel(),
        joint,
        tuple(p for p in params if p in log10),
    )


def _cell_shares(cells: np.ndarray, n_cells: int):
    """Sparse (n, n_cells) share of each row's draws per cell, from cell indices (n, m)."""
    from scipy.sparse import csr_matrix

    n, m = cells.shape
    rows = np.repeat(np.arange(n), m)
    flat = cells.ravel()
    ok = flat >= 0
    return csr_matrix((np.full(ok.sum(), 1.0 / m), (rows[ok], flat[ok])), shape=(n, n_cells))


def _difference_precision(shape: tuple, smoothness: float) -> np.ndarray:
    """(cells, cells) first-difference precision along every axis of ``shape`` / smoothness^2 + RIDGE."""
    eye = [np.eye(k) for k in shape]
    total = RIDGE * np.eye(int(np.prod(shape)))
    for axis, k in enumerate(shape):
        if k < 2:
            continue
        diff = np.diff(np.eye(k), axis=0)
        term = np.ones((1, 1))
        for a in range(len(shape)):
            term = np.kron(term, diff.T @ diff if a == axis else eye[a])
        total += term / smoothness**2
    return total


def _log_softmax(alpha: np.ndarray) -> np.ndarray:
    top = alpha.max(axis=-1, keepdims=True)
    return alpha - top - np.log(np.exp(alpha - top).sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class _Problem:
    """One fit: the grid, the sparse (n, cells) draw shares of the cases, the precision."""

    grid: Grid
    shares: object
    indicator: object
    precision: np.ndarray

    def _likelihood(self, alpha):
        """(ratio pi_lambda / pi_0 per cell, per-case likelihood mean_j ratio (n,), its
        inverse (n,), 0 for cases without a draw in the support)."""
        ratio = np.exp(self.grid.log_p(alpha) - self.grid.log_q)
        likelihood = self.shares @ ratio
        used = likelihood > 0
        return ratio, likelihood, np.where(used, 1.0 / np.where(used, likelihood, 1.0), 0.0)

    def objective(self, alpha):
        """(negative log posterior, gradient (n_alpha,)) at log-densities alpha (n_alpha,)."""
        ratio, likelihood, inverse = self._likelihood(alpha)
        used = inverse > 0
        value = -np.log(likelihood[used]).sum() + 0.5 * alpha @ self.precision @ alpha
        per_cell = ratio * (self.shares.T @ inverse)  # sum_i of each case's responsibility per cell
        p_blocks = np.exp(self.grid.log_block_softmax(alpha))
        grad = -(self.indicator.T @ per_cell - used.sum() * p_blocks)
        return value, grad + self.precision @ alpha

    def hessian(self, alpha) -> np.ndarray:
        """Exact Hessian (n_alpha, n_alpha) of the negative log posterior at alpha, from the
        responsibilities s_ic = shares_ic ratio_c / likelihood_i (n, cells):
        (sM)^T sM - M^T diag(sum_i s_i) M + n_used * blockdiag(diag p_b - p_b p_b^T) + precision."""
        ratio, _, inverse = self._likelihood(alpha)
        s = self.shares.multiply(inverse[:, None]).multiply(ratio[None, :]).tocsr()
        sm = (s @ self.indicator).toarray()
        total = np.asarray(s.sum(axis=0)).ravel()
        m = self.indicator
        within = (m.multiply(total[:, None]).T @ m).toarray()
        p = np.exp(self.grid.log_block_softmax(alpha))
        cov = np.zeros((len(p), len(p)))
        for b in self.grid.blocks:
            cov[b, b] = np.diag(p[b]) - np.outer(p[b], p[b])
        return sm.T @ sm - within + int((inverse > 0).sum()) * cov + self.precision

    def mode(self, start) -> np.ndarray:
        from scipy.optimize import minimize

        result = minimize(self.objective, start, jac=True, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-6})
        return result.x

    def laplace(self, alpha):
        """(eigenvalues clipped at RIDGE, eigenvectors) of the Hessian at the mode, log evidence."""
        value = self.objective(alpha)[0]
        eigenvalues, vectors = np.linalg.eigh(self.hessian(alpha))
        eigenvalues = np.maximum(eigenvalues, RIDGE)
        log_evidence = -value + 0.5 * np.linalg.slogdet(self.precision)[1] - 0.5 * np.log(eigenvalues).sum()
        return eigenvalues, vectors, float(log_evidence)


@dataclass(frozen=True)
class Population:
    """A fitted histogram population: mode ``alpha`` (cells,) and draws ``alpha_draws`` (S, cells)
    of the log-densities, on ``grid``; ``smoothness`` the chosen GMRF scale, ``n_cases`` the
    cases fitted, ``log_evidence`` per candidate smoothness, ``upper`` the hard upper limits
    {param: value [physical units]} of its support, ``effective_prior`` the record of the
    effective prior the draws were divided by (None: the training prior); ``given_widths``
    {param: kernel sd} when the cases' draws were restricted to given values of those
    parameters (``fit_population(given=...)``), and ``prior_table`` the effective prior that
    then gives each case's own density (:meth:`reweight` needs the values again)."""

    grid: Grid
    alpha: np.ndarray
    alpha_draws: np.ndarray
    smoothness: float
    n_cases: int
    log_evidence: dict
    upper: dict
    effective_prior: dict | None = None
    given_widths: dict = field(default_factory=dict)
    prior_table: object = None

    def _case_factor(self, given, n: int):
        """(n, cells) q_grid / q_case for draws restricted to ``given`` {param: values (n,)}, or
        None when the population was fitted without restriction (then ``given`` must be None)."""
        if not self.given_widths:
            if given:
                raise ValueError("this population was fitted without given values; reweight without them")
            return None
        if set(given or {}) != set(self.given_widths):
            raise ValueError(f"this population was fitted with given {sorted(self.given_widths)}: pass their values")
        return _case_factor(self.grid, self.prior_table, {p: (given[p], w) for p, w in self.given_widths.items()}, n)

    def log_density(self, x, draw=None) -> np.ndarray:
        """log(pi_pop / q) (...) at parameter rows x (..., 4) [physical units], q the draws'
        density (pi_0 or the effective prior): the importance log-weight; -inf outside the
        population's support (e.g. above an ``upper`` limit).
        ``draw`` None: the fitted mode; an int: that population draw."""
        alpha = self.alpha if draw is None else self.alpha_draws[draw]
        log_ratio = self.grid.log_p(alpha) - self.grid.log_q
        cells = self.grid.cells(np.asarray(x, float))
        return np.where(cells >= 0, log_ratio[np.maximum(cells, 0)], -np.inf)

    def cell_weights(self, x, given=None) -> np.ndarray:
        """(n, m) weights of draws x (n, m, len(grid.names)) under the population, averaged over its draws:
        w_ij = mean_s r_s(theta_ij) / mean_j' r_s(theta_ij'), r_s = pi_s / q; each row's
        weights have mean 1 (0 where a row has no draw in the support). ``given``: the rows'
        values of the parameters their draws were restricted to (:func:`fit_population`)."""
        cells = self.grid.cells(x)
        ratio = np.exp(self.grid.log_p(self.alpha_draws) - self.grid.log_q)  # (S, cells)
        shares = _cell_shares(cells, ratio.shape[1])
        factor = self._case_factor(given, len(cells))
        if factor is not None:
            shares = shares.multiply(factor).tocsr()
        likelihood = shares @ ratio.T  # (n, S)
        inverse = np.where(likelihood > 0, 1.0 / np.where(likelihood > 0, likelihood, 1.0), 0.0)
        per_cell = inverse @ ratio / len(ratio)  # (n, cells)
        if factor is not None:
            per_cell *= factor
        return np.where(cells >= 0, np.take_along_axis(per_cell, np.maximum(cells, 0), axis=1), 0.0)

    def reweight(self, draws, keep=None, seed=0, given=None) -> tuple[np.ndarray, np.ndarray]:
        """Each case's posterior under the fitted population (its uncertainty included).

        draws (n, m, d) under the training prior [physical units, columns ``grid.names``];
        ``keep`` draws per case (default m) are resampled systematically with the weights
        of :meth:`cell_weights`. Returns (draws (n, keep, d), effective draws (n,) =
        (sum w)^2 / sum w^2 of the m input draws). Rows without any admissible draw (or NaN)
        come back NaN with 0 effective draws; flag rows below MIN_EFFECTIVE_DRAWS (or redraw
        them with more draws). ``given`` {param: values (n,)}: for a population fitted with
        ``given``, these rows' values."""
        draws = np.asarray(draws, float)
        n, m = draws.shape[:2]
        keep = m if keep is None else int(keep)
        out = np.full((n, keep, draws.shape[2]), np.nan)
        ess = np.zeros(n)
        for start in range(0, n, 4096):  # bounded memory
            block = slice(start, min(n, start + 4096))
            rows = None if given is None else {p: np.asarray(v, float)[block] for p, v in given.items()}
            w = self.cell_weights(draws[block, :, : len(self.grid.names)], rows)
            total = w.sum(axis=1)
            ess[block] = np.where(total > 0, total**2 / np.maximum((w**2).sum(axis=1), 1e-300), 0.0)
            out[block] = resample(draws[block], w, keep, seed=(seed, start))
        return out, ess

    def marginal(self, param: str, draw=None) -> np.ndarray:
        """(bins,) probability mass per bin of ``param`` (the mode, or population draw ``draw``)."""
        alpha = self.alpha if draw is None else self.alpha_draws[draw]
        p = np.exp(self.grid.log_p(alpha)).reshape(self.grid.shape)
        axis = self.grid.params.index(param)
        return p.sum(axis=tuple(a for a in range(p.ndim) if a != axis))

    def quantiles(self, param: str, probs=(0.05, 0.5, 0.95)) -> np.ndarray:
        """(S, len(probs)) quantiles of ``param``'s marginal for every population draw
        (piecewise-linear cdf over the bins; physical units)."""
        edges = self.grid.edges[self.grid.params.index(param)]
        out = np.array(
            [
                np.interp(probs, np.concatenate([[0.0], np.cumsum(self.marginal(param, s))]), edges)
                for s in range(len(self.alpha_draws))
            ]
        )
        return 10**out if param in self.grid.log10 else out

    def to_dict(self) -> dict:
        """JSON-safe summary: family, bins, fitted masses, and per parameter the 5/50/95 %
        quantiles of the population (median and 16-84 % range over the population draws)."""
        p = np.exp(self.grid.log_p(self.alpha))
        summary = {}
        for param in self.grid.params:
            q = self.quantiles(param)
            summary[param] = {
                f"q{int(round(100 * pr))}": {
                    "median": float(np.median(q[:, k])),
                    "q16": float(np.quantile(q[:, k], 0.16)),
                    "q84": float(np.quantile(q[:, k], 0.84)),
                }
                for k, pr in enumerate((0.05, 0.5, 0.95))
            }
        return {
            "family": f"histogram ({'joint' if self.grid.joint else 'one per parameter, multiplied'}, "
            "equal-width bins; GMRF smoothness prior on log density; population draws by Langevin Monte Carlo)",
            "params": list(self.grid.params),
            "edges": [e.tolist() for e in self.grid.edges],
            "log10_params": list(self.grid.log10),
            "cell_mass": p.reshape(self.grid.shape).tolist(),
            "smoothness": self.smoothness,
            "log_evidence": {str(k): v for k, v in self.log_evidence.items()},
            "n_cases": self.n_cases,
            "n_population_draws": len(self.alpha_draws),
            "upper": dict(self.upper),
            "draws_divided_by": "training prior" if self.effective_prior is None else "effective prior",
            "effective_prior": self.effective_prior,
            "divided_at_given": dict(self.given_widths),
            "quantiles": summary,
        }


def resample(draws, weights, keep: int, seed=0) -> np.ndarray:
    """(n, keep, d) draws (n, m, d) resampled per row with weights (n, m) >= 0 (systematic
    resampling); rows whose weights sum to 0 come back NaN."""
    draws, w = np.asarray(draws, float), np.nan_to_num(np.asarray(weights, float))
    n, m = w.shape
    rng = np.random.default_rng(seed)
    total = w.sum(axis=1, keepdims=True)
    cdf = np.cumsum(w / np.where(total > 0, total, 1.0), axis=1)
    cdf[:, -1] = 1.0
    u = (rng.random((n, 1)) + np.arange(keep)[None, :]) / keep
    offset = np.arange(n)[:, None]
    index = np.searchsorted((cdf + offset).ravel(), (u + offset).ravel()).reshape(n, keep) - offset * m
    out = np.take_along_axis(draws, np.clip(index, 0, m - 1)[:, :, None], axis=1)
    out[total[:, 0] <= 0] = np.nan
    return out


def fit_population(
    draws,
    bounds,
    names,
    params,
    bin_width,
    *,
    log10=(),
    upper=None,
    valid=None,
    joint=False,
    smoothness=SMOOTHNESS_GRID,
    n_draws=N_POPULATION_DRAWS,
    max_cases=MAX_FIT_CASES,
    seed=0,
    effective_prior=None,
    given=None,
) -> Population:
    """Fit a histogram population to a collection's posterior draws (module doc).

    Args:
        draws: (n_cases, m, >= len(names)) posterior draws under the training prior, physical
            units, columns ``names`` first (extra columns are ignored).
        bounds: (len(names), 2) the training prior's support [physical units].
        names: the parameters' names, in the draws' column order.
        params: the parameters the population is fitted over (the training prior must be
            flat over each one's support, in its value or, for those in ``log10``, its log10).
        bin_width: {param: bin width} for every fitted parameter, in its flat coordinate.
        log10: the fitted parameters whose training prior is flat in log10 of the value.
        upper: None or {param: hard upper limit [physical units]}: the population's support.
        valid: (n_cases,) bool, the cases to fit (default: rows with finite draws).
        joint: False (default): a product of one histogram per parameter (independent
            parameters in the population); True: one joint histogram over all cells.
        smoothness: a GMRF scale, or candidates of which the one of highest evidence is used.
        n_draws: population draws (Langevin Monte Carlo, :func:`_posterior_draws`); seed: their random seed.
        max_cases: larger collections are fitted on this many valid cases drawn at random
            (seed), which bounds the cost; every case can then be reweighted.
        effective_prior: None (the draws' density is the training prior) or the estimator's
            :class:`~inn_engine.effective_prior.EffectivePrior`, which the draws are then
            divided by: the training prior is then a fixed point of the fit and the
            estimator's averaged-posterior waves are not read as population structure.
        given: None, or {param: (values (n_cases,) [physical units], width)} for parameters
            not fitted to which each case's draws were restricted by a Gaussian kernel of sd
            ``width`` in the flat coordinate (e.g. a known metallicity): each case's draws
            are then divided by the effective prior at its own values
            (:meth:`~inn_engine.effective_prior.EffectivePrior.cell_log_mass`), which needs
            ``effective_prior``; :meth:`Population.reweight` takes the values again.
    """
    draws = np.asarray(draws, float)
    names = tuple(names)
    if draws.ndim != 3 or draws.shape[2] < len(names) or np.shape(bounds) != (len(names), 2):
        raise ValueError(
            f"draws must be (n, m, >= {len(names)}) and bounds ({len(names)}, 2); "
            f"got {draws.shape} and {np.shape(bounds)}"
        )
    if not params or not set(params) <= set(names) or len(set(params)) != len(params):
        raise ValueError(f"params must be distinct names from {names}, got {params!r}")
    missing = [q for q in params if not (q in bin_width and float(bin_width[q]) > 0)]
    if missing:
        raise ValueError(f"bin_width must give a positive width for every fitted parameter; missing {missing}")
    upper = {q: float(v) for q, v in (upper or {}).items()}
    if not set(upper) <= set(params):
        raise ValueError(f"upper limits must be on fitted parameters {tuple(params)}, got {sorted(upper)}")
    grid = _grid(bounds, tuple(params), names, bin_width, bool(joint), tuple(log10), upper)
    if effective_prior is not None:
        grid = replace(grid, log_q=effective_prior.cell_log_mass(grid.params, grid.edges, grid.support, grid.log10))
    given = dict(given or {})
    if given and effective_prior is None:
        raise ValueError(
            "given values need the estimator's effective_prior (the training prior does not depend on them)"
        )
    for q, (values, _) in given.items():
        if np.shape(values) != (len(draws),):
            raise ValueError(f"given {q}: one value per case ({len(draws)}) expected, got shape {np.shape(values)}")
    if grid.blocks[-1].stop > MAX_ALPHA:
        raise ValueError(
            f"{grid.blocks[-1].stop} histogram parameters (> {MAX_ALPHA}): widen bin_width or fit fewer params jointly"
        )
    valid = np.isfinite(draws[:, :, : len(names)]).all(axis=(1, 2)) if valid is None else np.asarray(valid, bool)
    if not valid.any():
        raise ValueError("no valid case to fit a population to")
    rows = np.flatnonzero(valid)
    if len(rows) > max_cases:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_cases, replace=False))
    shares = _cell_shares(grid.cells(draws[rows, :, : len(names)]), len(grid.log_q))
    if given:
        at_rows = {q: (np.asarray(values, float)[rows], width) for q, (values, width) in given.items()}
        shares = shares.multiply(_case_factor(grid, effective_prior, at_rows, len(rows))).tocsr()
    fits, alpha = {}, np.zeros(grid.blocks[-1].stop)
    for tau in np.sort(np.atleast_1d(np.asarray(smoothness, float))):  # each fit starts at the smoother one
        problem = _Problem(grid, shares, grid.indicator(), grid.precision(float(tau)))
        alpha = problem.mode(alpha)
        fits[float(tau)] = (problem, alpha, *problem.laplace(alpha))
    tau = max(fits, key=lambda t: fits[t][-1])  # the highest evidence
    problem, alpha, eigenvalues, vectors, _ = fits[tau]
    alpha_draws = _posterior_draws(problem, alpha, eigenvalues, vectors, n_draws, np.random.default_rng(seed))
    evidence = {t: f[-1] for t, f in fits.items()}
    record = None if effective_prior is None else dict(effective_prior.record)
    widths = {q: float(width) for q, (_, width) in given.items()}
    table = effective_prior if given else None
    return Population(grid, alpha, alpha_draws, tau, len(rows), evidence, upper, record, widths, table)


def _case_factor(grid: Grid, prior, given: dict, n: int) -> np.ndarray:
    """(n, cells) exp(log_q - log_q_i): the grid's density over each case's own, the effective
    ``prior`` restricted to the case's ``given`` {param: (values (n,), width)}. Multiplying a
    case's draw shares by it divides them by its own density instead of the grid's."""
    own = prior.cell_log_mass(grid.params, grid.edges, grid.support, grid.log10, given=given)
    if own.shape != (n, len(grid.log_q)):
        raise ValueError(f"given values: {n} rows expected")
    return np.exp(grid.log_q[None, :] - own)


def _posterior_draws(problem: _Problem, alpha, eigenvalues, vectors, n_draws: int, rng) -> np.ndarray:
    """(n_draws, n_alpha) draws of the log-densities from their exact posterior, by Langevin
    Monte Carlo (MALA) preconditioned with the Laplace covariance at the mode ``alpha``.

    The Laplace Gaussian itself is no sampler here: for a bin that no case's draws reach,
    the posterior of its log-density is one-sided (the data forbid a large mass there, not a
    small one), and symmetric Gaussian draws gave such bins a mass that inflated the
    population's tails (A_V q95 0.60 for a true U(0, 0.4)). The step size adapts during
    :data:`MCMC_BURN_IN` steps towards an acceptance of 0.57; draws are then kept every
    :data:`MCMC_THIN` steps."""
    root = vectors / np.sqrt(eigenvalues)  # covariance = root @ root.T

    def whiten(v):  # root^-1 v
        return (v @ vectors) * np.sqrt(eigenvalues)

    def state(a):
        value, grad = problem.objective(a)
        return a, -value, root @ (root.T @ -grad)  # point, log posterior, covariance @ gradient

    current = state(np.asarray(alpha, float))
    log_step, out = np.log(0.5), []
    for k in range(MCMC_BURN_IN + n_draws * MCMC_THIN):
        h = np.exp(log_step)
        a, log_post, drift = current
        forward_mean = a + 0.5 * h**2 * drift
        proposal = state(forward_mean + h * (root @ rng.standard_normal(len(a))))
        backward_mean = proposal[0] + 0.5 * h**2 * proposal[2]
        log_ratio = (
            proposal[1]
            - log_post
            - 0.5 * np.sum(whiten(a - backward_mean) ** 2) / h**2
            + 0.5 * np.sum(whiten(proposal[0] - forward_mean) ** 2) / h**2
        )
        accept = np.isfinite(log_ratio) and np.log(rng.random()) < min(log_ratio, 0.0)
        if accept:
            current = proposal
        if k < MCMC_BURN_IN:
            log_step += 0.05 * ((1.0 if accept else 0.0) - 0.57)
        elif (k - MCMC_BURN_IN) % MCMC_THIN == MCMC_THIN - 1:
            out.append(current[0])
    return np.array(out)


def plot_population(population: Population, axes=None, labels=None):
    """The population's marginal density per fitted parameter: the mode (line), the 16-84 %
    band of the population draws and the flat training prior (dashed). ``axes``: one
    matplotlib Axes per parameter, or None for a new row of panels; ``labels``: {param: axis
    label}. Returns the Figure."""
    import matplotlib.pyplot as plt

    params = population.grid.params
    labels = labels or {}
    if axes is None:
        _, axes = plt.subplots(1, len(params), figsize=(3.6 * len(params), 3.0), squeeze=False)
        axes = axes[0]
    for ax, param in zip(np.atleast_1d(axes), params):
        edges = population.grid.edges[params.index(param)]
        width = np.diff(edges)
        draws = np.array([population.marginal(param, s) for s in range(len(population.alpha_draws))]) / width
        low, high = np.quantile(draws, [0.16, 0.84], axis=0)
        ax.stairs(population.marginal(param) / width, edges, color="k", label="population (mode)")
        ax.stairs(high, edges, baseline=low, fill=True, color="0.8", label="16-84 % of population draws")
        low_prior, high_prior = population.grid.support[params.index(param)]
        ax.axhline(1.0 / (high_prior - low_prior), color="0.4", ls="--", label="training prior")
        ax.set_xlabel(("log10 " if param in population.grid.log10 else "") + labels.get(param, param))
        ax.set_ylabel("density")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    return np.atleast_1d(axes)[0].figure
