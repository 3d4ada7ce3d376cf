"""Shared tiny grid and model for the command-line tests (made through the CLI itself)."""

import pytest
from click.testing import CliRunner

from inn_engine.cli import main

#: a small cINN that trains in seconds on 2 cores
TINY_NET = ("-o", "n_blocks=2", "-o", "hidden=32")


def _invoke(*args, expect: int = 0):
    """Run ``innfer ARGS`` in-process; assert the exit code; return the click Result."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == expect, (result.output, result.exception)
    return result


@pytest.fixture(scope="session")
def invoke():
    """``invoke(*args, expect=0)``: run ``innfer ARGS`` in-process, check the exit code, return the Result."""
    return _invoke


@pytest.fixture(scope="session")
def tiny_net():
    """Command-line options of a small cINN that trains in seconds on 2 cores."""
    return TINY_NET


@pytest.fixture(scope="session")
def ik_grid(tmp_path_factory):
    """A 2000-row inverse-kinematics grid (4 chunks), simulated in-process."""
    path = tmp_path_factory.mktemp("grid") / "ik.zarr"
    _invoke("simulate", "toy-ik", "--n", 2000, "--out", path, "--workers", 1, "--chunk-size", 500, "--seed", 1)
    return path


@pytest.fixture(scope="session")
def ik_model(ik_grid, tmp_path_factory):
    """A small cINN trained on the grid's first 1800 rows (200 held out)."""
    path = tmp_path_factory.mktemp("model") / "ik-model"
    _invoke(
        "train",
        ik_grid,
        "--out",
        path,
        "--steps",
        500,
        "--batch-size",
        128,
        "--holdout",
        200,
        "-o",
        "n_blocks=3",
        "-o",
        "hidden=64",
    )
    return path
