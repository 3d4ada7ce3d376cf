"""The innfer command line under hostile input files and options."""

import hostile
import numpy as np
import pytest
from hypothesis import given, settings


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-fuzz")


@pytest.fixture(scope="module")
def tiny_model(work):
    """The fuzz suite's tiny estimator (observables y0, y1)."""
    path = work / "tiny-model"
    hostile.tiny_estimator().save(path)
    return path


@pytest.fixture(scope="module")
def grid(work):
    """A 400-row inverse-kinematics grid for `train`."""
    from inn_engine.grid import simulate_grid
    from inn_engine.toys import InverseKinematics

    simulate_grid(InverseKinematics(), 400, work / "ik.zarr", chunk_size=200, n_workers=1, progress=False)
    return work / "ik.zarr"


@settings(settings.get_profile("fuzz"), max_examples=60)
@given(args=hostile.cli_args())
def test_cli_exits_1_or_2_with_one_line(args, grid, tiny_model, work):
    kind, detail = hostile.run_cli(args, grid, tiny_model, work)
    assert kind in hostile.ALLOWED, f"{kind}: {detail}"


def test_overflowing_observations_exit_1_naming_the_cell(tiny_model, work):
    from click.testing import CliRunner

    from inn_engine.cli import main

    source = work / "huge.csv"
    source.write_text("y0,y1\n0.5,0.1\n1e39,0.2\n")
    result = CliRunner().invoke(main, ["estimate", str(tiny_model), str(source), "--out", str(work / "o.csv")])
    assert result.exit_code == 1 and "y_obs[1, 0]" in result.output and "Traceback" not in result.output


def test_debug_shows_the_traceback(tiny_model, work):
    from click.testing import CliRunner

    from inn_engine.cli import main

    source = work / "empty.npy"
    np.save(source, np.zeros((0, 2)))
    quiet = CliRunner().invoke(main, ["estimate", str(tiny_model), str(source), "--out", str(work / "o.csv")])
    assert quiet.exit_code == 1 and "holds no observation rows" in quiet.output
    loud = CliRunner().invoke(main, ["--debug", "estimate", str(tiny_model), str(source), "--out", str(work / "o.csv")])
    assert isinstance(loud.exception, ValueError)
