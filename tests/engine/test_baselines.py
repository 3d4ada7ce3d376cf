"""The paper's baselines (MC dropout, cVAE, cVAE-IAF) through the engine's fit/Estimator/load.

Reference problem: x ~ N(0, I_2), y = x + N(0, 0.5^2 I): the exact posterior is
N(y / 1.25, 0.2 I), so means, spreads and held-out likelihoods have analytic values.
"""

import numpy as np
import pytest
import torch

import inn_engine
from inn_engine.baselines import ConditionalVAE, ConditionalVAEIAF, MCDropoutRegressor
from inn_engine.baselines.iaf import InverseAutoregressiveFlow
from inn_engine.baselines.made import MADE
from inn_engine.models import MODELS

NOISE = 0.5
POST_VAR = 1 / (1 + 1 / NOISE**2)  # 0.2
POST_GAIN = POST_VAR / NOISE**2  # posterior mean = 0.8 y = y / 1.25
KINDS = ["mc_dropout", "cvae", "cvae_iaf"]
Y_OBS = np.array([[0.0, 0.0], [1.0, -1.5], [2.0, 0.5]])


def _gaussian_problem(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    return x, x + NOISE * rng.normal(size=(n, 2))


@pytest.fixture(scope="module", params=KINDS)
def fitted(request):
    x, y = _gaussian_problem(8000, seed=0)
    est = inn_engine.fit(x, y, model=request.param, seed=0, steps=600, batch_size=256, hidden=64, progress=False)
    return request.param, est


def test_registered_under_their_kinds():
    assert MODELS["mc_dropout"] is MCDropoutRegressor
    assert MODELS["cvae"] is ConditionalVAE
    assert MODELS["cvae_iaf"] is ConditionalVAEIAF


def test_recovers_the_analytic_posterior(fitted):
    kind, est = fitted
    draws = est.sample(Y_OBS, n=4000, seed=1)
    assert draws.shape == (3, 4000, 2)
    assert np.allclose(draws.mean(axis=1), Y_OBS * POST_GAIN, atol=0.15), kind
    ratio = draws.std(axis=1) / np.sqrt(POST_VAR)
    print(
        f"{kind}: max |mean error| {np.abs(draws.mean(axis=1) - Y_OBS * POST_GAIN).max():.3f}, "
        f"std / exact std {ratio.min():.3f}-{ratio.max():.3f}"
    )
    assert np.all((ratio > 1 / 1.3) & (ratio < 1.3)), (kind, ratio)


def test_held_out_loss_is_a_bound_close_to_the_exact_likelihood(fitted):
    """Negative ELBO (cVAEs) / MC-predictive NLL (dropout) on fresh data, per dimension, in the
    standardized space, against the exact posterior's NLL: not below it (Gibbs' inequality and
    the ELBO bound; a wrong log-determinant or KL sign breaks this), and not far above it."""
    kind, est = fitted
    x, y = _gaussian_problem(20000, seed=7)
    resid = x - y * POST_GAIN
    exact_nll = 0.5 * (np.log(2 * np.pi * POST_VAR) + resid**2 / POST_VAR).sum(axis=1).mean()
    exact_per_dim = (exact_nll - np.log(est.x_scaler.std).sum()) / 2
    xs = torch.as_tensor(est.x_scaler.forward(x), dtype=torch.float32)
    ys = torch.as_tensor(est.y_scaler.forward(y), dtype=torch.float32)
    loss = float(est.model.validation_loss(xs, ys))
    print(f"{kind}: held-out loss {loss:.4f} nats/dim, exact posterior NLL {exact_per_dim:.4f}")
    assert exact_per_dim - 0.01 <= loss <= exact_per_dim + 0.06, (kind, loss, exact_per_dim)


def test_save_load_round_trip_gives_identical_draws(fitted, tmp_path):
    kind, est = fitted
    est.save(tmp_path / kind)
    again = inn_engine.load(tmp_path / kind)
    assert type(again.model) is type(est.model) and again.model.config == est.model.config
    assert np.array_equal(est.sample(Y_OBS, n=200, seed=5), again.sample(Y_OBS, n=200, seed=5))
    assert not np.array_equal(est.sample(Y_OBS, n=200, seed=5), est.sample(Y_OBS, n=200, seed=6))


def test_posterior_works_without_a_density(fitted):
    kind, est = fitted
    post = est.posterior(Y_OBS[:1], n=2000, seed=0)
    assert post.log_density is None
    lo, hi = post.interval(0.68)
    assert np.all(lo < post.median()) and np.all(post.median() < hi)


@pytest.mark.parametrize("kind", KINDS)
def test_training_is_repeatable(kind):
    x, y = _gaussian_problem(500, seed=3)
    runs = [
        inn_engine.fit(x, y, model=kind, seed=2, steps=20, batch_size=64, hidden=16, progress=False).sample(
            Y_OBS, n=50, seed=0
        )
        for _ in range(2)
    ]
    assert np.array_equal(runs[0], runs[1])


@pytest.mark.parametrize("dim", [1, 2, 5])
def test_iaf_log_det_matches_the_autograd_jacobian(dim):
    torch.manual_seed(0)
    flow = InverseAutoregressiveFlow(dim, context_dim=3, n_steps=3, hidden=16, n_hidden_layers=2).double()
    for p in flow.parameters():  # move away from the near-identity start
        torch.nn.init.normal_(p, std=0.5)
    z0 = torch.randn(4, dim, dtype=torch.float64)
    context = torch.randn(4, 3, dtype=torch.float64)
    _, log_det = flow(z0, context)
    for i in range(4):
        jac = torch.autograd.functional.jacobian(lambda v: flow(v[None], context[i : i + 1])[0][0], z0[i])
        sign, logabs = torch.linalg.slogdet(jac)
        assert sign > 0
        assert torch.allclose(log_det[i], logabs, atol=1e-10)


def test_made_is_autoregressive_and_uses_the_context():
    torch.manual_seed(0)
    made = MADE(dim=4, context_dim=2, hidden=12, n_hidden_layers=2, n_outputs=2).double()
    for p in made.parameters():
        torch.nn.init.normal_(p)
    c = torch.randn(1, 2, dtype=torch.float64)
    reached = torch.zeros(2, 4, 4, dtype=torch.bool)
    for x in torch.randn(20, 4, dtype=torch.float64):
        jac = torch.autograd.functional.jacobian(lambda v: made(v[None], c)[0], x)  # (2 outputs, 4, 4)
        reached |= jac != 0
    upper = torch.triu(torch.ones(4, 4, dtype=torch.bool))
    assert not reached[:, upper].any()  # output i never sees inputs i, i+1, ...
    assert reached[:, ~upper].all()  # but every earlier input reaches it
    x = torch.randn(1, 4, dtype=torch.float64)
    jac_c = torch.autograd.functional.jacobian(lambda v: made(x, v[None])[0], c[0])
    assert torch.all(jac_c.abs().sum(dim=-1) > 0)  # every output, the first included, sees the context


def test_mc_dropout_draws_a_mask_per_draw():
    torch.manual_seed(0)
    net = MCDropoutRegressor(2, 2, hidden=32, dropout=0.2).eval()
    y = torch.zeros(1, 2)
    gen = torch.Generator().manual_seed(0)
    means = torch.stack([net.predict(y, gen)[0] for _ in range(20)])
    assert means.std(dim=0).min() > 0  # epistemic spread survives eval mode
    batch_means, _ = net.predict(y.repeat(20, 1), torch.Generator().manual_seed(1))
    assert batch_means.std(dim=0).min() > 0  # rows of one batch get different masks


def test_kl_warm_up_ramps_and_is_saved():
    torch.manual_seed(0)
    model = ConditionalVAE(2, 2, hidden=8, kl_warmup_steps=4).train()
    x, y = torch.randn(16, 2), torch.randn(16, 2)
    weights = [float(model.training_loss(x, y)[1]["kl_weight"]) for _ in range(5)]
    assert weights == [0.25, 0.5, 0.75, 1.0, 1.0]
    rebuilt = ConditionalVAE(**model.config)
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.kl_weight() == 1.0
    with torch.no_grad():
        model.training_loss(x, y)
    assert int(model.calls) == 5  # evaluation without gradients does not advance the ramp


@pytest.mark.parametrize(
    "cls, kwargs, field",
    [
        (MCDropoutRegressor, dict(dropout=0.0), "dropout"),
        (MCDropoutRegressor, dict(dropout=1.0), "dropout"),
        (MCDropoutRegressor, dict(hidden=0), "hidden"),
        (MCDropoutRegressor, dict(n_validation_passes=0), "n_validation_passes"),
        (ConditionalVAE, dict(dim_z=0), "dim_z"),
        (ConditionalVAE, dict(kl_warmup_steps=-1), "kl_warmup_steps"),
        (ConditionalVAE, dict(n_hidden_layers=1.5), "n_hidden_layers"),
        (ConditionalVAEIAF, dict(n_iaf_steps=0), "n_iaf_steps"),
        (ConditionalVAEIAF, dict(context_features=-1), "context_features"),
        (ConditionalVAEIAF, dict(iaf_hidden=0), "iaf_hidden"),
    ],
)
def test_bad_constructor_arguments_are_refused(cls, kwargs, field):
    with pytest.raises(ValueError, match=field):
        cls(2, 2, **kwargs)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_dimensions_are_refused(kind):
    with pytest.raises(ValueError, match="dim_x"):
        MODELS[kind](0, 2)
