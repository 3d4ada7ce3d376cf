"""simulate_grid / open_grid: the chunk recipe, zarr resume after a kill, dask workers
(including one killed mid-run), argument checks."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from inn_engine import Observable, Parameter, Simulator
from inn_engine.grid import completed_chunks, open_grid, simulate_grid


class LineSimulator(Simulator):
    """y = slope * t + offset at three t, plus unit Gaussian noise; picklable.

    Test hooks (not part of the metadata, so they do not change the grid's identity):
    ``delay`` seconds of sleep per chunk, and a trap set off by the chunk whose first row
    starts with ``trap_value``: ``trap="raise"`` raises RuntimeError, ``"hang"`` sleeps for
    an hour, ``"exit"`` kills the process with ``os._exit`` unless the file ``marker``
    exists (creating it first, so only the first attempt dies).
    """

    parameters = (Parameter("slope", "m/s", -1.0, 1.0), Parameter("offset", "m", 0.0, 2.0))
    observables = (Observable("y_t0", "m"), Observable("y_t1", "m"), Observable("y_t2", "m"))

    def __init__(self, delay=0.0, trap_value=None, trap="raise", marker=None):
        self.delay, self.trap_value, self.trap, self.marker = delay, trap_value, trap, marker
        self.chunks_simulated = 0

    def sample_prior(self, n, rng=None):
        return self.bounds[:, 0] + np.ptp(self.bounds, axis=1) * rng.uniform(size=(n, 2))

    def simulate(self, x, rng=None):
        self.chunks_simulated += 1
        time.sleep(self.delay)
        if self.trap_value is not None and x[0, 0] == self.trap_value:
            if self.trap == "raise":
                raise RuntimeError("simulator failure on purpose")
            if self.trap == "hang":
                time.sleep(3600)
            if self.trap == "exit" and not os.path.exists(self.marker):
                open(self.marker, "w").close()
                os._exit(3)
        t = np.array([0.0, 1.0, 2.0])
        return x[:, :1] * t + x[:, 1:] + rng.normal(size=(len(x), 3))


def first_value_of_chunk(index, seed, chunk_size):
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    return LineSimulator().sample_prior(chunk_size, rng)[0, 0]


@pytest.fixture(scope="module")
def reference():
    """The uninterrupted in-process grid: 50 rows in chunks of 8, seed 7."""
    return simulate_grid(LineSimulator(), 50, seed=7, chunk_size=8, n_workers=1, progress=False)


def assert_same_grid(a, b):
    assert np.array_equal(a.x.values, b.x.values)
    assert np.array_equal(a.y.values, b.y.values)
    assert list(a.param.values) == list(b.param.values)
    assert list(a.obs.values) == list(b.obs.values)


def test_in_memory_grid_follows_the_chunk_recipe(reference):
    ds = reference
    assert ds.x.dims == ("sample", "param") and ds.y.dims == ("sample", "obs")
    assert ds.x.shape == (50, 2) and ds.y.shape == (50, 3)
    assert ds.x.dtype == np.float64 and ds.y.dtype == np.float64
    assert list(ds.param.values) == ["slope", "offset"]
    assert list(ds.obs.values) == ["y_t0", "y_t1", "y_t2"]
    for index, rows in enumerate([slice(i, min(i + 8, 50)) for i in range(0, 50, 8)]):
        rng = np.random.default_rng(np.random.SeedSequence([7, index]))
        sim = LineSimulator()
        x = sim.sample_prior(rows.stop - rows.start, rng)
        y = sim.simulate(x, rng)
        assert np.array_equal(ds.x.values[rows], x) and np.array_equal(ds.y.values[rows], y)
    attrs = ds.attrs
    assert (attrs["n"], attrs["seed"], attrs["chunk_size"]) == (50, 7, 8)
    assert json.loads(attrs["simulator"]) == json.loads(json.dumps(LineSimulator().metadata()))
    assert json.loads(attrs["units"]) == {
        "param": {"slope": "m/s", "offset": "m"},
        "obs": {"y_t0": "m", "y_t1": "m", "y_t2": "m"},
    }
    assert "innfer_version" in attrs


def test_zarr_grid_equals_memory_grid_and_rerun_is_a_no_op(tmp_path, reference):
    path = tmp_path / "grid.zarr"
    ds = simulate_grid(
        LineSimulator(),
        50,
        path,
        seed=7,
        chunk_size=8,
        n_workers=1,
        progress=False,
        attrs={"camera": "test", "bands": [1, 2]},
    )
    assert_same_grid(ds, reference)
    assert ds.attrs["camera"] == "test" and ds.attrs["bands"] == [1, 2]
    assert ds.x.chunks[0][0] == 8  # lazy, chunked like the store
    again = LineSimulator()
    simulate_grid(
        again, 50, path, seed=7, chunk_size=8, n_workers=1, progress=False, attrs={"camera": "test", "bands": [1, 2]}
    )
    assert again.chunks_simulated == 0
    assert_same_grid(open_grid(path), reference)


@pytest.mark.parametrize(
    "change, named",
    [
        ({"seed": 8}, "seed=7"),
        ({"chunk_size": 5}, "chunk_size=8"),
        ({"n": 51}, "n=50"),
        ({"attrs": {"camera": "other"}}, "attrs['camera']"),
    ],
)
def test_different_arguments_for_an_existing_grid_name_the_argument(tmp_path, change, named):
    path = tmp_path / "grid.zarr"
    base = dict(n=50, seed=7, chunk_size=8, n_workers=1, progress=False, attrs={"camera": "test"})
    simulate_grid(LineSimulator(), path=path, **base)
    with pytest.raises(ValueError, match=named.replace("[", r"\[").replace("]", r"\]")):
        simulate_grid(LineSimulator(), path=path, **{**base, **change})


def test_a_different_simulator_for_an_existing_grid_is_refused(tmp_path):
    class OtherLine(LineSimulator):
        pass

    path = tmp_path / "grid.zarr"
    simulate_grid(LineSimulator(), 10, path, chunk_size=5, n_workers=1, progress=False)
    with pytest.raises(ValueError, match="different simulator"):
        simulate_grid(OtherLine(), 10, path, chunk_size=5, n_workers=1, progress=False)


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"n": 0}, "n must be"),
        ({"chunk_size": 0}, "chunk_size must be"),
        ({"seed": -1}, "seed must be"),
        ({"n_workers": 0}, "n_workers must be"),
        ({"n": 2.5}, "n must be"),
        ({"scheduler": 8786}, "scheduler"),
        ({"attrs": {"seed": 1}}, "reserved"),
        ({"attrs": {"f": object()}}, "JSON-safe"),
        ({"simulator": "line"}, "inn_engine.Simulator"),
    ],
)
def test_bad_arguments_get_clear_errors(kwargs, named):
    args = {"simulator": LineSimulator(), "n": 10, "n_workers": 1, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=named):
        simulate_grid(**args)


def test_open_grid_refuses_incomplete_grids_and_non_grids(tmp_path):
    path = tmp_path / "grid.zarr"
    failing = LineSimulator(trap_value=first_value_of_chunk(1, seed=0, chunk_size=4))
    with pytest.raises(RuntimeError, match="on purpose"):
        simulate_grid(failing, 12, path, chunk_size=4, n_workers=1, progress=False)
    assert completed_chunks(path).tolist() == [True, False, False]
    with pytest.raises(ValueError, match=r"2 of 3 chunks missing.*simulate_grid"):
        open_grid(path)
    resumed = LineSimulator()
    ds = simulate_grid(resumed, 12, path, chunk_size=4, n_workers=1, progress=False)
    assert resumed.chunks_simulated == 2
    assert_same_grid(ds, simulate_grid(LineSimulator(), 12, chunk_size=4, n_workers=1, progress=False))
    with pytest.raises(ValueError, match="not an innfer simulation grid"):
        open_grid(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        open_grid(tmp_path / "absent.zarr")


def test_paths_must_be_directories_on_a_file_system(tmp_path):
    with pytest.raises(ValueError, match="URL"):
        simulate_grid(LineSimulator(), 10, "s3://bucket/grid.zarr", n_workers=1, progress=False)
    (tmp_path / "file").write_text("not a grid")
    with pytest.raises(ValueError, match="not a directory"):
        simulate_grid(LineSimulator(), 10, tmp_path / "file", n_workers=1, progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "data.txt").write_text("not a grid")
    with pytest.raises(ValueError, match="not an innfer simulation grid"):
        simulate_grid(LineSimulator(), 10, tmp_path / "other", n_workers=1, progress=False)


@pytest.mark.parametrize("n_workers, done_before_kill", [(1, 3), (2, 6)])
def test_a_run_killed_mid_way_resumes_to_the_uninterrupted_grid(
    tmp_path, reference, caplog, n_workers, done_before_kill
):
    """The run hangs in chunk 3 of 7, so it is killed with a known set of chunks written:
    0-2 in one process, all but 3 on two workers."""
    path = tmp_path / "grid.zarr"
    hang_value = float(first_value_of_chunk(3, seed=7, chunk_size=8))
    script = textwrap.dedent(f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location({LineSimulator.__module__!r}, {__file__!r})
        module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
        from inn_engine.grid import simulate_grid
        if __name__ == "__main__":
            simulator = module.LineSimulator(trap_value={hang_value!r}, trap="hang")
            simulate_grid(simulator, 50, {str(path)!r}, seed=7, chunk_size=8, n_workers={n_workers},
                          progress=False)
    """)
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 300
        while not (path.exists() and completed_chunks(path).sum() == done_before_kill):
            assert child.poll() is None, "the grid process ended before it could be killed"
            assert time.monotonic() < deadline, "the grid process made no progress"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert not completed_chunks(path)[3]
    with pytest.raises(ValueError, match=f"{7 - done_before_kill} of 7 chunks missing"):
        open_grid(path)
    resumed = LineSimulator()
    with caplog.at_level(logging.INFO, logger="inn_engine.grid"):
        ds = simulate_grid(resumed, 50, path, seed=7, chunk_size=8, n_workers=1, progress=False)
    assert resumed.chunks_simulated == 7 - done_before_kill
    assert f"{done_before_kill} of 7 chunks already done" in caplog.text
    assert_same_grid(ds, reference)


def test_two_worker_cluster_survives_a_killed_worker(tmp_path, reference):
    marker = tmp_path / "worker-killed"
    simulator = LineSimulator(
        delay=0.1, trap_value=first_value_of_chunk(3, seed=7, chunk_size=8), trap="exit", marker=str(marker)
    )
    environment = dict(os.environ)
    ds = simulate_grid(simulator, 50, tmp_path / "grid.zarr", seed=7, chunk_size=8, n_workers=2, progress=False)
    assert marker.exists(), "no worker was killed"
    assert_same_grid(ds, reference)
    assert dict(os.environ) == environment  # the workers' variables do not leak into this process


def test_a_scheduler_address_runs_on_that_cluster(tmp_path, reference):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        in_memory = simulate_grid(
            LineSimulator(), 50, seed=7, chunk_size=8, scheduler=cluster.scheduler_address, progress=False
        )
        on_disk = simulate_grid(
            LineSimulator(),
            50,
            tmp_path / "grid.zarr",
            seed=7,
            chunk_size=8,
            scheduler=cluster.scheduler_address,
            progress=False,
        )
    assert_same_grid(in_memory, reference)
    assert_same_grid(on_disk, reference)
