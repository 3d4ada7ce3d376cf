"""Where the training loop gets its minibatches: tensors in memory, or a zarr grid streamed
chunk by chunk. Both give the batches of step ``k`` as a pure function of (seed, k), so an
interrupted run resumes on exactly the batches it would have seen.

A source yields, from a given step on, this rank's share of every global batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

__all__ = ["TensorBatches", "StreamBatches", "as_source"]


class TensorBatches:
    """Shuffled minibatches of in-memory tensors x (n, dx), y (n, dy).

    Epoch ``e`` visits the rows in a permutation drawn from ``(seed, e)``; a step never
    straddles two epochs. Under DDP each rank takes rows ``rank::world`` of the global batch.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y need the same number of rows, got {x.shape[0]} and {y.shape[0]}")
        if x.shape[0] == 0:
            raise ValueError("no training rows")
        self.x, self.y = x, y

    @property
    def n_rows(self) -> int:
        return self.x.shape[0]

    def indices(self, step: int, batch: int, seed: int) -> torch.Tensor:
        """Global row indices of step ``step`` (0-based)."""
        per_epoch = max(self.n_rows // batch, 1)
        epoch, k = divmod(step, per_epoch)
        order = torch.randperm(self.n_rows, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        return order[k * batch : (k + 1) * batch]

    def first_batch(self, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The global batch of step 0 (the same on every rank: used for data-dependent init)."""
        idx = self.indices(0, batch, seed)
        return self.x[idx], self.y[idx]

    def iterate(
        self, start_step: int, batch: int, seed: int, rank: int = 0, world: int = 1
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        step = start_step
        while True:
            idx = self.indices(step, batch, seed)[rank::world]
            yield self.x[idx], self.y[idx]
            step += 1


class StreamBatches:
    """Minibatches streamed from a grid by :class:`~inn_engine.streaming.GridStream`.

    ``make_stream(batch_size, seed, rank, world)`` builds the rank's stream (balanced, full
    batches only); ``prepare(x, y)`` maps raw physical float32 batches to the standardized
    tensors the model trains on. Epoch ``e`` is the stream's epoch ``e``; resuming at step
    ``k`` skips to the right batch of the right epoch.
    """

    def __init__(self, make_stream: Callable, prepare: Callable, n_rows: int):
        self.make_stream, self.prepare, self.n_rows = make_stream, prepare, int(n_rows)

    def first_batch(self, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        stream = self.make_stream(batch, seed, 0, 1)
        stream.set_epoch(0)
        return self.prepare(*next(iter(stream)))

    def iterate(
        self, start_step: int, batch: int, seed: int, rank: int = 0, world: int = 1
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if batch % world:
            raise ValueError(f"batch_size {batch} must be divisible by the world size {world}")
        stream = self.make_stream(batch // world, seed, rank, world)
        per_epoch = len(stream)
        if per_epoch < 1:
            raise ValueError(f"the grid has too few rows ({self.n_rows}) for one batch of {batch} per rank")
        epoch, skip = divmod(start_step, per_epoch)
        while True:
            stream.set_epoch(epoch)
            for k, (x, y) in enumerate(stream):
                if k >= skip:
                    yield self.prepare(x, y)
            epoch, skip = epoch + 1, 0


def as_source(data) -> TensorBatches | StreamBatches:
    """A batch source from a source or an (x, y) pair of tensors."""
    if isinstance(data, (TensorBatches, StreamBatches)):
        return data
    if isinstance(data, tuple) and len(data) == 2:
        return TensorBatches(*data)
    raise ValueError(f"training data must be an (x, y) pair of tensors or a batch source, got {type(data).__name__}")
