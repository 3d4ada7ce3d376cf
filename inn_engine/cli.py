"""The ``innfer`` command line: simulate a grid, train on it, evaluate, estimate.

    innfer simulate toy-ik --n 100000 --out ik.zarr --workers 2
    innfer train ik.zarr --out ik-model --model cinn --checkpoint-dir ik-ckpt --nproc-per-node 2
    innfer evaluate ik-model ik.zarr --json ik-eval.json
    innfer estimate ik-model observations.csv --out posteriors.nc

Exit codes: 0 success, 1 failure (bad data, a failed run; the message says why),
2 usage error (a bad option or argument; the message names it). Under ``torchrun`` the
training joins the launcher's process group (see :mod:`inn_engine.launch`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from inn_engine.cli_simulate import SimulateGroup

__all__ = ["main"]


class _Group(click.Group):
    """Turns every failure into one line on stderr: exit code 1 for the library's ValueError /
    OSError / ... (the message says why), and for anything unexpected (named as such); with
    ``--debug`` the traceback is shown instead."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise click.ClickException(_one_line(err)) from err


def _one_line(err: Exception) -> str:
    from torch.multiprocessing import ProcessRaisedException

    expected = (ValueError, OSError, RuntimeError, ProcessRaisedException)
    text = " ".join(str(err).split()) or "(no message)"
    if isinstance(err, expected):
        return f"{type(err).__name__}: {text}"
    return f"unexpected {type(err).__name__}: {text} (rerun with --debug for the traceback)"


def _positive(ctx, param, value):
    if value is not None and value < 1:
        raise click.BadParameter(f"must be >= 1, got {value}")
    return value


def _existing_grid(ctx, param, value):
    from inn_engine.grid import open_grid

    try:
        open_grid(value)
    except (ValueError, OSError, KeyError) as err:
        raise click.BadParameter(f"{value} is not a complete grid ({err})") from err
    return value


def _key_values(values, form: str) -> list[tuple[str, str]]:
    """(KEY, TEXT) of repeated ``KEY=TEXT`` option items; a BadParameter shows ``form``, e.g.
    "KEY=VALUE (e.g. n_blocks=4)"."""
    pairs = []
    for item in values:
        key, sep, text = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise click.BadParameter(f"expected {form}, got {item!r}")
        pairs.append((key.strip(), text))
    return pairs


def _model_options(ctx, param, values):
    """{KEY: VALUE} of ``-o KEY=VALUE`` items: VALUE read as JSON (a number, true/false, null), else as a
    string; their names and types are checked against the model with the other options."""
    options = {}
    for key, text in _key_values(values, "KEY=VALUE (e.g. n_blocks=4)"):
        try:
            options[key] = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            options[key] = text
    return options


def _domain_options(ctx, param, values):
    """{NAME: TEXT} of ``-d NAME=TEXT`` items; the grid's domain parses the texts (``innfer train``)."""
    return {name: text.strip() for name, text in _key_values(values, "NAME=VALUE (e.g. effective_prior_clusters=5000)")}


def _progress_option(f):
    return click.option(
        "--progress/--no-progress", default=None, help="Show progress bars (default: when stderr is a terminal)."
    )(f)


@click.group(name="innfer", cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="innfer")
@click.option("--debug", is_flag=True, help="Show the traceback of a failure instead of one line.")
@click.pass_context
def main(ctx, debug):
    """innfer: full posteriors p(x | y) of inverse problems with invertible neural networks."""
    ctx.obj = {"debug": debug}


main.add_command(
    SimulateGroup(
        name="simulate",
        subcommand_metavar="DOMAIN [OPTIONS]",
        help="Simulate a training grid of DOMAIN into a zarr store (`innfer simulate DOMAIN --help` for its options). "
        "DOMAIN is any registered domain plug-in (entry-point group innfer.domains).",
    )
)


