"""The on-disk layout of a simulation grid: a zarr store written chunk by chunk.

Layout (zarr format 3, readable with ``xarray.open_zarr``):

- ``x`` (sample, param) float64 and ``y`` (sample, obs) float64, stored in chunks of
  ``chunk_size`` rows, one storage chunk per grid chunk so writers never share a file,
  zstd-compressed with a CRC-32C per chunk (a corrupted chunk file fails to read);
- ``param`` / ``obs``: the coordinate names;
- ``chunk_done`` (chunk,) uint8: the completion record, 1 once chunk ``i`` has been fully
  written. Each entry is its own storage chunk, and zarr's local store writes every chunk
  file atomically (temporary file, then rename), so a process killed at any moment leaves
  either a complete record or none and a resumed run recomputes exactly the unrecorded
  chunks;
- attrs: ``innfer_grid`` (layout version), the arguments that define the grid (``n``,
  ``seed``, ``chunk_size``, ``simulator`` = the simulator's metadata as a JSON string),
  ``units`` (JSON: ``{"param": {name: unit}, "obs": {name: unit}}``), ``innfer_version``,
  and the caller's own attrs.

The store is created in a temporary sibling directory and renamed into place, so a
store at ``path`` always has its full metadata.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from inn_engine.grid.chunks import chunk_rows, n_chunks
from inn_engine.simulator import Simulator

__all__ = [
    "LAYOUT_VERSION",
    "DEFINING_ARGUMENTS",
    "grid_attrs",
    "check_user_attrs",
    "check_matches",
    "create_store",
    "prepare_store",
    "read_attrs",
    "completed_chunks",
    "damaged_chunks",
    "write_chunk",
    "open_grid",
    "empty_dataset",
]

LAYOUT_VERSION = 1
DEFINING_ARGUMENTS = ("n", "seed", "chunk_size", "simulator")
_RESERVED = frozenset({"innfer_grid", "units", "innfer_version", *DEFINING_ARGUMENTS})


def check_user_attrs(attrs) -> dict:
    """The caller's extra attrs as a JSON-normalised dict, or a ValueError saying what is wrong."""
    if attrs is None:
        return {}
    if not isinstance(attrs, dict):
        raise ValueError(f"attrs must be a dict of JSON-safe values, got {type(attrs).__name__}")
    for key in attrs:
        if not isinstance(key, str):
            raise ValueError(f"attrs keys must be strings, got {key!r}")
        if key in _RESERVED:
            raise ValueError(f"attrs key {key!r} is reserved for the grid itself; reserved keys: {sorted(_RESERVED)}")
    try:
        return json.loads(json.dumps(attrs, allow_nan=False))
    except (TypeError, ValueError) as err:
        raise ValueError(f"attrs must hold JSON-safe values (str, number, bool, list, dict): {err}") from err


def _metadata_json(simulator: Simulator) -> str:
    try:
        return json.dumps(simulator.metadata(), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{type(simulator).__name__}.metadata() must return JSON-safe values "
            f"(str, finite number, bool, list, dict): {err}"
        ) from err


def grid_attrs(simulator: Simulator, n: int, seed: int, chunk_size: int, user_attrs: dict) -> dict:
    """All attrs of a grid: its defining arguments, units, versions and the caller's attrs."""
    from inn_engine import __version__

    units = {
        "param": {p.name: p.unit for p in simulator.parameters},
        "obs": {o.name: o.unit for o in simulator.observables},
    }
    return {
        "innfer_grid": LAYOUT_VERSION,
        "n": n,
        "seed": seed,
        "chunk_size": chunk_size,
        "simulator": _metadata_json(simulator),
        "units": json.dumps(units),
        "innfer_version": __version__,
        **user_attrs,
    }


def _user_part(attrs: dict) -> dict:
    return {k: v for k, v in attrs.items() if k not in _RESERVED}


def check_matches(path: str, stored: dict, wanted: dict) -> None:
    """ValueError naming the first argument in which ``wanted`` differs from the grid at ``path``."""
    hint = "pass the original arguments to resume it, or choose a new path"
    for name in DEFINING_ARGUMENTS:
        if stored.get(name) != wanted[name]:
            if name == "simulator":
                old, new = json.loads(stored.get(name, "{}")), json.loads(wanted[name])
                keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
                raise ValueError(
                    f"{path} holds a grid made by a different simulator (metadata differs in "
                    f"{keys}: stored {[old.get(k) for k in keys]!r}, given "
                    f"{[new.get(k) for k in keys]!r}); {hint}"
                )
            raise ValueError(f"{path} holds a grid made with {name}={stored.get(name)!r}, not {wanted[name]!r}; {hint}")
    old, new = _user_part(stored), _user_part(wanted)
    for key in sorted(set(old) | set(new)):
        if old.get(key, "<absent>") != new.get(key, "<absent>"):
            raise ValueError(
                f"{path} holds a grid made with attrs[{key!r}]={old.get(key, '<absent>')!r}, "
                f"not {new.get(key, '<absent>')!r}; {hint}"
            )


def empty_dataset(
    simulator: Simulator, n: int, chunk_size: int, attrs: dict, make, completion_record: bool = True
) -> xr.Dataset:
    """A grid Dataset whose arrays come from ``make(shape, dtype, chunks)``, with the
    ``chunk_done`` record (for a store) or without it (in memory)."""
    n_params, n_obs = len(simulator.parameters), len(simulator.observables)
    variables = {
        "x": (
            ("sample", "param"),
            make((n, n_params), np.float64, (chunk_size, n_params)),
            {"description": "parameters drawn from the prior"},
        ),
        "y": (
            ("sample", "obs"),
            make((n, n_obs), np.float64, (chunk_size, n_obs)),
            {"description": "noisy simulated observations"},
        ),
    }
    if completion_record:
        variables["chunk_done"] = (
            ("chunk",),
            make((n_chunks(n, chunk_size),), np.uint8, (1,)),
            {"description": "1 once the chunk is written"},
        )
    return xr.Dataset(
        variables,
        coords={
            "param": np.array(simulator.param_names, dtype=object),
            "obs": np.array(simulator.obs_names, dtype=object),
        },
        attrs=attrs,
    )


