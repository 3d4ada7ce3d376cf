"""Progress reports: plain lines in files and pipes, a bar on terminals, silence on request."""

import io
import re

import torch

from inn_engine import progress as progress_module
from inn_engine.cinn import ConditionalINN
from inn_engine.progress import Progress, format_duration
from inn_engine.train import TrainConfig, train


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_lines_at_first_update_then_every_period(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", clock)
    out = io.StringIO()
    report = Progress(100, "training", every=30, stream=out)
    clock.now += 1
    report.update(10, train=1.2345, val=1.3)
    for _ in range(5):  # 5 more updates within 25 s: no line
        clock.now += 5
        report.update(10)
    clock.now += 5  # 31 s after the first line
    report.update(10)
    report.close()
    lines = out.getvalue().splitlines()
    assert lines == [
        "training: step 10/100 (10 %), train 1.234, val 1.300, elapsed 0:01, ETA 0:09",
        "training: step 70/100 (70 %), train 1.234, val 1.300, elapsed 0:31, ETA 0:13",
        "training: done 70 steps in 0:31",
    ]


def test_resumed_run_counts_eta_from_its_start_and_unknown_total(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", clock)
    out = io.StringIO()
    with Progress(1000, "training", initial=500, stream=out) as report:
        clock.now += 10
        report.update(100)
    with Progress(None, "simulating", unit="row", stream=out) as report:
        clock.now += 3700
        report.update(1)
    assert out.getvalue().splitlines() == [
        "training: step 600/1000 (60 %), elapsed 0:10, ETA 0:40",
        "training: done 600 steps in 0:10",
        "simulating: row 1, elapsed 1:01:40",
        "simulating: done 1 row in 1:01:40",
    ]


def test_silent_and_terminal_modes():
    out = io.StringIO()
    with Progress(10, "x", enabled=False, stream=out) as report:
        report.update(5, train=1.0)
    assert out.getvalue() == ""
    terminal = _Terminal()
    with Progress(10, "bar", stream=terminal) as report:
        assert report.mode == "bar"
        report.update(5, train=1.0)
    assert "bar: done 5 steps in 0:00" in terminal.getvalue()
    assert "\r" in terminal.getvalue()  # tqdm redraws the line


def test_format_duration():
    assert [format_duration(s) for s in (0, 59.9, 61, 3600, 7325)] == ["0:00", "0:59", "1:01", "1:00:00", "2:02:05"]


def test_training_to_a_file_prints_lines_and_a_summary(capsys):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(400, 2, generator=gen)
    y = x + 0.1 * torch.randn(400, 2, generator=gen)
    torch.manual_seed(0)
    model = ConditionalINN(2, 2, n_blocks=1, hidden=8, coupling="affine")
    train(model, (x, y), (x[:50], y[:50]), TrainConfig(steps=40, batch_size=50, eval_every=20), desc="tiny")
    lines = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"tiny: step 1/40 \(2 %\), elapsed 0:\d\d, ETA \d+:\d\d", lines[0])
    assert re.fullmatch(r"tiny: done 40 steps in 0:\d\d, best val -?\d\S* at step (20|40)", lines[-1])
    train(model, (x, y), None, TrainConfig(steps=5, batch_size=50, progress=False))
    assert capsys.readouterr().err == ""


def test_drawing_a_large_posterior_reports_its_passes(capsys):
    import numpy as np

    import inn_engine

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    est = inn_engine.fit(x, x + 0.1 * rng.normal(size=x.shape), steps=5, n_blocks=2, hidden=8, progress=False)
    capsys.readouterr()
    est.sample(x[:3], n=10)
    assert capsys.readouterr().err == ""  # silent by default
    est.posterior(x[:30], n=10, progress=True)
    err = capsys.readouterr().err
    assert "posterior: 10 draws per observation: observation 30/30 (100 %)" in err
    assert "posterior: 10 draws per observation: done 30 observations in" in err
