"""The paper's toy problems as Simulators, each with a reference posterior sampler.

- :class:`EightModes`: a 2-D mixture of 8 Gaussians (sigma 0.2, equal weights) at
  (+-2.4142, +-1) and (+-1, +-2.4142); y is the one-hot label of the mode (all 8 labels
  distinct, or "some": modes merged as [0, 0, 0, 0, 1, 1, 2, 3]). Ardizzone et al. 2019,
  sec. 4.1; mode order and label maps as in the paper's public experiment code.
  Its posterior p(x | label) is known exactly: the equal-weight mixture of the modes
  carrying that label.
- :class:`InverseKinematics`: a planar arm on a vertical slider with three joints
  (Kruse et al. 2021, arXiv 2101.10763): x = (slider height, three joint angles),
  prior N(0, diag(0.25, 0.5, 0.5, 0.5)^2), segment lengths 0.5, 0.5, 1.0, y = the 2-D
  end point. Its reference posterior is rejection ABC (as in that benchmark).
"""

from __future__ import annotations

import numpy as np

from inn_engine.domain import Domain, DomainOption
from inn_engine.rejection import RejectionABC
from inn_engine.simulator import Observable, Parameter, Simulator, as_generator

__all__ = [
    "EightModes",
    "InverseKinematics",
    "EightModesDomain",
    "InverseKinematicsDomain",
    "EIGHT_MODES",
    "INVERSE_KINEMATICS",
]

_CORNER = 2.4142  # 1 + sqrt(2), rounded as in the paper's code
#: Mode centres in the paper code's order (clockwise from the upper left).
EIGHT_MODE_CENTRES = np.array(
    [
        [-_CORNER, 1.0],
        [-1.0, _CORNER],
        [1.0, _CORNER],
        [_CORNER, 1.0],
        [_CORNER, -1.0],
        [1.0, -_CORNER],
        [-1.0, -_CORNER],
        [-_CORNER, -1.0],
    ]
)
#: Label of each mode, per labelling.
LABEL_MAPS = {"all": (0, 1, 2, 3, 4, 5, 6, 7), "some": (0, 0, 0, 0, 1, 1, 2, 3)}


class EightModes(Simulator):
    """The 8-mode Gaussian mixture: x (n, 2) positions, y (n, n_labels) one-hot labels.

    ``labels``: "all" (8 labels, the posterior is a single mode) or "some" (4 labels; the
    posterior of label 0 has 4 modes, of label 1 two). The paper's code always used 8
    label columns (unused ones constant zero); here y has one column per distinct label,
    so no column is constant. ``simulate`` draws the generating mode from its posterior
    given x, so (x, y) follow exactly the paper's joint (mode, then x, then label).
    """

    sigma: float = 0.2
    centres = EIGHT_MODE_CENTRES
    parameters = (
        Parameter("x1", "", description="horizontal position"),
        Parameter("x2", "", description="vertical position"),
    )

    def __init__(self, labels: str = "all"):
        if labels not in LABEL_MAPS:
            raise ValueError(f"labels must be one of {sorted(LABEL_MAPS)}, got {labels!r}")
        self.labels = labels
        self.label_of_mode = np.array(LABEL_MAPS[labels])
        self.n_labels = int(self.label_of_mode.max()) + 1
        self.observables = tuple(
            Observable(f"label_{k}", "", description=f"1 if the point carries label {k}, else 0")
            for k in range(self.n_labels)
        )

    def sample_prior(self, n, rng=None):
        rng = as_generator(rng)
        modes = rng.integers(0, len(self.centres), size=int(n))
        return self.centres[modes] + self.sigma * rng.normal(size=(int(n), 2))

    def _log_mode_densities(self, x) -> np.ndarray:
        """log N(x; centre_k, sigma^2 I) for every mode: (n, 8)."""
        d2 = ((x[:, None, :] - self.centres[None]) ** 2).sum(-1)
        return -0.5 * d2 / self.sigma**2 - np.log(2 * np.pi * self.sigma**2)

    def simulate(self, x, rng=None):
        x = self.check_x(x)
        rng = as_generator(rng)
        log_p = self._log_mode_densities(x)
        p = np.exp(log_p - log_p.max(axis=1, keepdims=True))
        cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
        modes = np.minimum((rng.random((len(x), 1)) > cdf).sum(axis=1), len(self.centres) - 1)
        return np.eye(self.n_labels)[self.label_of_mode[modes]]

    def labels_of(self, y_obs) -> np.ndarray:
        """Integer labels (n_obs,) of one-hot rows y_obs (n_obs, n_labels) (or one row)."""
        y = np.asarray(y_obs, dtype=float)
        if y.ndim == 1:
            y = y[None]
        if y.ndim != 2 or y.shape[1] != self.n_labels:
            raise ValueError(f"y_obs must have shape (n_obs, {self.n_labels}) (one-hot labels), got {y.shape}")
        label = y.argmax(axis=1)
        if not np.allclose(y, np.eye(self.n_labels)[label]):
            raise ValueError("y_obs rows must be one-hot label vectors (a single 1, zeros elsewhere)")
        return label

    def reference_posterior(self, y_obs, n_draws: int, seed=0) -> np.ndarray:
        """Exact posterior draws (n_obs, n_draws, 2): the equal-weight mixture of the
        modes that carry each observation's label."""
        label = self.labels_of(y_obs)
        rng = as_generator(seed)
        out = np.empty((len(label), int(n_draws), 2))
        for k in range(self.n_labels):
            rows = np.flatnonzero(label == k)
            modes = np.flatnonzero(self.label_of_mode == k)
            pick = rng.choice(modes, size=(rows.size, int(n_draws)))
            out[rows] = self.centres[pick] + self.sigma * rng.normal(size=(rows.size, int(n_draws), 2))
        return out

    def log_posterior(self, x, y_obs) -> np.ndarray:
        """Exact log p(x | y): x (n_obs, n, 2) points per observation, y_obs (n_obs,
        n_labels) -> (n_obs, n). (A 2-D x (n_obs, 2) gives (n_obs,).)"""
        label = self.labels_of(y_obs)
        x = np.asarray(x, dtype=float)
        single = x.ndim == 2
        pts = x[:, None, :] if single else x
        if pts.ndim != 3 or pts.shape[0] != label.size or pts.shape[2] != 2:
            raise ValueError(f"x must have shape ({label.size}, n, 2) or ({label.size}, 2), got {x.shape}")
        log_p = self._log_mode_densities(pts.reshape(-1, 2)).reshape(*pts.shape[:2], -1)
        member = self.label_of_mode[None, :] == label[:, None]  # (n_obs, 8)
        log_w = np.where(member, -np.log(member.sum(axis=1, keepdims=True)), -np.inf)
        m = log_p + log_w[:, None, :]
        top = m.max(axis=2, keepdims=True)
        out = (top + np.log(np.exp(m - top).sum(axis=2, keepdims=True)))[..., 0]
        return out[:, 0] if single else out

    def metadata(self) -> dict:
        return {**super().metadata(), "labels": self.labels, "sigma": self.sigma}


