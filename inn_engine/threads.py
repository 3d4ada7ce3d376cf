"""Run independent pieces of torch work on Python threads, one intra-op thread each.

Many small ops (a sampling chunk's 4096 x 128 matmuls and elementwise steps) spend much of
their time in OpenMP's fork and join when each op is split over the cores: with
``OMP_WAIT_POLICY=PASSIVE`` (which keeps a loaded machine usable) the sleeping workers
must be woken for every op. Giving each core its own pieces instead, with single-threaded
ops, keeps every core busy without any per-op synchronisation (IK cINN sampling on 2 cores:
~355k draws/s split per op, ~650k as pieces on threads). torch releases the GIL inside ops.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable

import torch

__all__ = ["PiecePool", "run_pieces", "training_threads", "torch_threads", "SINGLE_THREAD_WORK"]

#: below this many (parameters x batch rows) a training step runs on one thread. Seconds per
#: step on 2 cores, OMP_WAIT_POLICY=PASSIVE, 1 thread against 2 (2026-12-01, idle machine):
#: 212k parameters x 512 rows 11 vs 30 ms; 0.88M x 1024 51 vs 56 ms; 1.3M (spline) x 1024
#: 142 vs 173 ms; 3.2M x 2048 289 vs 180 ms. One thread also never competes with other work.
SINGLE_THREAD_WORK = 3e9

_LOCK = threading.Lock()


class PiecePool:
    """``workers`` threads with one intra-op thread each, reused for many :meth:`map` calls
    (a training run maps its ensemble members every step). Use as a context manager; on
    exit torch's thread count is restored. Only one pool runs at a time (MKL's thread count
    is process-wide); a pool opened inside a worker of another runs its pieces in order.
    """

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self._pool = None

    def __enter__(self) -> "PiecePool":
        if self.workers > 1 and _LOCK.acquire(blocking=False):
            self._before = torch.get_num_threads()
            self._pool = ThreadPoolExecutor(self.workers, initializer=torch.set_num_threads, initargs=(1,))
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            torch.set_num_threads(self._before)
            self._pool = None
            _LOCK.release()

    def map(self, work: Callable[[object], object], pieces: Iterable[object]) -> list:
        """``[work(piece) for piece in pieces]``, the pieces spread over the threads; the first
        exception raised by a piece is re-raised here. Grad and inference modes (thread-local
        in torch) are the caller's in every piece."""
        if self._pool is None:
            return [work(piece) for piece in pieces]
        grad_mode, inference_mode = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

        def run(piece):
            with torch.inference_mode(inference_mode), torch.set_grad_enabled(grad_mode):
                return work(piece)

        return [future.result() for future in [self._pool.submit(run, piece) for piece in pieces]]


def run_pieces(work: Callable[[object], None], pieces: Iterable[object]) -> None:
    """Call ``work(piece)`` for every piece on ``torch.get_num_threads()`` threads (a
    :class:`PiecePool`). Pieces must be independent (each writes its own part of a result);
    each runs with single-threaded ops, so its numbers do not depend on the number of threads
    or on their scheduling."""
    with PiecePool(torch.get_num_threads()) as pool:
        pool.map(work, pieces)


def training_threads(n_parameters: int, batch_rows: int) -> int:
    """Intra-op threads for a training step of a network with ``n_parameters`` on
    ``batch_rows`` rows: 1 below :data:`SINGLE_THREAD_WORK`, else torch's current count."""
    return 1 if n_parameters * batch_rows < SINGLE_THREAD_WORK else torch.get_num_threads()


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` intra-op threads, restoring the previous count afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
