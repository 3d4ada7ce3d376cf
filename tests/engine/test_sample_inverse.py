"""The batched sampling inverse equals the module inverse: every block kind, chunk boundaries, dtypes."""

import numpy as np
import pytest
import torch

import inn_engine
from inn_engine import flow as flow_module
from inn_engine.blocks import _flushed
from inn_engine.flow import coupling_stack


def _randomized(flow, scale=0.1, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return flow.eval()


@pytest.mark.parametrize("coupling", ["affine", "spline"])
@pytest.mark.parametrize("two_sided", [True, False])
@pytest.mark.parametrize("dim, cond_dim", [(1, 2), (4, 2), (7, 3), (5, 0)])
def test_sample_inverse_equals_module_inverse_in_float64(coupling, two_sided, dim, cond_dim):
    flow = _randomized(
        coupling_stack(dim, 3, cond_dim, coupling, hidden=16, n_hidden_layers=2, seed=2, two_sided=two_sided).double()
    )
    n_obs, n = 7, 5
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(n_obs * n, dim, generator=gen, dtype=torch.float64)
    c = torch.randn(n_obs, cond_dim, generator=gen, dtype=torch.float64) if cond_dim else None
    expected = flow.inverse(z, None if c is None else c.repeat_interleave(n, 0)).detach()
    got = flow.sample_inverse(z, c, n) if c is not None else flow.sample_inverse(z)
    assert got.dtype == torch.float64 and got.shape == z.shape
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_obs, n", [(3, 5), (1, 11), (4, 7), (2, 13)])
def test_sample_inverse_chunks_split_and_group_observations(monkeypatch, n_obs, n):
    """Chunks of 8 rows: several observations per chunk (n < 8), or an observation's rows over
    several chunks (n >= 8); conditions must follow their rows either way."""
    monkeypatch.setattr(flow_module, "CHUNK_ROWS", 8)
    flow = _randomized(coupling_stack(3, 2, 2, "affine", hidden=8, seed=0).double())
    z = torch.randn(n_obs * n, 3, dtype=torch.float64)
    c = torch.randn(n_obs, 2, dtype=torch.float64)
    expected = flow.inverse(z, c.repeat_interleave(n, 0)).detach()
    assert torch.allclose(flow.sample_inverse(z, c, n), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="observations"):
        flow.sample_inverse(z, c[:-1], n)


def test_sample_inverse_float32_stays_within_rounding():
    flow = _randomized(coupling_stack(6, 8, 3, "affine", hidden=128, seed=0, two_sided=False), scale=0.05)
    z = torch.randn(3000, 6)
    c = torch.randn(30, 3)
    with torch.inference_mode():
        expected = flow.inverse(z, c.repeat_interleave(100, 0))
        got = flow.sample_inverse(z, c, 100)
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_flushed_zeroes_only_negligible_weights():
    w = torch.tensor([1e-38, -3e-20, 2e-19, -1.0, 0.0, 1e-45])
    assert torch.equal(_flushed(w), torch.tensor([0.0, 0.0, 2e-19, -1.0, 0.0, 0.0]))
    flow = _randomized(coupling_stack(4, 2, 2, "affine", hidden=16, seed=0))
    with torch.no_grad():
        flow.blocks[1].subnet1[2].weight[:, :3] = 1e-30  # three units as weight decay leaves dead ones
    z, c = torch.randn(50, 4), torch.randn(10, 2)
    assert torch.allclose(
        flow.sample_inverse(z, c, 5), flow.inverse(z, c.repeat_interleave(5, 0)).detach(), rtol=1e-5, atol=1e-6
    )


def test_estimator_draws_match_the_module_path():
    """Estimator.sample (batched inverse) against today's reference: the module inverse on
    conditions repeated per draw, the same latent draws for the same seed."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    y = x[:, :2] + 0.1 * rng.normal(size=(2000, 2))
    est = inn_engine.fit(
        x,
        y,
        model="cinn",
        coupling="affine",
        seed=0,
        steps=60,
        n_blocks=3,
        hidden=32,
        progress=False,
        bounds=[[-10, 10], [-np.inf, np.inf], [-8, np.inf]],
    )
    y_obs = y[:9]
    ys = est._standardized_y(y_obs)
    with torch.inference_mode():
        c = est.model.cond_net(ys).repeat_interleave(40, 0)
        z = torch.randn(c.shape[0], 3, generator=torch.Generator().manual_seed(4))
        reference = est._physical_in_place(est.model.flow.inverse(z, c).double().numpy()).reshape(9, 40, 3)
    assert np.allclose(est.sample(y_obs, n=40, seed=4), reference, rtol=1e-5, atol=1e-5)


def test_sample_inverse_draws_do_not_depend_on_the_thread_count(monkeypatch):
    """Chunks run on one thread per core with single-threaded ops: 1 or 2 threads give the
    same bits, and torch's thread count is restored afterwards."""
    monkeypatch.setattr(flow_module, "CHUNK_ROWS", 64)
    flow = _randomized(coupling_stack(4, 4, 2, "affine", hidden=32, seed=0, two_sided=False), scale=0.05)
    z, c = torch.randn(40 * 30, 4), torch.randn(40, 2)
    before = torch.get_num_threads()
    results = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        try:
            with torch.inference_mode():
                results.append(flow.sample_inverse(z, c, 30))
            assert torch.get_num_threads() == threads
        finally:
            torch.set_num_threads(before)
    assert torch.equal(results[0], results[1])


def test_run_pieces_reraises_a_pieces_error_and_restores_threads():
    from inn_engine.threads import run_pieces

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    done = []

    def work(piece):
        if piece == 3:
            raise RuntimeError("piece 3 failed")
        done.append(torch.get_num_threads())

    try:
        with pytest.raises(RuntimeError, match="piece 3"):
            run_pieces(work, range(6))
        assert torch.get_num_threads() == 2 and set(done) == {1}
    finally:
        torch.set_num_threads(before)
