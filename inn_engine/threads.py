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

__all__ = ["run_pieces", "training_threads", "torch_threads", "SINGLE_THREAD_WORK"]

#: below this many (parameters x batch rows) a training step runs on one thread. Seconds per
#: step on 2 cores, OMP_WAIT_POLICY=PASSIVE, 1 thread against 2 (2026-12-01, idle machine):
#: 212k parameters x 512 rows 11 vs 30 ms; 0.88M x 1024 51 vs 56 ms; 1.3M (spline) x 1024
#: 142 vs 173 ms; 3.2M x 2048 289 vs 180 ms. One thread also never competes with other work.
SINGLE_THREAD_WORK = 3e9

_LOCK = threading.Lock()


def run_pieces(work: Callable[[object], None], pieces: Iterable[object]) -> None:
    """Call ``work(piece)`` for every piece, on ``torch.get_num_threads()`` threads.

    Pieces must be independent (each writes its own part of a result) and each runs with
    single-threaded ops, so its numbers do not depend on the number of threads or on their
    scheduling. torch's thread count is restored afterwards. The first exception raised by
    a piece is re-raised here. With one thread the pieces run in order in the caller.
    """
    workers = torch.get_num_threads()
    if workers <= 1:
        for piece in pieces:
            work(piece)
        return
    grad_mode, inference_mode = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

    def start():  # grad modes are thread-local: carry the caller's into the workers
        torch.set_num_threads(1)

    def run(piece):
        with torch.inference_mode(inference_mode), torch.set_grad_enabled(grad_mode):
            work(piece)

    with _LOCK:  # MKL's thread count is process-wide: one pool at a time restores it cleanly
        try:
            with ThreadPoolExecutor(workers, initializer=start) as pool:
                for future in [pool.submit(run, piece) for piece in pieces]:
                    future.result()
        finally:
            torch.set_num_threads(workers)


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