@main.command()
@click.argument("grid", type=click.Path(exists=True, file_okay=False), callback=_existing_grid)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Directory for the trained estimator.")
@click.option(
    "--model",
    type=click.Choice(["cinn", "padded", "mc_dropout", "cvae", "cvae_iaf"]),
    default="cinn",
    show_default=True,
    help="Network: conditional INN, padded INN (it assumes a noise-free simulator: for a noisy one "
    "give its noise draws through the Python API, inn_engine.fit(..., nuisance=)), or a baseline.",
)
@click.option(
    "--model-option",
    "-o",
    "model_options",
    multiple=True,
    callback=_model_options,
    metavar="KEY=VALUE",
    help="A network option (repeatable), e.g. -o n_blocks=4 -o hidden=64 (see the model's class).",
)
@click.option(
    "--domain-option",
    "-d",
    "domain_options",
    multiple=True,
    callback=_domain_options,
    metavar="NAME=VALUE",
    help="A setting of the work the grid's domain does on the saved estimator (repeatable), e.g. "
    "-d effective_prior_clusters=5000 for astro; an unknown NAME lists the domain's settings.",
)
@click.option(
    "--steps",
    type=int,
    default=None,
    callback=_positive,
    help="Optimizer steps [default: scaled to the grid, 3000-30000].",
)
@click.option(
    "--batch-size",
    type=int,
    default=None,
    callback=_positive,
    help="Global batch (split over processes) [default: 256-1024 by grid size].",
)
@click.option(
    "--holdout",
    type=click.IntRange(min=0),
    default=None,
    help="Last rows of GRID never trained on, for `innfer evaluate` [default: 10%, at most 1000].",
)
@click.option(
    "--checkpoint-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write resumable checkpoints here; rerunning the command resumes from the last one.",
)
@click.option(
    "--checkpoint-every",
    type=int,
    default=None,
    callback=_positive,
    help="Steps between checkpoints [default: a tenth of the steps, >= 100].",
)
@click.option(
    "--stream/--no-stream",
    default=None,
    help="Read the grid chunk by chunk while training instead of loading it [default: above 2 GiB].",
)
@click.option(
    "--validation-rows",
    type=int,
    default=None,
    callback=_positive,
    help="With --stream: first rows of GRID held out for model selection [default: 2%, 1000-50000].",
)
@click.option(
    "--nproc-per-node",
    type=int,
    default=1,
    show_default=True,
    callback=_positive,
    help="Train data-parallel in this many processes (gloo on CPU, nccl on GPU).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seeds weights, data split, batch order and noise.",
)
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help='Where the network trains: "cpu", "cuda", "cuda:N" or "auto" (a GPU when there is one).',
)
@_progress_option
def train(
    grid,
    out,
    model,
    model_options,
    domain_options,
    steps,
    batch_size,
    holdout,
    checkpoint_dir,
    checkpoint_every,
    stream,
    validation_rows,
    nproc_per_node,
    seed,
    device,
    progress,
):
    """Train an estimator on GRID (a zarr grid from `innfer simulate`) and save it to --out."""
    import torch.distributed as dist

    from inn_engine.cli_train import (
        TrainRequest,
        check_manifest,
        check_options,
        checkpoint_step,
        default_holdout,
        grid_identity,
        run_training,
    )
    from inn_engine.devices import resolve_device
    from inn_engine.domain import domain_of_grid, parse_train_options
    from inn_engine.grid import open_grid
    from inn_engine.launch import default_backend, init_from_env, is_rank_zero, launch

    try:
        check_options(model, model_options)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--model-option") from err
    try:
        resolve_device(device, "--device")
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--device") from err
    backend = default_backend(device)
    distributed = init_from_env(backend)
    if distributed and nproc_per_node > 1:
        raise click.BadParameter(
            "must be 1 under torchrun (torchrun starts the processes)", param_hint="--nproc-per-node"
        )
    world = dist.get_world_size() if distributed else nproc_per_node
    ds = open_grid(grid)
    try:
        domain_options = parse_train_options(domain_of_grid(ds.attrs), domain_options)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--domain-option") from err
    n = ds.sizes["sample"]
    holdout = default_holdout(n) if holdout is None else holdout
    if holdout > n - 20:
        raise click.BadParameter(
            f"{holdout} leaves fewer than 20 of the grid's {n} rows to train on", param_hint="--holdout"
        )
    if batch_size is not None and batch_size % world:
        raise click.BadParameter(f"{batch_size} is not divisible by the {world} processes", param_hint="--batch-size")
    request = TrainRequest(
        grid=str(grid),
        out=str(out),
        model=model,
        model_options=model_options,
        domain_options=domain_options,
        holdout=holdout,
        seed=seed,
        steps=steps,
        batch_size=batch_size,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        stream=stream,
        validation_rows=validation_rows,
        progress=progress,
        device=device,
    )
    if is_rank_zero():
        try:
            check_manifest(request, grid_identity(ds), world)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--checkpoint-dir") from err
        step = checkpoint_step(checkpoint_dir) if checkpoint_dir else None
        if step is not None:
            click.echo(f"resuming from the checkpoint at step {step} in {checkpoint_dir}", err=True)
    if distributed:
        dist.barrier()  # the manifest is checked before any rank trains
    summary = (
        launch(run_training, nproc_per_node, (request,), backend=backend)
        if nproc_per_node > 1
        else run_training(request)
    )
    if is_rank_zero():
        click.echo(
            f"model {out}: {summary['steps_done']} steps on {summary['n_train']} rows "
            f"({world} process{'es' if world > 1 else ''}), best validation loss {summary['best_val']} "
            f"at step {summary['best_step']}; rows {n - holdout}..{n - 1} of the grid held out"
        )
    if distributed:
        dist.destroy_process_group()


