"""``innfer evaluate``: which grid rows an estimator is tested on (:mod:`inn_engine.evaluation` tests it).

Test rows are the last ``n_test`` rows of a grid. For the grid the estimator was trained
on, these must lie in the rows ``innfer train`` held out (recorded in the estimator's
metadata); any other grid of the same parameters and observables can be used whole.
"""

from __future__ import annotations

__all__ = ["select_test_rows"]


def select_test_rows(estimator, ds, n_test: int, explicit: bool) -> tuple[slice, str]:
    """The grid rows to test on and a note saying where they come from.

    For the estimator's own training grid, ``n_test`` must fit in its held-out rows: when
    the user asked for more (``explicit``) that is an error, else the held-out rows are used.
    """
    from inn_engine.cli_train import grid_identity
    from inn_engine.domain import estimator_inputs

    n = ds.sizes["sample"]
    observables = estimator_inputs(estimator)[0]
    if list(ds["param"].values) != estimator.param_names or list(ds["obs"].values) != observables:
        raise ValueError(
            f"GRID has parameters {list(ds['param'].values)} and observables {list(ds['obs'].values)}; "
            f"MODEL expects {estimator.param_names} and {observables}"
        )
    record = estimator.metadata.get("innfer_train", {})
    if record.get("grid_identity") == grid_identity(ds):
        start, stop = record["holdout_rows"]
        if stop - start < 1:
            raise ValueError("MODEL was trained on every row of GRID: evaluate it on another grid (another --seed)")
        if n_test > stop - start and explicit:
            raise ValueError(
                f"--n-test {n_test} exceeds the {stop - start} rows of GRID held out when MODEL was "
                "trained; use at most that many, or another grid"
            )
        n_test = min(n_test, stop - start)
        return slice(stop - n_test, stop), f"the last {n_test} of the {stop - start} rows held out from training"
    if n_test > n:
        raise ValueError(f"--n-test {n_test} exceeds the {n} rows of GRID")
    return slice(n - n_test, n), f"the last {n_test} rows of a grid MODEL was not trained on"
