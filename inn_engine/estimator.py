"""A trained posterior estimator: network + parameter transforms + standardization + metadata.

The Estimator is the boundary between physical float64 numpy arrays and the network's
standardized float32 tensors: users give y in physical units and get x in physical units,
always inside the prior's support.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import numpy as np
import torch
from torch.nn.modules.module import (
    register_module_buffer_registration_hook,
    register_module_parameter_registration_hook,
)

from inn_engine import __version__
from inn_engine.artifact import ArtifactError, read_artifact, write_artifact
from inn_engine.checks import check_array, check_integer, check_seed, check_work, torch_seed
from inn_engine.devices import resolve_device
from inn_engine.models import MODELS
from inn_engine.posterior import Posterior
from inn_engine.progress import Progress
from inn_engine.transforms import BoundTransform, Standardizer

__all__ = ["Estimator", "load", "MAX_STANDARD_SCORE"]

_ROWS_PER_PASS = 1 << 17  # network rows per sampling pass: bounds memory, keeps BLAS busy
#: observations further than this many training standard deviations from the training mean
#: are refused: no simulator draw lies there, and in float32 such values overflow to inf/NaN
MAX_STANDARD_SCORE = 1000.0


class Estimator:
    """Amortized posterior p(x | y).

    Args:
        model: a network from :data:`inn_engine.models.MODELS` (in eval mode after training).
        x_transform: bounds -> unbounded map of the parameters.
        x_scaler, y_scaler: standardization of the unbounded x and of y.
        param_names, obs_names, param_units, obs_units: labels.
        metadata: JSON-safe extra information (training data hash, metrics, simulator, ...).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        x_transform: BoundTransform,
        x_scaler: Standardizer,
        y_scaler: Standardizer,
        param_names,
        obs_names,
        param_units=None,
        obs_units=None,
        metadata: dict | None = None,
    ):
        self.model = model.eval()
        self.x_transform, self.x_scaler, self.y_scaler = x_transform, x_scaler, y_scaler
        self.param_names, self.obs_names = list(param_names), list(obs_names)
        self.param_units = list(param_units or [""] * len(self.param_names))
        self.obs_units = list(obs_units or [""] * len(self.obs_names))
        self.metadata = dict(metadata or {})

    @property
    def dim_x(self) -> int:
        return len(self.param_names)

    @property
    def dim_y(self) -> int:
        return len(self.obs_names)

    def _check_y(self, y_obs) -> np.ndarray:
        """``y_obs`` as float64 (n_obs, dim_y), or a ValueError naming the first bad row and column:
        not finite, or outside what the network can represent (:meth:`refused_rows`)."""
        form = f"a real array of shape (n_obs, {self.dim_y}) or ({self.dim_y},), columns {self.obs_names}"
        y = check_array("y_obs", y_obs, ndim=(1, 2), last=self.dim_y, form=form)
        if y.ndim == 1:
            y = y[None, :]
        if y.shape[0] == 0:
            raise ValueError("y_obs is empty: give at least one observation")
        far = self._standard_scores(y) > MAX_STANDARD_SCORE
        if far.any():
            i, j = np.argwhere(far)[0]
            raise ValueError(
                f"y_obs[{i}, {j}] ({self.obs_names[j]}) = {y[i, j]:.6g} lies more than "
                f"{MAX_STANDARD_SCORE:g} standard deviations from the training data's mean "
                f"{self.y_scaler.mean[j]:.6g}: outside what the estimator can represent"
            )
        return y

    def _standard_scores(self, y: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return np.abs(self.y_scaler.forward(y))

    def refused_rows(self, y_obs) -> np.ndarray:
        """(n_obs,) bool: the rows of ``y_obs`` (n_obs, dim_y) that :meth:`sample` refuses: not
        finite, or with a value more than :data:`MAX_STANDARD_SCORE` training standard deviations
        from the training mean (domains flag such rows instead)."""
        y = check_array("y_obs", y_obs, ndim=2, last=self.dim_y, finite=False)
        return ~np.isfinite(y).all(axis=1) | (self._standard_scores(y) > MAX_STANDARD_SCORE).any(axis=1)

    def _checked_draw_arguments(self, y_obs, n, seed, device) -> tuple[np.ndarray, int, int, torch.device]:
        """(y (n_obs, dim_y), n, torch seed, device) after checking them and the size of the result."""
        device = resolve_device(device)
        y = self._check_y(y_obs)
        n = check_integer("n (draws per observation)", n, 1)
        check_work(
            f"{y.shape[0]} observations x {n} draws x {self.dim_x} parameters x 8 bytes",
            8.0 * y.shape[0] * n * self.dim_x,
        )
        return y, n, torch_seed(check_seed("seed", seed)), device

    @staticmethod
    def _finite_draws(draws: np.ndarray) -> np.ndarray:
        """``draws`` (n_obs, n, d), or a ValueError naming the first observation whose draws are not finite."""
        bad = ~np.isfinite(draws).all(axis=(1, 2))
        if bad.any():
            raise ValueError(
                f"the network gave non-finite draws for y_obs row {int(np.argmax(bad))}: the "
                "observation lies where the estimator cannot represent its posterior"
            )
        return draws

    def _standardized_y(self, y: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(self.y_scaler.forward(y), dtype=torch.float32)

    def _physical_in_place(self, block: np.ndarray) -> np.ndarray:
        """Standardized float64 draws ``block`` (..., d) -> physical, overwriting it."""
        return self.x_transform.inverse(self.x_scaler.inverse(block, copy=False), copy=False)

    def sample(self, y_obs, n: int = 1000, seed: int = 0, device=None, progress: bool | None = False) -> np.ndarray:
        """``n`` posterior draws for every observation: array (n_obs, n, n_params), physical units.

        All observations are processed together in passes of ~1e5 network rows (no Python loop
        per observation). The same ``seed`` gives the same draws. ``device``: where the network
        runs (:func:`inn_engine.devices.resolve_device`; default the CPU); the draws come back
        as a numpy array either way. ``progress``: report the passes
        (:class:`~inn_engine.progress.Progress`: None or True a bar on a terminal, plain lines
        otherwise; False, the default, silent).
        """
        y, n, seed, device = self._checked_draw_arguments(y_obs, n, seed, device)
        return self._finite_draws(self._draw(y, n, seed, False, device, progress)[0])

    def posterior(
        self,
        y_obs,
        n: int = 1000,
        seed: int = 0,
        log_density: bool | None = None,
        device=None,
        progress: bool | None = False,
    ) -> Posterior:
        """A :class:`Posterior` with ``n`` draws per observation.

        ``log_density`` (default: True when the model has a tractable density) also stores
        log q(x | y) of every draw, which gives a density-based MAP. ``device`` and ``progress`` as
        in :meth:`sample`.
        """
        if log_density is None:
            log_density = hasattr(self.model, "log_prob")
        y, n, seed, device = self._checked_draw_arguments(y_obs, n, seed, device)
        samples, logq = self._draw(y, n, seed, bool(log_density), device, progress)
        return Posterior(self._finite_draws(samples), self.param_names, self.param_units, logq)

    @torch.inference_mode()
    def _draw(self, y: np.ndarray, n: int, seed: int, with_density: bool, device: torch.device, progress=False):
        """Checked ``y`` (n_obs, dim_y) -> draws (n_obs, n, d) in physical units and their log q or None."""
        ys = self._standardized_y(y).to(device)
        generator = torch.Generator().manual_seed(int(seed))
        obs_per_pass = max(1, _ROWS_PER_PASS // n)
        out = np.empty((y.shape[0], n, self.dim_x))
        logq = np.empty((y.shape[0], n)) if with_density else None
        elsewhere = device.type != "cpu"  # the model lives on the CPU; moved only for a pass elsewhere
        try:
            if elsewhere:
                self.model.to(device)
            with Progress(
                y.shape[0], f"posterior: {n} draws per observation", unit="observation", enabled=progress
            ) as bar:
                for i in range(0, y.shape[0], obs_per_pass):
                    rows = slice(i, i + obs_per_pass)
                    s = self.model.sample(ys[rows], n, generator=generator)
                    out[rows] = s.cpu().numpy()
                    if with_density:
                        logq[rows] = self._log_density_standardized(s, ys[rows], out[rows])
                    self._physical_in_place(out[rows])
                    bar.update(len(s))
        finally:
            if elsewhere:
                self.model.to("cpu")
        return out, logq

    def _log_density_standardized(self, s: torch.Tensor, ys: torch.Tensor, s64: np.ndarray) -> np.ndarray:
        """log q(x | y) in physical units for standardized draws ``s`` (n_obs, n, d)."""
        n_obs, n, d = s.shape
        flat_y = ys.repeat_interleave(n, dim=0)
        logq = self.model.log_prob(s.reshape(-1, d), flat_y).double().cpu().numpy().reshape(n_obs, n)
        u = self.x_scaler.inverse(s64)
        return logq - np.log(self.x_scaler.std).sum() - self.x_transform.log_abs_det_inverse(u)

    @torch.inference_mode()
    def log_prob(self, x, y) -> np.ndarray:
        """log q(x | y) in physical units for paired rows x (n, n_params), y (n, n_obs): (n,)."""
        if not hasattr(self.model, "log_prob"):
            raise ValueError(f"the {self.model.kind!r} model has no tractable density; use model='cinn'")
        y = self._check_y(y)
        x = check_array(
            "x",
            x,
            ndim=(1, 2),
            last=self.dim_x,
            form=f"a real array of shape (n, {self.dim_x}), columns {self.param_names}",
        )
        x = x.reshape(-1, self.dim_x)
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y need the same number of rows, got {x.shape[0]} and {y.shape[0]}")
        self.x_transform.check_inside(x)
        u = self.x_transform.forward(x)
        s = torch.as_tensor(self.x_scaler.forward(u), dtype=torch.float32)
        logq = self.model.log_prob(s, self._standardized_y(y)).double().numpy()
        return logq - np.log(self.x_scaler.std).sum() - self.x_transform.log_abs_det_inverse(u)

    def save(self, path: str | os.PathLike, side_files: dict[str, bytes] | None = None) -> None:
        """Write the estimator to directory ``path`` (weights.safetensors + estimator.json), with
        ``side_files`` (name -> bytes) beside them, checksummed in the metadata."""
        meta = {
            "innfer_version": __version__,
            "model": {"kind": self.model.kind, "config": self.model.config},
            "param_names": self.param_names,
            "param_units": self.param_units,
            "obs_names": self.obs_names,
            "obs_units": self.obs_units,
            "x_transform": self.x_transform.to_dict(),
            "x_scaler": self.x_scaler.to_dict(),
            "y_scaler": self.y_scaler.to_dict(),
            "metadata": self.metadata,
        }
        write_artifact(path, self.model.state_dict(), meta, side_files)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Estimator":
        """Read an estimator written by :meth:`save`; damaged or incompatible files raise ArtifactError
        (the metadata is checked against :mod:`inn_engine.schema` before the network is built)."""
        state, meta = read_artifact(path)
        kind, config = meta["model"]["kind"], meta["model"]["config"]
        try:
            with _at_most(state):
                model = MODELS[kind](**config)
        except (ValueError, TypeError, RuntimeError, MemoryError) as err:
            raise ArtifactError(f"{path}: the {kind!r} network of estimator.json cannot be built: {err}") from err
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise ArtifactError(
                f"{path}: weights do not fit the {kind!r} architecture in estimator.json: {err}"
            ) from err
        return cls(
            model,
            BoundTransform.from_dict(meta["x_transform"]),
            Standardizer.from_dict(meta["x_scaler"]),
            Standardizer.from_dict(meta["y_scaler"]),
            meta["param_names"],
            meta["obs_names"],
            meta.get("param_units"),
            meta.get("obs_units"),
            meta.get("metadata"),
        )


@contextmanager
def _at_most(state: dict):
    """While building a network in this thread: a ValueError as soon as its parameters and
    buffers exceed the tensors of the weights file ``state``, so an estimator.json describing
    a far larger network than its weights costs no more than the weights themselves."""
    thread, limit = threading.get_ident(), (len(state), sum(t.numel() for t in state.values()))
    built = [0, 0]

    def count(module, name, tensor):
        if tensor is not None and threading.get_ident() == thread:
            built[0] += 1
            built[1] += tensor.numel()
            if built[0] > limit[0] or built[1] > limit[1]:
                raise ValueError(
                    f"the weights do not fit it: it is larger than the weights file's {limit[0]} "
                    f"tensors of {limit[1]} values"
                )

    handles = [register_module_parameter_registration_hook(count), register_module_buffer_registration_hook(count)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def load(path: str | os.PathLike) -> Estimator:
    """Load an estimator directory written by ``Estimator.save``."""
    return Estimator.load(path)
