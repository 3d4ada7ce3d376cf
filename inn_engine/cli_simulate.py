"""``innfer simulate DOMAIN``: one subcommand per registered domain, and the grid it makes.

The domains are the plug-ins of :mod:`inn_engine.domain` (entry-point group
``innfer.domains``): each subcommand has the common grid options below plus the domain's
own (:attr:`inn_engine.domain.Domain.options`); ``innfer simulate DOMAIN --help`` lists them.
"""

from __future__ import annotations

import click

from inn_engine.domain import Domain, DomainOption, registered_domains

__all__ = ["SimulateGroup", "make_grid"]


def make_grid(
    domain: Domain,
    n: int,
    out: str,
    *,
    seed: int,
    chunk_size: int,
    scheduler: str | None,
    workers: int,
    progress: bool,
    **options,
):
    """Simulate (or resume) the grid ``out`` (a .zarr directory) of ``n`` rows of ``domain``'s
    simulator made from ``options``; returns the Dataset."""
    return domain.simulate_grid(
        domain.simulator(**options),
        n,
        out,
        seed=seed,
        chunk_size=chunk_size,
        scheduler=scheduler,
        n_workers=workers,
        progress=progress,
    )


def _positive(ctx, param, value):
    if value is not None and value < 1:
        raise click.BadParameter(f"must be >= 1, got {value}")
    return value


def _domain_option(option: DomainOption):
    """The click option of a domain option: its text parsed by ``option.parse``."""

    def parse(ctx, param, value):
        if value is None:
            return None
        try:
            return option.parse(value)
        except (ValueError, OSError) as err:
            raise click.BadParameter(str(err)) from err

    kind = click.Choice(option.choices) if option.choices else str
    return click.option(
        option.flag, option.name, type=kind, default=None, callback=parse, help=option.help, metavar=option.metavar
    )


_COMMON = (
    click.option("--n", "n", type=int, required=True, callback=_positive, help="Rows (simulations) in the grid."),
    click.option(
        "--out",
        type=click.Path(file_okay=False),
        required=True,
        help="The grid's .zarr directory; rerunning the same command resumes it.",
    ),
    click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="A dask scheduler, e.g. tcp://host:8786, whose workers see --out [default: a local cluster].",
    ),
    click.option(
        "--workers",
        type=int,
        default=2,
        show_default=True,
        callback=_positive,
        help="Worker processes of the local dask cluster (1: in this process).",
    ),
    click.option(
        "--chunk-size",
        type=int,
        default=10_000,
        show_default=True,
        callback=_positive,
        help="Rows per chunk (the unit of work, storage and resumption).",
    ),
    click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the grid."),
    click.option(
        "--progress/--no-progress",
        default=None,
        help="Progress bar on a terminal, plain lines otherwise [default: on].",
    ),
)


def domain_command(domain: Domain) -> click.Command:
    """``innfer simulate <domain.name>`` with the common options and the domain's own."""

    def run(n, out, scheduler, workers, chunk_size, seed, progress, **options):
        given = {k: v for k, v in options.items() if v is not None}
        ds = make_grid(
            domain,
            n,
            out,
            seed=seed,
            chunk_size=chunk_size,
            scheduler=scheduler,
            workers=workers,
            progress=progress is not False,
            **given,
        )
        click.echo(
            f"grid {out}: {ds.sizes['sample']} rows, parameters {list(ds['param'].values)}, "
            f"observables {list(ds['obs'].values)}"
        )

    command = run
    for option in reversed((*_COMMON, *(_domain_option(o) for o in domain.options))):
        command = option(command)
    return click.command(
        name=domain.name, help=f"Simulate a {domain.name} grid: {domain.description}.", short_help=domain.description
    )(command)


class SimulateGroup(click.Group):
    """``innfer simulate``: its subcommands are the registered domains."""

    def list_commands(self, ctx):
        return list(registered_domains())

    def get_command(self, ctx, name):
        domain = registered_domains().get(name)
        return None if domain is None else domain_command(domain)
