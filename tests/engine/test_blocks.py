"""Invertibility and exact log-determinants of every block, property-based over shapes."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inn_engine.blocks import ActNorm, AffineCoupling, Permutation, soft_clamp
from inn_engine.flow import coupling_stack
from inn_engine.splines import SplineCoupling


def _randomize(module, scale=0.2, seed=0):
    """Move the (zero-initialised) weights away from the identity map."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return module


def _check_block(block, dim, cond_dim, batch, seed):
    block = _randomize(block.double(), seed=seed).eval()
    gen = torch.Generator().manual_seed(seed)
    x = 2 * torch.randn(batch, dim, generator=gen, dtype=torch.float64)
    c = torch.randn(batch, cond_dim, generator=gen, dtype=torch.float64) if cond_dim else None
    out, log_det = block(x, c)
    assert out.shape == x.shape and log_det.shape == (batch,)
    assert torch.allclose(block.inverse(out, c), x, atol=1e-5)
    for i in range(min(batch, 3)):
        ci = None if c is None else c[i : i + 1]
        jac = torch.autograd.functional.jacobian(lambda a: block(a[None], ci)[0][0], x[i])
        assert torch.allclose(log_det[i], torch.linalg.slogdet(jac)[1], atol=1e-6)


dims = st.integers(min_value=1, max_value=7)


@settings(max_examples=15, deadline=None)
@given(dim=dims, cond_dim=st.integers(0, 3), batch=st.integers(1, 6), seed=st.integers(0, 100))
def test_affine_coupling_inverse_and_logdet(dim, cond_dim, batch, seed):
    if dim == 1 and cond_dim == 0:
        with pytest.raises(ValueError, match="condition"):
            AffineCoupling(dim, cond_dim)
        return
    _check_block(AffineCoupling(dim, cond_dim, hidden=16, clamp=2.0), dim, cond_dim, batch, seed)


@settings(max_examples=15, deadline=None)
@given(dim=dims, cond_dim=st.integers(1, 3), batch=st.integers(1, 6), seed=st.integers(0, 100))
def test_spline_coupling_inverse_and_logdet(dim, cond_dim, batch, seed):
    _check_block(SplineCoupling(dim, cond_dim, hidden=16, n_bins=6, bound=3.0), dim, cond_dim, batch, seed)


@settings(max_examples=10, deadline=None)
@given(dim=st.integers(2, 7), cond_dim=st.integers(0, 3), seed=st.integers(0, 100), spline=st.booleans())
def test_one_sided_couplings_leave_the_first_half_alone(dim, cond_dim, seed, spline):
    block = (
        SplineCoupling(dim, cond_dim, hidden=16, two_sided=False)
        if spline
        else AffineCoupling(dim, cond_dim, hidden=16, two_sided=False)
    )
    assert block.subnet2 is None
    _check_block(block, dim, cond_dim, 4, seed)
    x = torch.randn(4, dim, dtype=torch.float64)
    c = torch.randn(4, cond_dim, dtype=torch.float64) if cond_dim else None
    assert torch.equal(block(x, c)[0][:, : dim // 2], x[:, : dim // 2])


@settings(max_examples=10, deadline=None)
@given(dim=dims, batch=st.integers(2, 6), seed=st.integers(0, 100))
def test_permutation_and_actnorm(dim, batch, seed):
    _check_block(Permutation(dim, seed=seed), dim, 0, batch, seed)
    _check_block(ActNorm(dim), dim, 0, batch, seed)


def test_permutation_is_seeded_and_saved():
    a, b = Permutation(9, seed=3), Permutation(9, seed=3)
    assert torch.equal(a.perm, b.perm)
    assert "perm" in a.state_dict()
    assert sorted(a.perm.tolist()) == list(range(9))


def test_actnorm_initialises_from_first_training_batch_only():
    block = ActNorm(3).train()
    x = torch.randn(500, 3) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([3.0, -2.0, 0.5])
    out, _ = block(x)
    assert torch.allclose(out.mean(0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(out.std(0, unbiased=False), torch.ones(3), atol=1e-3)
    before = block.bias.clone()
    block(x * 10)
    assert torch.equal(block.bias, before) and bool(block.initialized)


def test_soft_clamp_bounds_scales():
    s = torch.linspace(-100, 100, 101)
    assert soft_clamp(s, 2.0).abs().max() < 2.0
    assert torch.all(torch.diff(soft_clamp(s, 2.0)) > 0)  # monotone: keeps the ordering of scales


@pytest.mark.parametrize("coupling", ["affine", "spline"])
def test_deep_stack_inverts(coupling):
    flow = _randomize(coupling_stack(5, 6, cond_dim=2, coupling=coupling, hidden=32, seed=1).double(), 0.05)
    flow.eval()
    x, c = torch.randn(64, 5, dtype=torch.float64), torch.randn(64, 2, dtype=torch.float64)
    out, _ = flow(x, c)
    assert torch.allclose(flow.inverse(out, c), x, atol=1e-6)


def test_spline_is_identity_outside_bound():
    block = _randomize(SplineCoupling(2, 1, hidden=8, bound=1.0).double())
    x = torch.tensor([[5.0, -7.0]], dtype=torch.float64)
    out, log_det = block(x, torch.zeros(1, 1, dtype=torch.float64))
    assert torch.equal(out.detach(), x) and float(log_det.detach()) == 0.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="clamp"):
        AffineCoupling(4, 0, clamp=0)
    with pytest.raises(ValueError, match="n_bins"):
        SplineCoupling(4, 0, n_bins=1)
    with pytest.raises(ValueError, match="coupling"):
        coupling_stack(3, 2, coupling="quadratic")
    with pytest.raises(ValueError, match="dim"):
        Permutation(0, seed=0)
    assert np.isfinite(float(soft_clamp(torch.tensor(1e30), 1.0)))
