"""Minibatches streamed from a simulation grid larger than memory.

:class:`GridStream` is a ``torch.utils.data.IterableDataset`` that reads a grid (a zarr
store made by :func:`inn_engine.grid.simulate_grid`, or an xarray.Dataset) a few chunks
at a time and yields shuffled float32 ``(x, y)`` minibatches. Each epoch:

1. the grid's chunks are put in an order drawn from ``(seed, epoch)`` (the same on every
   process), and dealt round-robin to the shards: one shard per torch.distributed rank,
   times the DataLoader workers of that rank when there are any;
2. each shard reads its chunks ``buffer_chunks`` at a time, shuffles the rows of the
   buffer (plus the rows left over from the previous buffer) with a generator drawn from
   ``(seed, epoch, shard)`` and yields full batches, carrying the remainder on.

So every row is yielded exactly once per epoch across all shards, shards are disjoint,
and an epoch's batches depend only on ``seed``, ``epoch`` and the sharding. Memory is
about ``(buffer_chunks + 1) * chunk_size`` rows per shard.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import torch
import xarray as xr
import zarr

from inn_engine.checks import check_integer
from inn_engine.grid import chunk_length, chunk_rows, n_chunks, open_grid

__all__ = ["GridStream", "chunk_order"]


def chunk_order(total_chunks: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The order in which an epoch visits the chunks: a permutation of ``range(total_chunks)``
    drawn from ``(seed, epoch)``, or the identity when ``shuffle`` is False."""
    if not shuffle:
        return np.arange(total_chunks)
    return np.random.default_rng(np.random.SeedSequence([seed, epoch])).permutation(total_chunks)


