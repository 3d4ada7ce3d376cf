"""Invertible building blocks with exact inverses and log|det J|.

Every block maps ``x`` (batch, dim) to ``(out, log_det)`` with ``log_det`` of shape
(batch,), and back with ``inverse(out, c) -> x``. Coupling blocks take an optional
condition ``c`` (batch, cond_dim) that every subnet sees; the other blocks ignore it.

For sampling, :meth:`InvertibleBlock.inverse_steps` gives the same inverse as steps on
feature-major chunks without autograd (see :meth:`inn_engine.flow.InvertibleSequence.sample_inverse`):
permutations only relabel rows, and a coupling's subnet applies its condition once per
observation instead of once per draw.
"""

from __future__ import annotations

import abc
import math
from typing import Callable, NamedTuple

import torch
from torch import nn

from inn_engine.subnets import mlp

__all__ = ["InvertibleBlock", "Coupling", "AffineCoupling", "Permutation", "ActNorm", "soft_clamp", "InverseChunk"]


class InverseChunk(NamedTuple):
    """Rows of a sampling pass, grouped by observation: ``n`` consecutive rows per row of
    ``cond`` (k, cond_dim), or ``cond`` None for unconditional blocks (k * n rows in all)."""

    cond: torch.Tensor | None
    n: int


#: a sampling step: feature-major rows ``xt`` (dim, k * n) of an :class:`InverseChunk` -> updated ``xt``
InverseStep = Callable[[torch.Tensor, InverseChunk], torch.Tensor]


def soft_clamp(s: torch.Tensor, clamp: float) -> torch.Tensor:
    """Smoothly limit log-scales to (-clamp, clamp): ``clamp * 2/pi * atan(s / clamp)``."""
    return clamp * (2.0 / math.pi) * torch.atan(s / clamp)


