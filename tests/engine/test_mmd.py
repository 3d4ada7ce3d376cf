"""MMD kernels and the biased MMD^2 estimate (inn_engine.mmd)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from inn_engine.mmd import (
    PAPER_BACKWARD_KERNEL_PARAMS,
    generalized_multiquadratic,
    imq_kernel,
    inverse_multiquadratic,
    mmd,
    mmd_numpy,
    multiquadratic_kernel,
    squared_distances,
    y_similarity_weights,
)


def test_inverse_multiquadratic_matches_formula():
    d2 = torch.tensor([0.0, 0.01, 0.5, 4.0, 100.0], dtype=torch.float64)
    widths = (0.05, 0.2, 0.9)
    expected = sum(h**2 / (h**2 + d2.numpy()) for h in widths)
    np.testing.assert_allclose(inverse_multiquadratic(d2, widths).numpy(), expected, rtol=1e-14)
    assert inverse_multiquadratic(torch.zeros(1), widths).item() == pytest.approx(3.0)


def test_generalized_multiquadratic_matches_formula_and_reduces_to_imq():
    d2 = torch.tensor([0.0, 0.3, 2.0, 50.0], dtype=torch.float64)
    params = PAPER_BACKWARD_KERNEL_PARAMS
    expected = sum(c**a * ((c + d2.numpy()) / a) ** (-a) for c, a in params)
    np.testing.assert_allclose(generalized_multiquadratic(d2, params).numpy(), expected, rtol=1e-14)
    # (C, a) = (h^2, 1) is the inverse multiquadratic term
    widths = (0.05, 0.2, 0.9)
    np.testing.assert_allclose(
        generalized_multiquadratic(d2, [(h * h, 1.0) for h in widths]).numpy(),
        inverse_multiquadratic(d2, widths).numpy(),
        rtol=1e-14,
    )


def test_squared_distances_match_brute_force():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    brute = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    got = squared_distances(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(got, brute, rtol=1e-12, atol=1e-12)


def test_mmd_matches_explicit_sum():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 2)), rng.normal(1.0, 1.0, size=(4, 2))
    k = lambda u, v: sum(h**2 / (h**2 + ((u - v) ** 2).sum()) for h in (0.05, 0.2, 0.9))  # noqa: E731
    expected = (
        np.mean([[k(u, v) for v in a] for u in a])
        + np.mean([[k(u, v) for v in b] for u in b])
        - 2 * np.mean([[k(u, v) for v in b] for u in a])
    )
    assert mmd(torch.from_numpy(a), torch.from_numpy(b)).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mmd_zero_for_identical_sets_and_grows_with_shift(dtype):
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(400, 3, generator=gen, dtype=dtype)
    b = torch.randn(400, 3, generator=gen, dtype=dtype)
    kernel = multiquadratic_kernel([(0.2, 2.0), (1.5, 2.0), (3.0, 2.0)])
    assert abs(mmd(a, a, kernel).item()) < 1e-5
    values = [mmd(a, b + shift, kernel).item() for shift in (0.0, 0.25, 0.5, 1.0, 2.0)]
    assert values[0] > 0
    assert all(v2 > v1 for v1, v2 in zip(values, values[1:]))
    assert mmd(a, b, kernel).dtype == dtype
    # same-distribution estimate is small compared with a one-sigma shift
    assert values[0] < 0.1 * values[3]


def test_mmd_gradient_flows_and_pulls_samples_together():
    gen = torch.Generator().manual_seed(2)
    target = torch.randn(200, 2, generator=gen)
    moving = (torch.randn(200, 2, generator=gen) + 3.0).requires_grad_(True)
    loss = mmd(moving, target, imq_kernel((0.2, 1.0, 2.0)))
    loss.backward()
    assert torch.isfinite(moving.grad).all() and moving.grad.abs().sum() > 0
    # gradient descent on the MMD moves the sample mean toward the target's
    with torch.no_grad():
        stepped = moving - 50.0 * moving.grad
    assert (stepped.mean(0) - target.mean(0)).norm() < (moving.mean(0) - target.mean(0)).norm()


def test_gradient_finite_for_coincident_points():
    a = torch.zeros(4, 2, requires_grad=True)
    mmd(a, torch.zeros(4, 2)).backward()
    assert torch.isfinite(a.grad).all()


def test_weighted_mmd_matches_paper_formula():
    gen = torch.Generator().manual_seed(3)
    a, b, y = torch.randn(50, 3, generator=gen), torch.randn(50, 3, generator=gen), torch.randn(50, 2, generator=gen)
    w = y_similarity_weights(y, sigma=0.48)
    np.testing.assert_allclose(
        w.numpy(), np.exp(-((y[:, None] - y[None]) ** 2).sum(-1).numpy() / (2 * 0.48**2)), rtol=1e-5, atol=1e-7
    )
    kernel = multiquadratic_kernel(PAPER_BACKWARD_KERNEL_PARAMS)
    d = lambda u, v: squared_distances(u, v)  # noqa: E731
    expected = (w * (kernel(d(a, a)) + kernel(d(b, b)) - 2 * kernel(d(a, b)))).mean()
    assert mmd(a, b, kernel, weights=w).item() == pytest.approx(expected.item(), rel=1e-5)
    assert abs(mmd(a, a, kernel, weights=w).item()) < 1e-5
    # all-ones weights give back the unweighted estimate
    assert mmd(a, b, kernel, weights=torch.ones(50, 50)).item() == pytest.approx(mmd(a, b, kernel).item(), rel=1e-5)


def test_mmd_numpy_and_validation():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(300, 2))
    assert mmd_numpy(a, a) == pytest.approx(0.0, abs=1e-12)
    assert mmd_numpy(a, a + 1.0) > mmd_numpy(a, rng.normal(size=(300, 2)))
    assert mmd_numpy(a, a + 1.0, params=PAPER_BACKWARD_KERNEL_PARAMS) > 0
    with pytest.raises(ValueError, match="columns"):
        mmd(torch.zeros(3, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="weights"):
        mmd(torch.zeros(3, 2), torch.zeros(3, 2), weights=torch.ones(2, 2))
    with pytest.raises(ValueError, match="paired"):
        mmd(torch.zeros(3, 2), torch.zeros(4, 2), weights=torch.ones(3, 3))
    with pytest.raises(ValueError, match="widths"):
        imq_kernel((0.1, -1.0))
    with pytest.raises(ValueError, match=r"\(C, a\)"):
        multiquadratic_kernel([(0.2,)])
    with pytest.raises(ValueError, match="NaN"):
        mmd_numpy(np.array([[np.nan, 0.0]]), a)


def test_mmd_numpy_batched_and_blocked_match_single(monkeypatch):
    import inn_engine.mmd as mmd_module

    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(3, 150, 2)), rng.normal(0.3, 1.0, size=(3, 120, 2))
    batched = mmd_numpy(a, b, params=PAPER_BACKWARD_KERNEL_PARAMS)
    assert batched.shape == (3,)
    singles = [
        mmd(torch.from_numpy(a[i]), torch.from_numpy(b[i]), multiquadratic_kernel(PAPER_BACKWARD_KERNEL_PARAMS)).item()
        for i in range(3)
    ]
    np.testing.assert_allclose(batched, singles, rtol=1e-10)
    monkeypatch.setattr(mmd_module, "_BLOCK_ELEMENTS", 3 * 40 * 40)  # force 40-row blocks
    np.testing.assert_allclose(mmd_numpy(a, b, params=PAPER_BACKWARD_KERNEL_PARAMS), singles, rtol=1e-10)
    with pytest.raises(ValueError, match="n_obs"):
        mmd_numpy(a, b[:2])


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    m=st.integers(1, 12),
    d=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
    params=st.lists(st.tuples(st.floats(0.01, 5.0), st.floats(0.05, 3.0)), min_size=1, max_size=3),
)
def test_mmd_nonnegative_for_any_sets_property(n, m, d, seed, params):
    """Both kernel families are positive definite ((C + d2)^-a is completely monotone in
    d2), so the biased MMD^2 (a squared RKHS norm) is >= 0 for any two sets."""
    rng = np.random.default_rng(seed)
    a = torch.from_numpy(rng.normal(size=(n, d)) * rng.uniform(0.01, 3.0))
    b = torch.from_numpy(rng.normal(size=(m, d)) + rng.normal(size=d))
    assert mmd(a, b, multiquadratic_kernel(params)).item() >= -1e-12
    assert mmd(a, b, imq_kernel([np.sqrt(c) for c, _ in params])).item() >= -1e-12
