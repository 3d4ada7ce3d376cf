"""Shared output of the benchmark scripts: a markdown table on stdout and a JSON file."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    """Rows of dicts as a markdown table over ``columns`` (floats to 4 significant digits)."""

    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> dict:
    """Where the figures were measured: cores, load, torch threads."""
    import torch

    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def write_json(path: str | os.PathLike, payload: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=1, default=float))
    print(f"\nJSON written to {path}")


def best_rates(samplers: dict, n_rows: int, repeats: int) -> dict:
    """{name: [draws per wall second, draws per CPU second of this process]} of each sampler
    (a callable producing ``n_rows`` draws): the best of ``repeats`` runs, interleaved so a change
    of machine load hits every sampler alike. CPU seconds count every thread, so on a shared
    machine the second figure times the threads bounds what an idle machine gives."""
    best = {name: [0.0, 0.0] for name in samplers}
    for _ in range(repeats):
        for name, fn in samplers.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            best[name] = [max(best[name][0], n_rows / wall), max(best[name][1], n_rows / max(cpu, 1e-9))]
    return best
