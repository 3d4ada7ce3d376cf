"""GridStream: every row once per epoch, seeded epoch-aware shuffles, disjoint rank shards."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from inn_engine import Observable, Parameter, Simulator
from inn_engine.grid import chunk_length, simulate_grid
from inn_engine.streaming import GridStream


class NoisyIdentity(Simulator):
    """x uniform on [0, 1]^3, y = x[:, :2] + Gaussian noise (distinct rows, paired x and y)."""

    parameters = tuple(Parameter(f"p{i}", "", 0.0, 1.0) for i in range(3))
    observables = tuple(Observable(f"o{i}") for i in range(2))

    def sample_prior(self, n, rng=None):
        return rng.uniform(size=(n, 3))

    def simulate(self, x, rng=None):
        return x[:, :2] + 0.1 * rng.normal(size=(len(x), 2))


@pytest.fixture(scope="module")
def grid_path(tmp_path_factory):
    """103 rows in 11 chunks of 10 (the last has 3)."""
    path = tmp_path_factory.mktemp("stream") / "grid.zarr"
    simulate_grid(NoisyIdentity(), 103, path, seed=3, chunk_size=10, n_workers=1, progress=False)
    return path


def all_rows(grid):
    ds = xr.open_zarr(grid, consolidated=False) if not isinstance(grid, xr.Dataset) else grid
    return np.hstack([ds.x.values, ds.y.values]).astype(np.float32)


def epoch_rows(batches):
    return np.vstack([torch.hstack([x, y]).numpy() for x, y in batches])


def same_multiset(a, b):
    return (
        a.shape == b.shape
        and np.array_equal(np.unique(a, axis=0), np.unique(b, axis=0))
        and len(np.unique(a, axis=0)) == len(a)
    )


def test_one_epoch_yields_every_row_once_in_float32_batches(grid_path):
    stream = GridStream(grid_path, batch_size=16, buffer_chunks=3, seed=1)
    batches = list(stream)
    assert len(batches) == len(stream) == 7
    assert [len(x) for x, _ in batches] == [16] * 6 + [7]
    assert all(x.dtype == torch.float32 and y.dtype == torch.float32 for x, y in batches)
    assert all(x.shape[1] == 3 and y.shape[1] == 2 for x, y in batches)
    rows = epoch_rows(batches)
    assert same_multiset(rows, all_rows(grid_path))  # x and y stay paired
    assert not np.array_equal(rows, all_rows(grid_path))  # and are shuffled


def test_shuffles_are_seeded_and_change_with_the_epoch(grid_path):
    stream = GridStream(grid_path, batch_size=16, seed=1)
    first = epoch_rows(stream)
    assert np.array_equal(first, epoch_rows(stream))
    stream.set_epoch(1)
    second = epoch_rows(stream)
    assert same_multiset(second, first) and not np.array_equal(second, first)
    other_seed = epoch_rows(GridStream(grid_path, batch_size=16, seed=2))
    assert not np.array_equal(other_seed, first)
    in_order = epoch_rows(GridStream(grid_path, batch_size=16, shuffle=False))
    assert np.array_equal(in_order, all_rows(grid_path))


@pytest.mark.parametrize("epoch", [0, 1])
def test_two_ranks_get_disjoint_shards_that_cover_the_grid(grid_path, epoch):
    shards = []
    for rank in range(2):
        stream = GridStream(grid_path, batch_size=8, seed=5, rank=rank, world_size=2)
        stream.set_epoch(epoch)
        batches = list(stream)
        assert len(batches) == len(stream)
        shards.append(epoch_rows(batches))
    union = np.vstack(shards)
    assert same_multiset(union, all_rows(grid_path))  # disjoint and complete


def test_balanced_ranks_yield_equal_numbers_of_full_batches(grid_path):
    counts, sizes = [], set()
    for rank in range(2):
        stream = GridStream(grid_path, batch_size=8, seed=5, rank=rank, world_size=2, balanced=True)
        batches = list(stream)
        assert len(batches) == len(stream)
        counts.append(len(batches))
        sizes |= {len(x) for x, _ in batches}
    assert counts[0] == counts[1] > 0 and sizes == {8}


def test_dataloader_workers_split_the_chunks_without_duplicates(grid_path):
    stream = GridStream(grid_path, batch_size=16, seed=1)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=2)
    assert same_multiset(epoch_rows(loader), all_rows(grid_path))


def test_in_memory_dataset_needs_and_uses_a_chunk_size():
    ds = simulate_grid(NoisyIdentity(), 40, seed=0, chunk_size=40, n_workers=1, progress=False)
    stream = GridStream(ds, batch_size=6, chunk_size=7, buffer_chunks=2, drop_last=True)
    batches = list(stream)
    assert len(batches) == len(stream) == 6 and {len(x) for x, _ in batches} == {6}
    with pytest.raises(ValueError, match="chunk_size"):
        GridStream(ds.drop_attrs(), batch_size=6)


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"rank": 2, "world_size": 2}, "rank"),
        ({"buffer_chunks": 0}, "buffer_chunks"),
        ({"seed": -1}, "seed"),
        ({"rank": 1}, "both rank and world_size"),
    ],
)
def test_bad_arguments_are_named(grid_path, kwargs, named):
    with pytest.raises(ValueError, match=named):
        GridStream(grid_path, **{"batch_size": 4, **kwargs})


def test_incomplete_or_missing_grids_are_refused(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        GridStream(tmp_path / "absent.zarr", batch_size=4)
    with pytest.raises(ValueError, match="grid must be"):
        GridStream(np.zeros((4, 2)), batch_size=4)


@settings(max_examples=30, deadline=None)
@given(
    n_rows=st.integers(1, 60),
    chunk_size=st.integers(1, 13),
    batch_size=st.integers(1, 9),
    buffer_chunks=st.integers(1, 4),
    world_size=st.integers(1, 3),
    epoch=st.integers(0, 3),
    drop_last=st.booleans(),
)
def test_any_sharding_yields_each_row_at_most_once_and_all_rows_unless_dropped(
    n_rows, chunk_size, batch_size, buffer_chunks, world_size, epoch, drop_last
):
    ids = np.arange(n_rows, dtype=float)
    ds = xr.Dataset({"x": (("sample", "param"), ids[:, None]), "y": (("sample", "obs"), -ids[:, None])})
    seen = []
    for rank in range(world_size):
        stream = GridStream(
            ds,
            batch_size,
            chunk_size=chunk_size,
            buffer_chunks=buffer_chunks,
            rank=rank,
            world_size=world_size,
            drop_last=drop_last,
            seed=11,
        )
        stream.set_epoch(epoch)
        batches = list(stream)
        assert len(batches) == len(stream)
        assert all(torch.equal(y, -x) for x, y in batches)  # rows stay paired
        sizes = [len(x) for x, _ in batches]
        assert all(size == batch_size for size in (sizes if drop_last else sizes[:-1]))
        shard_rows = sum(chunk_length(int(i), n_rows, chunk_size) for i in stream.shard_chunks(rank, world_size))
        assert sum(sizes) == (shard_rows // batch_size * batch_size if drop_last else shard_rows)
        seen += [int(v) for x, _ in batches for v in x[:, 0]]
    assert len(seen) == len(set(seen))  # shards are disjoint
    if not drop_last:
        assert sorted(seen) == list(range(n_rows))
