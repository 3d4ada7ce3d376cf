"""Domains are plug-ins: a throw-away domain registered through an entry point runs
simulate -> train -> evaluate -> estimate through the real ``innfer`` command line, and the
engine imports no domain package."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import inn_engine

INNFER = Path(sys.executable).with_name("innfer")

PLUGIN = '''
import json

import numpy as np

from inn_engine.domain import Conditioning, Domain, DomainOption, SideModels
from inn_engine.simulator import Observable, Parameter, Simulator, as_generator


class Line(Simulator):
    """y = (x0 + x1, x0 - x1) * gain + noise; x uniform on [-1, 1]^2."""

    parameters = (Parameter("a", "", -1.0, 1.0), Parameter("b", "", -1.0, 1.0))
    observables = (Observable("s", "V"), Observable("d", "V"))

    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def sample_prior(self, n, rng=None):
        return as_generator(rng).uniform(-1, 1, (int(n), 2))

    def simulate(self, x, rng=None):
        x = self.check_x(x)
        y = np.stack([x[:, 0] + x[:, 1], x[:, 0] - x[:, 1]], axis=1) * self.gain
        return y + 0.05 * as_generator(rng).standard_normal(y.shape)

    def metadata(self):
        return {**super().metadata(), "gain": self.gain}


class LineDomain(Domain):
    name = "line"
    description = "a throw-away test domain"
    options = (DomainOption("gain", "gain of the sensor [default: 1]", float),)

    def simulator(self, **options):
        return Line(**options)

    def grid_attrs(self, simulator):
        return {"gain": simulator.gain}

    def record(self, grid_attrs, simulator_metadata):
        return {"gain": grid_attrs["gain"]}

    def conditioning(self, record, obs_names, obs_units):
        gain = record["gain"]
        return Conditioning(tuple(f"{n}_per_gain" for n in obs_names), obs_units, lambda y: np.asarray(y) / gain)

    train_options = (DomainOption("table_rows", "rows of the posterior table [default: 3]", int),)

    def side_models(self, record, x, y, param_names, seed):
        scale = float(np.abs(y).mean())
        return SideModels(record={"mean_abs_y": scale}, files={"scale.json": b'{"scale": %r}' % scale})

    def finish(self, directory, record, seed, progress=None, table_rows=3):
        from inn_engine.estimator import Estimator

        estimator = Estimator.load(directory)  # the saved estimator, side files and all
        draws = estimator.sample(np.zeros((table_rows, 2)), 10, seed=seed)
        (directory / "table.json").write_text(json.dumps({"shape": list(draws.shape), "gain": record["gain"]}))


DOMAIN = LineDomain()
'''


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """An environment in which the ``line`` domain is installed as a distribution with an entry point."""
    root = tmp_path_factory.mktemp("plugin")
    (root / "line_domain.py").write_text(PLUGIN)
    info = root / "line_domain-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: line-domain\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[innfer.domains]\nline = line_domain:DOMAIN\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    return env


def _innfer(env, *args, expect=0):
    result = subprocess.run([str(INNFER), *map(str, args)], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == expect, (result.stdout, result.stderr)
    return result


def test_a_registered_domain_runs_the_whole_command_line(plugin_env, tmp_path):
    assert "line" in _innfer(plugin_env, "simulate", "--help").stdout
    assert "--gain" in _innfer(plugin_env, "simulate", "line", "--help").stdout
    grid, model = tmp_path / "line.zarr", tmp_path / "line-model"
    _innfer(plugin_env, "simulate", "line", "--gain", 3, "--n", 3000, "--out", grid, "--workers", 1)
    train = ("train", grid, "--out", model, "--steps", 400, "-o", "n_blocks=2", "-o", "hidden=32")
    refused = _innfer(plugin_env, *train, "-d", "rows=7", expect=2).stderr
    assert "--domain-option" in refused and "rows: not a setting of the line domain" in refused
    assert "table_rows: rows of the posterior table" in refused  # what it offers instead
    log = _innfer(plugin_env, *train, "-d", "table_rows=7")
    assert "fitting the line side models" in log.stderr
    assert json.loads((model / "table.json").read_text()) == {"shape": [7, 10, 2], "gain": 3.0}  # the domain's finish

    meta = json.loads((model / "estimator.json").read_text())
    assert meta["metadata"]["domain"]["observables"] == ["s", "d"]
    assert meta["obs_names"] == ["s_per_gain", "d_per_gain"]  # the domain's conditioning
    assert meta["metadata"]["line"]["gain"] == 3.0 and meta["metadata"]["line"]["mean_abs_y"] > 0.5
    assert set(meta["side_files"]) == {"scale.json"} and (model / "scale.json").is_file()

    out = _innfer(plugin_env, "evaluate", model, grid, "--draws", 100).stdout
    assert "rows held out from training" in out

    # raw observations (s, d) of a = 0.5, b = -0.25 at gain 3: the estimate recovers them
    observations = tmp_path / "obs.csv"
    observations.write_text("d,s\n2.25,0.75\n")
    _innfer(plugin_env, "estimate", model, observations, "--out", tmp_path / "post.csv", "--draws", 500)
    header, row = (tmp_path / "post.csv").read_text().splitlines()
    values = dict(zip(header.split(","), map(float, row.split(","))))
    assert abs(values["a_median"] - 0.5) < 0.1 and abs(values["b_median"] + 0.25) < 0.1

    (model / "scale.json").write_text('{"scale": 0}')
    assert (
        "side file"
        in _innfer(plugin_env, "estimate", model, observations, "--out", tmp_path / "p2.csv", expect=1).stderr
    )


def test_the_engine_imports_no_domain_package():
    """No module under inn_engine/ has an import statement naming a domain package."""
    root = Path(inn_engine.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] in ("oximetry", "astro")]
    assert offenders == []


def test_a_broken_plugin_is_named(tmp_path):
    (tmp_path / "broken-0.1.dist-info").mkdir()
    (tmp_path / "broken-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (tmp_path / "broken-0.1.dist-info" / "entry_points.txt").write_text("[innfer.domains]\nbroken = nowhere:DOMAIN\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    err = _innfer(env, "simulate", "toy-ik", "--n", 10, "--out", tmp_path / "g.zarr", expect=1).stderr
    assert "'broken'" in err and "nowhere" in err
