"""The training loop: exact resume after an interruption, early stopping, DDP equivalence."""

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from inn_engine.cinn import ConditionalINN
from inn_engine.launch import leave_process_group
from inn_engine.padded import PaddedINN
from inn_engine.train import CHECKPOINT_NAME, TrainConfig, train


def _data(n=600, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=gen)
    y = x[:, :2] * 2 + 0.3 * torch.randn(n, 2, generator=gen)
    return x, y


class _Interrupted(Exception):
    pass


class _FlakyPadded(PaddedINN):
    """A padded INN whose process 'dies' after ``fail_after`` loss evaluations."""

    fail_after = 10**9

    def training_loss(self, x, y, generator=None):
        _FlakyPadded.fail_after -= 1
        if _FlakyPadded.fail_after < 0:
            raise _Interrupted
        return super().training_loss(x, y, generator)


def _fresh(cls):
    torch.manual_seed(0)
    return cls(3, 2, n_blocks=2, hidden=16, backward_ramp_steps=20)


def test_resume_after_interruption_is_exact(tmp_path):
    """Padded INN: random training noise, ramp counter, cosine LR and Adam state all resume."""
    x, y = _data()
    config = dict(steps=60, batch_size=100, checkpoint_every=20, eval_every=20, seed=5, progress=False)
    reference = _fresh(PaddedINN)
    train(reference, (x, y), (x[:100], y[:100]), TrainConfig(**config, checkpoint_dir=str(tmp_path / "a")))

    interrupted = _fresh(_FlakyPadded)
    _FlakyPadded.fail_after = 1 + 47  # the ActNorm-init call + 47 steps: dies between checkpoints 40 and 60
    with pytest.raises(_Interrupted):
        train(interrupted, (x, y), (x[:100], y[:100]), TrainConfig(**config, checkpoint_dir=str(tmp_path / "b")))
    _FlakyPadded.fail_after = 10**9
    resumed = _fresh(_FlakyPadded)
    result = train(resumed, (x, y), (x[:100], y[:100]), TrainConfig(**config, checkpoint_dir=str(tmp_path / "b")))
    assert result.steps_done == 60
    ref_state, res_state = reference.state_dict(), resumed.state_dict()
    for key in ref_state:
        assert torch.equal(ref_state[key], res_state[key]), key


def test_a_paused_run_resumes_as_one_run(tmp_path):
    """A pilot (pause_at) and its continuation give exactly the weights of one uninterrupted run."""
    x, y = _data()
    config = dict(steps=60, batch_size=100, eval_every=10, checkpoint_every=25, seed=3, progress=False)
    torch.manual_seed(0)
    reference = ConditionalINN(3, 2, n_blocks=2, hidden=16)
    whole = train(reference, (x, y), (x[:100], y[:100]), TrainConfig(**config, checkpoint_dir=str(tmp_path / "a")))
    torch.manual_seed(0)
    model = ConditionalINN(3, 2, n_blocks=2, hidden=16)
    paused_config = TrainConfig(**config, checkpoint_dir=str(tmp_path / "b"))
    pilot = train(model, (x, y), (x[:100], y[:100]), paused_config, pause_at=17)
    assert pilot.paused and pilot.steps_done == 17
    checkpoint = tmp_path / "b" / CHECKPOINT_NAME
    state = torch.load(checkpoint, weights_only=True)
    assert state["seconds"] == pytest.approx(pilot.seconds, abs=0.5)
    state["seconds"] = 1000.0  # as if the pilot had taken 1000 s: the continuation counts them
    torch.save(state, checkpoint)
    rest = train(model, (x, y), (x[:100], y[:100]), paused_config)
    assert not rest.paused and rest.steps_done == 60 and rest.history == whole.history
    assert 1000 < rest.seconds < 1000 + 60
    for key, value in reference.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
    with pytest.raises(ValueError, match="checkpoint_dir"):
        train(model, (x, y), None, TrainConfig(steps=5, progress=False), pause_at=2)