@main.command()
@click.argument("model_dir", metavar="MODEL", type=click.Path(exists=True, file_okay=False))
@click.argument("grid", type=click.Path(exists=True, file_okay=False), callback=_existing_grid)
@click.option(
    "--n-test",
    type=int,
    default=1000,
    show_default=True,
    callback=_positive,
    help="Test rows (the last rows of GRID; for the training grid, within its held-out rows).",
)
@click.option(
    "--draws", type=int, default=1000, show_default=True, callback=_positive, help="Posterior draws per test row."
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the draws.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the metrics (and the calibration curve) to this JSON file.",
)
@click.pass_context
def evaluate(ctx, model_dir, grid, n_test, draws, seed, json_path):
    """Calibration error, SBC p-values, coverage and MAP error of MODEL on held-out rows of GRID."""
    from click.core import ParameterSource

    from inn_engine.cli_evaluate import select_test_rows
    from inn_engine.domain import estimator_inputs
    from inn_engine.estimator import Estimator
    from inn_engine.evaluation import evaluate as run_evaluation
    from inn_engine.evaluation import format_table
    from inn_engine.grid import open_grid

    estimator = Estimator.load(model_dir)
    ds = open_grid(grid)
    explicit = ctx.get_parameter_source("n_test") is not ParameterSource.DEFAULT
    try:
        rows, note = select_test_rows(estimator, ds, n_test, explicit)
    except ValueError as err:
        if "--n-test" in str(err):
            raise click.BadParameter(str(err), param_hint="--n-test") from err
        raise
    x_true, y = ds["x"].isel(sample=rows).values, ds["y"].isel(sample=rows).values
    result = run_evaluation(estimator, x_true, estimator_inputs(estimator)[1](y), draws, seed)
    result.update(model=str(model_dir), grid=str(grid), test_rows=[rows.start, rows.stop], seed=seed)
    click.echo(f"{model_dir} on {grid}: {note}")
    click.echo(format_table(result))
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=1))
        click.echo(f"metrics written to {json_path}")


@main.command()
@click.argument("model_dir", metavar="MODEL", type=click.Path(exists=True, file_okay=False))
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    required=True,
    help="Output file: .nc (netCDF) or .csv, one row per observation.",
)
@click.option(
    "--draws", type=int, default=1000, show_default=True, callback=_positive, help="Posterior draws per observation."
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the draws.")
@_progress_option
def estimate(model_dir, input_path, out, draws, seed, progress):
    """Posterior summaries (mean, std, quantiles, MAP) for each observation in INPUT (.npy or .csv rows)."""
    from inn_engine.cli_estimate import OUTPUT_SUFFIXES, estimate_summaries, read_observations, write_summaries
    from inn_engine.domain import estimator_inputs
    from inn_engine.estimator import Estimator

    if Path(out).suffix.lower() not in OUTPUT_SUFFIXES:
        raise click.BadParameter(f"{out}: expected a {' or '.join(OUTPUT_SUFFIXES)} file", param_hint="--out")
    estimator = Estimator.load(model_dir)
    names, to_conditions = estimator_inputs(estimator)
    y = read_observations(input_path, names)
    summaries = estimate_summaries(estimator, to_conditions(y), draws, seed, progress=progress)
    write_summaries(summaries, out)
    click.echo(f"{len(y)} posterior summaries of {estimator.param_names} written to {out}")


if __name__ == "__main__":
    main()
