"""`innfer train` across processes: 2 gloo ranks vs 1 process, and a killed run resumed.

Both use real processes: ``--nproc-per-node 2`` spawns two ranks; the resume test runs the
installed ``innfer`` script (the console entry point of pyproject) and SIGKILLs it.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from inn_engine.artifact import read_artifact
from inn_engine.cli_train import checkpoint_step

INNFER = Path(sys.executable).parent / "innfer"


def _weights(model_dir) -> dict:
    state, _ = read_artifact(model_dir)
    return {k: v.double().numpy() for k, v in state.items()}


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def test_two_processes_train_the_model_one_process_trains(invoke, ik_grid, tiny_net, tmp_path):
    common = ["--steps", 20, "--batch-size", 64, "--holdout", 200, "--seed", 3, *tiny_net]
    invoke("train", ik_grid, "--out", tmp_path / "one", *common)
    out = invoke("train", ik_grid, "--out", tmp_path / "two", "--nproc-per-node", 2, *common).output
    assert "(2 processes)" in out
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert _max_difference(one, two) < 1e-5
    # ...and training moved the weights: a 10-step run differs by far more than the tolerance
    invoke("train", ik_grid, "--out", tmp_path / "short", *common[2:], "--steps", 10)
    assert _max_difference(one, _weights(tmp_path / "short")) > 1e-3


def _wait_for_checkpoint(process, ckpt: Path, timeout: float = 120.0) -> None:
    start = time.monotonic()
    while not (ckpt / "checkpoint.pt").exists():
        if process.poll() is not None:
            pytest.fail(
                f"innfer train exited ({process.returncode}) before writing a checkpoint: "
                f"{process.stderr.read().decode()}"
            )
        if time.monotonic() - start > timeout:
            process.kill()
            pytest.fail("no checkpoint within the time limit")
        time.sleep(0.02)


def test_killed_training_resumes_to_the_uninterrupted_model(invoke, ik_grid, tiny_net, tmp_path):
    assert INNFER.exists(), f"{INNFER} missing: install the project (make install)"
    ckpt = tmp_path / "ckpt"
    args = [
        str(a)
        for a in (
            "train",
            ik_grid,
            "--out",
            tmp_path / "resumed",
            "--steps",
            400,
            "--batch-size",
            64,
            "--checkpoint-dir",
            ckpt,
            "--checkpoint-every",
            20,
            *tiny_net,
        )
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}
    process = subprocess.Popen([str(INNFER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _wait_for_checkpoint(process, ckpt)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    interrupted_at = checkpoint_step(ckpt)
    assert process.returncode == -signal.SIGKILL and 0 < interrupted_at < 400
    assert not (tmp_path / "resumed").exists()

    rerun = subprocess.run([str(INNFER), *args], capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming from the checkpoint at step {interrupted_at}" in rerun.stderr

    invoke("train", ik_grid, "--out", tmp_path / "straight", *args[4:8], *tiny_net)
    assert _max_difference(_weights(tmp_path / "resumed"), _weights(tmp_path / "straight")) < 1e-5