class InverseKinematics(Simulator):
    """Planar arm: slider height x1 and joint angles x2..x4 -> end point y (2-D).

    Forward: joint k's absolute angle is x2 + ... + x_{k+1}; the arm starts at (0, x1) and
    its segments (lengths 0.5, 0.5, 1.0) add lengths * (cos, sin) of those angles.
    ``noise``: standard deviation of Gaussian noise added to the end point by
    :meth:`simulate` (0: the noiseless benchmark).
    """

    lengths = (0.5, 0.5, 1.0)
    prior_std = (0.25, 0.5, 0.5, 0.5)
    parameters = (
        Parameter("slider", "", description="height of the arm's base on the vertical rail"),
        Parameter("angle1", "rad", description="angle of the first segment to the horizontal"),
        Parameter("angle2", "rad", description="angle of the second segment to the first"),
        Parameter("angle3", "rad", description="angle of the third segment to the second"),
    )
    observables = (
        Observable("end_x", "", description="horizontal position of the arm's end point"),
        Observable("end_y", "", description="vertical position of the arm's end point"),
    )

    def __init__(self, noise: float = 0.0):
        if not (np.isfinite(noise) and noise >= 0):
            raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
        self.noise = float(noise)

    def sample_prior(self, n, rng=None):
        return as_generator(rng).normal(size=(int(n), 4)) * np.asarray(self.prior_std)

    def forward(self, x) -> np.ndarray:
        """Noiseless end points (n, 2) of arms x (n, 4)."""
        x = self.check_x(x)
        angles = np.cumsum(x[:, 1:], axis=1)
        lengths = np.asarray(self.lengths)
        return np.stack([(lengths * np.cos(angles)).sum(1), x[:, 0] + (lengths * np.sin(angles)).sum(1)], axis=1)

    def simulate(self, x, rng=None):
        y = self.forward(x)
        if self.noise > 0:
            y = y + self.noise * as_generator(rng).normal(size=y.shape)
        return y

    def reference_posterior(self, y_obs, n_draws: int, *, library_size: int = 10**6, seed=0) -> np.ndarray:
        """Rejection-ABC posterior draws (n_obs, n_draws, 4): the ``n_draws`` arms of a
        ``library_size`` prior library whose (noisy, if ``noise`` > 0) end points lie
        nearest each observation. The acceptance radius shrinks as library_size grows."""
        return RejectionABC.from_simulator(self, library_size, seed=seed).nearest(y_obs, n_draws).draws

    def metadata(self) -> dict:
        return {
            **super().metadata(),
            "lengths": list(self.lengths),
            "prior_std": list(self.prior_std),
            "noise": self.noise,
        }


class InverseKinematicsDomain(Domain):
    """``innfer simulate toy-ik``: the inverse-kinematics arm (registered like any domain)."""

    name = "toy-ik"
    description = "the paper's inverse-kinematics arm (4 parameters, 2-D end point)"
    options = (DomainOption("noise", "standard deviation of the end point's Gaussian noise [default: 0]", float),)

    def simulator(self, **options) -> InverseKinematics:
        return InverseKinematics(**options)


class EightModesDomain(Domain):
    """``innfer simulate toy-8modes``: the paper's 8-mode Gaussian mixture."""

    name = "toy-8modes"
    description = "the paper's 8-mode Gaussian mixture (2-D x, one-hot label y)"
    options = (
        DomainOption(
            "labels", "8 distinct labels or the paper's merged 'some' [default: all]", choices=tuple(LABEL_MAPS)
        ),
    )

    def simulator(self, **options) -> EightModes:
        return EightModes(**options)


#: the instances registered under ``innfer.domains`` in pyproject.toml
INVERSE_KINEMATICS = InverseKinematicsDomain()
EIGHT_MODES = EightModesDomain()
