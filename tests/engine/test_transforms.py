import numpy as np
import pytest

from inn_engine.transforms import BoundTransform, Standardizer


def test_round_trip_and_kinds():
    t = BoundTransform.from_bounds([[0, 1], [2, np.inf], [-np.inf, 5], [-np.inf, np.inf]], 4)
    assert t.kinds == ["logit", "log_lower", "log_upper", "identity"]
    x = np.array([[0.3, 2.5, 4.0, -7.0], [0.99, 100.0, -3.0, 1e3]])
    assert np.allclose(t.inverse(t.forward(x)), x, rtol=1e-9)


def test_in_place_inverses_equal_the_formulas_exactly():
    t = BoundTransform.from_bounds([[0, 2], [1, np.inf], [-np.inf, 5], [-np.inf, np.inf], [-1, 1]], 5)
    u = np.random.default_rng(1).normal(0, 3, size=(2, 7, 5))
    expected = np.stack(
        [
            0 + 2 / (1 + np.exp(-u[..., 0])),
            1 + np.exp(u[..., 1]),
            5 - np.exp(-u[..., 2]),
            u[..., 3],
            -1 + 2 / (1 + np.exp(-u[..., 4])),
        ],
        axis=-1,
    )
    assert np.array_equal(t.inverse(u), expected)
    work = u.copy()
    assert t.inverse(work, copy=False) is work and np.array_equal(work, expected)
    all_logit = BoundTransform.from_bounds([[0, 2], [-1, 1]], 2)
    work = u[..., [0, 4]].copy()
    assert np.array_equal(all_logit.inverse(work, copy=False), expected[..., [0, 4]])
    s = Standardizer(np.array([1.0, -2.0]), np.array([3.0, 0.5]))
    work = u[..., :2].copy()
    assert np.array_equal(s.inverse(work, copy=False), u[..., :2] * s.std + s.mean) and np.shares_memory(
        s.inverse(work, copy=False), work
    )


def test_inverse_never_leaves_the_support():
    t = BoundTransform.from_bounds([[0, 1], [1e-4, 0.1]], 2)
    u = np.random.default_rng(0).normal(0, 30, size=(10000, 2))
    x = t.inverse(u)
    assert np.all((x[:, 0] >= 0) & (x[:, 0] <= 1) & (x[:, 1] >= 1e-4) & (x[:, 1] <= 0.1))


def test_log_abs_det_matches_finite_differences():
    t = BoundTransform.from_bounds([[0, 2], [1, np.inf], [-np.inf, 0], [-np.inf, np.inf]], 4)
    u = np.array([0.3, -1.2, 0.7, 2.0])
    eps = 1e-6
    numeric = sum(
        np.log((t.inverse((u + eps * e)[None]) - t.inverse((u - eps * e)[None]))[0, j] / (2 * eps))
        for j, e in enumerate(np.eye(4))
    )
    assert np.isclose(t.log_abs_det_inverse(u[None])[0], numeric, atol=1e-6)


def test_serialisation_keeps_infinities():
    t = BoundTransform.from_bounds([[0, np.inf], [-np.inf, np.inf]], 2)
    t2 = BoundTransform.from_dict(t.to_dict())
    assert np.array_equal(t.low, t2.low) and np.array_equal(t.high, t2.high)
    s = Standardizer.fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    assert np.all(s.std > 0)  # constant feature stays finite
    assert np.allclose(Standardizer.from_dict(s.to_dict()).forward([[2.0, 5.0]]), [[0.0, 0.0]])


def test_bad_bounds_and_values():
    with pytest.raises(ValueError, match="shape"):
        BoundTransform.from_bounds([[0, 1]], 2)
    with pytest.raises(ValueError, match="low < high"):
        BoundTransform.from_bounds([[1, 0]], 1)
    t = BoundTransform.from_bounds([[0, 1]], 1)
    with pytest.raises(ValueError, match=r"x\[:, 0\].*outside"):
        t.check_inside(np.array([[1.5]]))


def test_inverse_stays_strictly_inside_far_in_the_tails():
    """exp(-v) underflows for v > ~745 and 1 + exp(-v) rounds to 1 for v > ~37: without the
    clip the draws land exactly on the bounds."""
    t = BoundTransform.from_bounds([[0.0, 1.0], [2.0, np.inf], [-np.inf, 5.0]], 3)
    x = t.inverse(np.array([[40.0, -800.0, 800.0], [-800.0, 800.0, -40.0]]))
    assert (x[:, 0] > 0).all() and (x[:, 0] < 1).all() and (x[:, 1] > 2).all() and (x[:, 2] < 5).all()