def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    """Same shapes, other loss weights: resuming would silently mix two runs, so it is an error."""
    x, y = _data()
    config = TrainConfig(steps=10, batch_size=100, checkpoint_every=5, progress=False, checkpoint_dir=str(tmp_path))
    train(PaddedINN(3, 2, n_blocks=2, hidden=16), (x, y), None, config)
    other = PaddedINN(3, 2, n_blocks=2, hidden=16, weights={"latent": 200.0})
    with pytest.raises(ValueError, match="written for another network"):
        train(other, (x, y), None, config)
    assert train(PaddedINN(3, 2, n_blocks=2, hidden=16), (x, y), None, config).steps_done == 10


def test_early_stopping_keeps_the_best_weights():
    x, y = _data(300)
    torch.manual_seed(0)
    model = ConditionalINN(3, 2, n_blocks=2, hidden=64)
    # a validation set unrelated to training: it stops improving quickly
    xv, yv = _data(200, seed=9)
    result = train(
        model,
        (x, y),
        (xv, -yv),
        TrainConfig(steps=3000, batch_size=50, eval_every=20, patience=3, lr=3e-3, progress=False),
    )
    assert result.stopped_early and result.steps_done < 3000
    with torch.no_grad():
        assert abs(float(model.validation_loss(xv, -yv)) - result.best_val) < 1e-4


def test_divergence_is_reported():
    x, y = _data(200)
    model = ConditionalINN(3, 2, n_blocks=1, hidden=8)
    with pytest.raises(RuntimeError, match="diverged"):
        train(model, (x, y * float("nan")), config=TrainConfig(steps=100, max_bad_steps=3, progress=False))


def test_config_validation():
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="linear")
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)


def _ddp_worker(rank, world, init_file, out_file):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    x, y = _data()
    torch.manual_seed(0)
    model = ConditionalINN(3, 2, n_blocks=2, hidden=16)
    train(
        model,
        (x, y),
        config=TrainConfig(
            steps=25,
            batch_size=64,
            seed=1,
            progress=False,
            checkpoint_dir=os.path.dirname(out_file),
            checkpoint_every=10,
        ),
    )
    if rank == 0:
        torch.save(model.state_dict(), out_file)
    leave_process_group()


def test_two_gloo_processes_match_one_process(tmp_path):
    out = tmp_path / "ddp.pt"
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    ddp_state = torch.load(out, weights_only=True)
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    # every rank's training-noise generator is saved, so a 2-process resume is exact too
    assert len(checkpoint["noise"]) == 2 and not torch.equal(checkpoint["noise"][0], checkpoint["noise"][1])
    x, y = _data()
    torch.manual_seed(0)
    single = ConditionalINN(3, 2, n_blocks=2, hidden=16)
    train(single, (x, y), config=TrainConfig(steps=25, batch_size=64, seed=1, progress=False))
    for key, value in single.state_dict().items():
        assert torch.allclose(value.float(), ddp_state[key].float(), atol=2e-5), key
    # the two runs did real work: weights moved away from the zero-initialised last layers
    assert any(float(v.abs().max()) > 1e-3 for k, v in ddp_state.items() if k.endswith("4.weight"))


def test_ensemble_members_side_by_side_train_exactly_as_one_backward():
    """On 2 threads the members of an ensemble run forward and backward on their own threads;
    the weights must equal those of the serial run (one backward of the mean loss)."""
    from inn_engine.ensemble import EnsembleINN

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 3, generator=gen)
    y = x[:, :2] + 0.1 * torch.randn(2000, 2, generator=gen)
    before, states, used = torch.get_num_threads(), [], []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            torch.manual_seed(0)
            model = EnsembleINN(3, 2, n_members=3, coupling="affine", hidden=16, n_blocks=2)
            result = train(model, (x, y), None, TrainConfig(steps=40, batch_size=256, progress=False))
            states.append(model.state_dict())
            used.append(result.threads)
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
    assert used == [1, 2]
    for name, tensor in states[0].items():
        assert torch.equal(tensor, states[1][name]), name