def _distributed_rank_and_size() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class GridStream(torch.utils.data.IterableDataset):
    """Shuffled float32 ``(x, y)`` minibatches from a grid, read a few chunks at a time.

    Args:
        grid (str, os.PathLike or xarray.Dataset): A complete zarr grid (validated with
            :func:`inn_engine.grid.open_grid`), or a Dataset with ``x`` (sample, param) and ``y`` (sample, obs).
        batch_size (int >= 1): Rows per batch.
        buffer_chunks (int >= 1): Chunks read and shuffled together; more mixes better and costs memory.
        chunk_size (int or None): Rows per read; default the grid's ``chunk_size`` attr (its storage chunks).
        seed (int >= 0): Seed of the chunk order and of the row shuffles.
        shuffle (bool): False: chunks and rows in grid order (for evaluation).
        drop_last (bool): Drop each shard's last, short batch.
        balanced (bool): Every shard yields the same number of full batches (the smallest over shards),
            dropping the rest of the epoch; what DDP needs so ranks never wait on each other.
        rank, world_size (int or None): This process's shard of the chunks; default torch.distributed's rank and world
            size when it is initialised, else 0 and 1.

    Iterating yields ``(x, y)`` tensors of shape (b, n_params) and (b, n_obs), float32,
    ``b = batch_size`` except for the last batch of a shard. Call :meth:`set_epoch`
    before each epoch to get a new order. ``len()`` is the number of batches this rank
    yields per epoch when iterated in its own process (with DataLoader workers, each
    worker is a shard of its own and may add one short batch unless ``drop_last``).
    DataLoader workers copy the stream when an epoch starts, so ``set_epoch`` reaches them
    unless ``persistent_workers=True``.
    """

    def __init__(
        self,
        grid,
        batch_size: int,
        *,
        buffer_chunks: int = 4,
        chunk_size: int | None = None,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = False,
        balanced: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
    ):
        super().__init__()
        if isinstance(grid, xr.Dataset):
            self._path, self._dataset = None, grid
        elif isinstance(grid, (str, os.PathLike)):
            self._path, self._dataset = os.fspath(grid), None
            grid = open_grid(self._path)
        else:
            raise ValueError(f"grid must be a zarr grid path or an xarray.Dataset, got {type(grid).__name__}")
        for name, dims in (("x", ("sample", "param")), ("y", ("sample", "obs"))):
            if name not in grid or grid[name].dims != dims:
                raise ValueError(f"grid must hold {name} with dims {dims}")
        self.n_rows = grid.sizes["sample"]
        if chunk_size is None:
            chunk_size = grid.attrs.get("chunk_size")
            if chunk_size is None:
                raise ValueError("grid has no chunk_size attr; pass chunk_size (rows per read)")
        if rank is None and world_size is None:
            rank, world_size = _distributed_rank_and_size()
        elif rank is None or world_size is None:
            raise ValueError(f"give both rank and world_size or neither, got rank={rank!r}, world_size={world_size!r}")
        self.batch_size = check_integer("batch_size", batch_size, 1)
        self.buffer_chunks = check_integer("buffer_chunks", buffer_chunks, 1)
        self.chunk_size = check_integer("chunk_size", chunk_size, 1)
        self.world_size = check_integer("world_size", world_size, 1)
        self.rank = check_integer("rank", rank, 0, self.world_size)
        self.seed = check_integer("seed", seed, 0)
        self.shuffle, self.drop_last, self.balanced = bool(shuffle), bool(drop_last), bool(balanced)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose chunk order and shuffles the next iteration uses."""
        self.epoch = check_integer("epoch", epoch, 0)

    @property
    def n_chunks(self) -> int:
        return n_chunks(self.n_rows, self.chunk_size)

    def shard_chunks(self, shard: int, n_shards: int) -> np.ndarray:
        """The chunks shard ``shard`` of ``n_shards`` reads this epoch, in reading order."""
        return chunk_order(self.n_chunks, self.seed, self.epoch, self.shuffle)[shard::n_shards]

    def _shard_rows(self, shard: int, n_shards: int) -> int:
        return sum(chunk_length(int(i), self.n_rows, self.chunk_size) for i in self.shard_chunks(shard, n_shards))

    def _batch_limit(self, shard: int, n_shards: int) -> int:
        """Batches shard ``shard`` yields this epoch."""
        if self.balanced:
            return min(self._shard_rows(s, n_shards) // self.batch_size for s in range(n_shards))
        rows = self._shard_rows(shard, n_shards)
        return rows // self.batch_size if self.drop_last else -(-rows // self.batch_size)

    def __len__(self) -> int:
        return self._batch_limit(self.rank, self.world_size)

    def _shard(self) -> tuple[int, int]:
        info = torch.utils.data.get_worker_info()
        if info is None:
            return self.rank, self.world_size
        return self.rank * info.num_workers + info.id, self.world_size * info.num_workers

    def _arrays(self):
        if self._path is None:
            return self._dataset["x"].data, self._dataset["y"].data
        group = zarr.open_group(self._path, mode="r")
        return group["x"], group["y"]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        shard, n_shards = self._shard()
        limit = self._batch_limit(shard, n_shards)
        chunks = self.shard_chunks(shard, n_shards)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, shard]))
        x_store, y_store = self._arrays()
        x_left = np.empty((0, x_store.shape[1]), np.float32)
        y_left = np.empty((0, y_store.shape[1]), np.float32)
        produced = 0
        for start in range(0, len(chunks), self.buffer_chunks):
            group = chunks[start : start + self.buffer_chunks]
            rows = [chunk_rows(int(i), self.n_rows, self.chunk_size) for i in group]
            x = np.concatenate([x_left] + [np.asarray(x_store[r], dtype=np.float32) for r in rows])
            y = np.concatenate([y_left] + [np.asarray(y_store[r], dtype=np.float32) for r in rows])
            if self.shuffle:
                order = rng.permutation(len(x))
                x, y = x[order], y[order]
            n_full = len(x) // self.batch_size
            for b in range(n_full):
                if produced == limit:
                    return
                batch = slice(b * self.batch_size, (b + 1) * self.batch_size)
                yield torch.from_numpy(x[batch]), torch.from_numpy(y[batch])
                produced += 1
            x_left, y_left = x[n_full * self.batch_size :], y[n_full * self.batch_size :]
        if len(x_left) and produced < limit:
            yield torch.from_numpy(x_left), torch.from_numpy(y_left)