class InvertibleBlock(nn.Module, abc.ABC):
    """Common interface: ``forward(x, c) -> (out, log_det)``, ``inverse(out, c) -> x``."""

    def __init__(self, dim: int, cond_dim: int = 0):
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        if cond_dim < 0:
            raise ValueError(f"cond_dim must be >= 0, got {cond_dim}")
        self.dim = dim
        self.cond_dim = cond_dim

    @abc.abstractmethod
    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (batch, dim) -> ``(out (batch, dim), log|det J| (batch,))``."""

    @abc.abstractmethod
    def inverse(self, out: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """The exact inverse of :meth:`forward`: ``out`` (batch, dim) -> ``x``."""

    @abc.abstractmethod
    def inverse_steps(self, layout: torch.Tensor) -> tuple[list[InverseStep], torch.Tensor]:
        """:meth:`inverse` for sampling (no autograd; weights as they are now).

        ``layout`` (dim,) says which row of the feature-major storage holds feature j. Returns
        the steps that update the storage in place of :meth:`inverse`, and the layout after them.
        """


class Coupling(InvertibleBlock):
    """Coupling block: ``x = [x1, x2]``; ``v2 = T(x2; theta1(x1, c))`` and, when two-sided,
    ``v1 = T(x1; theta2(v2, c))``, where T is an elementwise invertible map whose parameters
    come from a subnet (subclasses define T).

    Two-sided blocks (GLOW) transform every feature with two subnets; one-sided blocks
    (RealNVP, FrEIA's AllInOneBlock) transform x2 only with one subnet and rely on the
    permutations in between. For ``dim == 1`` the block transforms x conditioned on ``c`` only.
    """

    #: number of subnet outputs per transformed feature (set by subclasses)
    params_per_dim: int = 2
    #: sampling gives :meth:`_transform` parameter-major params, (k, m, rows) viewed as (rows, m, k):
    #: faster for few elementwise ops per parameter (affine); row-major suits per-row work (splines)
    param_major_inverse: bool = False

    def __init__(
        self, dim: int, cond_dim: int = 0, hidden: int = 128, n_hidden_layers: int = 2, two_sided: bool = True
    ):
        super().__init__(dim, cond_dim)
        if dim == 1 and cond_dim == 0:
            raise ValueError("a coupling block on 1 feature needs a condition (cond_dim > 0)")
        self.len1 = dim // 2
        self.len2 = dim - self.len1
        k = self.params_per_dim
        self.subnet1 = mlp(self.len1 + cond_dim, k * self.len2, hidden, n_hidden_layers, zero_last=True)
        self.subnet2 = (
            mlp(self.len2 + cond_dim, k * self.len1, hidden, n_hidden_layers, zero_last=True)
            if self.len1 > 0 and two_sided
            else None
        )

    def _params(self, net: nn.Module, inp: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """Subnet output reshaped to (batch, n_features, params_per_dim)."""
        if self.cond_dim:
            inp = torch.cat([inp, c], dim=1)
        out = net(inp)
        return out.reshape(out.shape[0], -1, self.params_per_dim)

    @abc.abstractmethod
    def _transform(self, x: torch.Tensor, params: torch.Tensor, inverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Elementwise map of ``x`` (batch, m) with ``params`` (batch, m, k) -> (out, log_det (batch,))."""

    def forward(self, x, c=None):
        x1, x2 = x[:, : self.len1], x[:, self.len1 :]
        v2, log_det = self._transform(x2, self._params(self.subnet1, x1, c), inverse=False)
        if self.subnet2 is None:
            return torch.cat([x1, v2], dim=1), log_det
        v1, log_det1 = self._transform(x1, self._params(self.subnet2, v2, c), inverse=False)
        return torch.cat([v1, v2], dim=1), log_det + log_det1

    def inverse(self, out, c=None):
        v1, v2 = out[:, : self.len1], out[:, self.len1 :]
        if self.subnet2 is not None:
            v1, _ = self._transform(v1, self._params(self.subnet2, v2, c), inverse=True)
        x2, _ = self._transform(v2, self._params(self.subnet1, v1, c), inverse=True)
        return torch.cat([v1, x2], dim=1)

    def inverse_steps(self, layout):
        first, second = layout[: self.len1], layout[self.len1 :]
        steps = [] if self.subnet2 is None else [_SubnetInverse(self, self.subnet2, passive=second, active=first)]
        return steps + [_SubnetInverse(self, self.subnet1, passive=first, active=second)], layout


def _flushed(t: torch.Tensor) -> torch.Tensor:
    """``t`` detached, with entries below sqrt(smallest normal) (1e-19 in float32) set to 0.

    Weight decay leaves the weights of dead units decaying towards 0 (a fifth of the shipped
    oximetry cINN's are below 1e-19); their products with activations are subnormal floats,
    which x86 handles in slow microcode: a 128 x 128 matmul with such weights measured 5-47x
    slower. They change no sum of normal-sized terms.
    """
    t = t.detach()
    return t.masked_fill(t.abs() < torch.finfo(t.dtype).tiny ** 0.5, 0.0)


class _SubnetInverse:
    """``x[active] <- T^-1(x[active]; subnet(x[passive], c))`` on feature-major storage.

    The subnet's weights are folded at construction: its first layer reads the whole
    storage column (zero weights for the rows it does not see, so no gather), its condition
    part runs once per observation of a chunk, and its last layer writes the parameters in
    the block's :attr:`Coupling.param_major_inverse` order.
    """

    def __init__(self, block: Coupling, net: nn.Sequential, passive: torch.Tensor, active: torch.Tensor):
        if not isinstance(net, nn.Sequential) or not all(isinstance(m, (nn.Linear, nn.ReLU)) for m in net):
            raise TypeError(f"a coupling subnet must be an mlp() of Linear and ReLU layers, got {net}")
        linears = [(_flushed(m.weight), _flushed(m.bias)) for m in net if isinstance(m, nn.Linear)]
        (first, self.b_first), (last, b_last) = linears[0], linears[-1]
        n_pass, k, m = len(passive), block.params_per_dim, len(active)
        self.w_x = first.new_zeros(block.dim, first.shape[0])
        self.w_x[passive] = first[:, :n_pass].t()
        self.w_c = first[:, n_pass:].t()
        self.hidden = [(w.t(), b) for w, b in linears[1:-1]]
        self.param_major = block.param_major_inverse
        if self.param_major:  # rows j * k + q -> q * m + j
            self.w_last = last.reshape(m, k, -1).transpose(0, 1).reshape(k * m, -1)
            self.b_last = b_last.reshape(m, k).t().reshape(k * m, 1)
        else:
            self.w_last, self.b_last = last.t(), b_last
        self.k, self.active, self.transform = k, active, block._transform

    def __call__(self, xt: torch.Tensor, chunk: InverseChunk) -> torch.Tensor:
        rows = xt.shape[1]
        h = torch.mm(xt.t(), self.w_x)
        if chunk.cond is None:
            h.add_(self.b_first)
        else:
            h.view(-1, chunk.n, h.shape[1]).add_(torch.addmm(self.b_first, chunk.cond, self.w_c).unsqueeze(1))
        h.relu_()
        for w, b in self.hidden:
            h = torch.addmm(b, h, w).relu_()
        x = xt.index_select(0, self.active).t()
        if self.param_major:
            params = torch.addmm(self.b_last, self.w_last, h.t()).view(self.k, -1, rows).permute(2, 1, 0)
        else:
            params, x = torch.addmm(self.b_last, h, self.w_last).view(rows, -1, self.k), x.contiguous()
        x, _ = self.transform(x, params, inverse=True)
        return xt.index_copy_(0, self.active, x.t())


class AffineCoupling(Coupling):
    """GLOW/RealNVP affine coupling ``v = x * exp(s) + t`` with soft-clamped log-scale ``s``."""

    params_per_dim = 2
    param_major_inverse = True

    def __init__(
        self,
        dim: int,
        cond_dim: int = 0,
        hidden: int = 128,
        n_hidden_layers: int = 2,
        two_sided: bool = True,
        clamp: float = 2.0,
    ):
        if clamp <= 0:
            raise ValueError(f"clamp must be > 0, got {clamp}")
        super().__init__(dim, cond_dim, hidden, n_hidden_layers, two_sided)
        self.clamp = clamp

    def _transform(self, x, params, inverse):
        s = soft_clamp(params[..., 0], self.clamp)
        t = params[..., 1]
        if inverse:
            return (x - t) * torch.exp(-s), -s.sum(dim=1)
        return x * torch.exp(s) + t, s.sum(dim=1)


class Permutation(InvertibleBlock):
    """A fixed random permutation of the features, drawn from a local seeded generator.

    The permutation is stored as buffers, so it is saved and loaded with the weights.
    """

    def __init__(self, dim: int, seed: int):
        super().__init__(dim)
        generator = torch.Generator().manual_seed(int(seed))
        perm = torch.randperm(dim, generator=generator)
        self.register_buffer("perm", perm)
        self.register_buffer("inv_perm", torch.argsort(perm))

    def forward(self, x, c=None):
        return x[:, self.perm], x.new_zeros(x.shape[0])

    def inverse(self, out, c=None):
        return out[:, self.inv_perm]

    def inverse_steps(self, layout):
        return [], layout[self.inv_perm]


class ActNorm(InvertibleBlock):
    """Per-feature affine normalisation ``out = (x + bias) * exp(log_scale)`` (GLOW).

    On the first forward pass in training mode, bias and scale are set from the batch so
    the output has zero mean and unit variance; the ``initialized`` buffer records this so
    a loaded model never re-initialises.
    """

    def __init__(self, dim: int):
        super().__init__(dim)
        self.bias = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _initialize(self, x: torch.Tensor):
        std = x.std(dim=0, unbiased=False) if x.shape[0] > 1 else torch.ones_like(x[0])
        self.bias.copy_(-x.mean(dim=0))
        self.log_scale.copy_(-torch.log(std.clamp_min(1e-6)))
        self.initialized.fill_(True)

    def forward(self, x, c=None):
        if self.training and not bool(self.initialized):
            self._initialize(x)
        out = (x + self.bias) * torch.exp(self.log_scale)
        return out, self.log_scale.sum().expand(x.shape[0])

    def inverse(self, out, c=None):
        return out * torch.exp(-self.log_scale) - self.bias

    def inverse_steps(self, layout):
        scale, shift = torch.empty_like(self.log_scale).detach(), torch.empty_like(self.bias).detach()
        scale[layout], shift[layout] = torch.exp(-self.log_scale.detach()), -self.bias.detach()
        scale, shift = scale[:, None], shift[:, None]
        return [lambda xt, chunk: torch.addcmul(shift, xt, scale)], layout
