"""``device=`` for training and sampling: checked once, CPU by default, clear errors without a GPU.

The GPU path itself is checked with ``benchmarks/gpu_check.py`` on a machine that has one
(never in CI)."""

import numpy as np
import pytest
import torch

import inn_engine
from inn_engine.devices import resolve_device, seeded_normal
from inn_engine.train import TrainConfig

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the errors of a machine without CUDA")


@pytest.mark.parametrize("given", [None, "cpu", " CPU ", torch.device("cpu")])
def test_cpu_spellings_resolve_to_the_cpu(given):
    assert resolve_device(given) == torch.device("cpu")


@no_gpu
def test_auto_is_the_cpu_without_a_gpu_and_cuda_is_refused_by_name():
    assert resolve_device("auto") == torch.device("cpu")
    for given in ("cuda", "cuda:0", torch.device("cuda")):
        with pytest.raises(ValueError, match=r"my_device=.*no CUDA GPU"):
            resolve_device(given, "my_device")


@pytest.mark.parametrize("given", ["gpu0", "tpu", "meta", 5, 1.0, ["cpu"]])
def test_unknown_devices_name_the_argument_and_the_form(given):
    with pytest.raises(ValueError, match=r"my_device must be .*cuda:N"):
        resolve_device(given, "my_device")


def test_seeded_normal_draws_on_the_cpu_generator_for_any_target():
    like = torch.zeros(1, dtype=torch.float64)
    a = seeded_normal(3, 2, like=like, generator=torch.Generator().manual_seed(4))
    b = torch.randn(3, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    assert a.dtype == torch.float64 and torch.equal(a, b)


@pytest.fixture(scope="module")
def small_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 2))
    y = x + 0.1 * rng.normal(size=(600, 2))
    est = inn_engine.fit(x, y, n_blocks=2, hidden=16, steps=30, progress=False, device="cpu")
    return est, y[:3]


def test_fit_on_the_cpu_records_the_device_and_samples_there(small_fit):
    est, y = small_fit
    assert est.metadata["training"]["config"]["device"] == "cpu"
    assert all(p.device.type == "cpu" for p in est.model.parameters())
    assert np.array_equal(est.sample(y, n=20, seed=1, device="cpu"), est.sample(y, n=20, seed=1))


def test_a_bad_sampling_device_is_refused_before_any_work(small_fit):
    est, y = small_fit
    with pytest.raises(ValueError, match="device must be"):
        est.sample(y, n=5, device="gpu0")
    with pytest.raises(ValueError, match="device must be"):
        est.posterior(y, n=5, device=3)


@no_gpu
def test_training_on_cuda_without_a_gpu_fails_before_training():
    with pytest.raises(ValueError, match=r"TrainConfig.device='cuda'.*no CUDA GPU"):
        TrainConfig(device="cuda")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    with pytest.raises(ValueError, match="no CUDA GPU"):
        inn_engine.fit(x, x, n_blocks=2, hidden=8, steps=5, progress=False, device="cuda")