def _checksummed() -> list:
    """zstd then a CRC-32C of every stored chunk: a corrupted chunk file fails to read instead of
    reading back as other numbers."""
    from zarr.codecs import Crc32cCodec, ZstdCodec

    return [ZstdCodec(level=0), Crc32cCodec()]


def create_store(path: str, simulator: Simulator, n: int, chunk_size: int, attrs: dict) -> None:
    """Create the empty grid store at ``path`` (metadata, coordinates, no chunk written)."""
    template = empty_dataset(
        simulator,
        n,
        chunk_size,
        attrs,
        lambda shape, dtype, chunks: da.zeros(shape, dtype=dtype, chunks=chunks),
    )
    encoding = {
        "x": {"chunks": template.x.data.chunksize, "_FillValue": np.nan, "compressors": _checksummed()},
        "y": {"chunks": template.y.data.chunksize, "_FillValue": np.nan, "compressors": _checksummed()},
        "chunk_done": {"chunks": (1,)},
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}.creating")
    try:
        template.to_zarr(staging, mode="w-", compute=False, consolidated=False, encoding=encoding)
        if target.exists():  # an empty directory the caller made for us
            target.rmdir()
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prepare_store(path: str, simulator: Simulator, n: int, chunk_size: int, attrs: dict) -> None:
    """Make sure ``path`` holds the grid described by the arguments: create it, or check
    that the grid already there was made with the same arguments (ValueError if not)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"path {path!r} exists and is not a directory; give a .zarr directory path")
    if not (os.path.isdir(path) and os.listdir(path)):
        try:
            create_store(path, simulator, n, chunk_size, attrs)
            return
        except OSError:
            if not (os.path.isdir(path) and os.listdir(path)):
                raise
            # another process created the grid at the same moment: check it like any other
    check_matches(path, read_attrs(path), attrs)


def read_attrs(path: str) -> dict:
    """The attrs of the grid at ``path``; ValueError if ``path`` is not an innfer grid."""
    try:
        group = zarr.open_group(path, mode="r")
        attrs = group.attrs.asdict()
    except Exception as err:  # zarr raises several kinds for "not a zarr group"
        raise ValueError(f"{path} is not an innfer simulation grid (no zarr group: {err})") from err
    if attrs.get("innfer_grid") != LAYOUT_VERSION or "chunk_done" not in group:
        raise ValueError(
            f"{path} is a zarr store but not an innfer simulation grid "
            f"(layout version {attrs.get('innfer_grid')!r}, expected {LAYOUT_VERSION})"
        )
    return attrs


def completed_chunks(path: str) -> np.ndarray:
    """Boolean array (n_chunks,): which chunks of the grid at ``path`` are fully written."""
    return zarr.open_array(path, path="chunk_done", mode="r")[:] == 1


def damaged_chunks(path: str, indices, n: int, chunk_size: int) -> list[int]:
    """The chunks among ``indices`` (recorded as done) whose x or y cannot be read back or hold
    NaN / inf (a deleted chunk file reads as NaN, a corrupted one fails to decompress); their
    completion records are cleared, so that they are computed again."""
    group = zarr.open_group(path, mode="r+")
    damaged = []
    for index in indices:
        rows = chunk_rows(int(index), n, chunk_size)
        try:
            ok = all(np.isfinite(group[name][rows]).all() for name in ("x", "y"))
        except Exception:  # noqa: BLE001 - any codec or store error means the chunk is unusable
            ok = False
        if not ok:
            group["chunk_done"][int(index)] = 0
            damaged.append(int(index))
    return damaged


def write_chunk(path: str, index: int, n: int, chunk_size: int, x: np.ndarray, y: np.ndarray) -> None:
    """Write chunk ``index`` (its x then its y) and then record it as done."""
    group = zarr.open_group(path, mode="r+")
    rows = chunk_rows(index, n, chunk_size)
    group["x"][rows] = x
    group["y"][rows] = y
    group["chunk_done"][index] = 1


def open_grid(path) -> xr.Dataset:
    """The complete simulation grid at ``path`` as a lazy (dask-backed) xarray.Dataset.

    ``x`` (sample, param) and ``y`` (sample, obs) are float64, chunked like the store;
    attrs are those recorded by :func:`inn_engine.grid.simulate_grid`. Raises ValueError
    if ``path`` is not an innfer grid, or if chunks are missing (an interrupted run),
    saying how many and how to resume.
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise ValueError(f"grid path {path!r} does not exist or is not a directory")
    attrs = read_attrs(path)
    done = completed_chunks(path)
    missing = np.flatnonzero(~done)
    if missing.size:
        shown = ", ".join(str(i) for i in missing[:10]) + (", ..." if missing.size > 10 else "")
        raise ValueError(
            f"grid {path} is incomplete: {missing.size} of {done.size} chunks missing "
            f"(chunks {shown}). Resume it by calling simulate_grid(simulator, "
            f"n={attrs['n']}, path={path!r}, seed={attrs['seed']}, chunk_size={attrs['chunk_size']}) "
            f"with the same simulator and attrs; only the missing chunks are computed."
        )
    return xr.open_zarr(path, consolidated=False)[["x", "y"]]
