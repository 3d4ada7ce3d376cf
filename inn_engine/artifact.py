"""The on-disk estimator format: ``weights.safetensors`` + ``estimator.json`` in a directory.

Weights use safetensors (loading cannot run code). The JSON holds everything else and the
SHA-256 of the weights file and of every side file, so a truncated, tampered or mismatched
file is refused with a clear error instead of producing silent nonsense; the JSON itself is
checked against :mod:`inn_engine.schema` before anything is built from it, and carries the
SHA-256 of its own content (``metadata_sha256``), so an edit that stays inside the schema (a
scaler's mean, a domain record's value) is refused too. These digests catch damage and
accidental edits; they are not signatures (anyone can recompute them).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from inn_engine.schema import check_metadata

__all__ = [
    "ArtifactError",
    "FORMAT",
    "FORMAT_VERSION",
    "write_artifact",
    "read_artifact",
    "sha256_file",
    "sign_metadata",
]

FORMAT = "innfer-estimator"
#: 1: weights and side files digested; 2: estimator.json also digests its own content
FORMAT_VERSION = 2
METADATA_DIGEST = "metadata_sha256"
WEIGHTS = "weights.safetensors"
METADATA = "estimator.json"


class ArtifactError(ValueError):
    """An estimator directory that is missing, truncated, tampered with or incompatible."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_artifact(
    path: str | os.PathLike, state_dict: dict, metadata: dict, side_files: dict[str, bytes] | None = None
) -> Path:
    """Write weights, ``side_files`` (name -> bytes, e.g. a domain's side models) and metadata
    into directory ``path`` (created if needed); returns it. The SHA-256 of the weights and of
    every side file is recorded in the metadata and checked by :func:`read_artifact`."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}
    weights = path / WEIGHTS
    save_file(tensors, str(weights))
    meta = dict(metadata)
    digests = {}
    for name, data in (side_files or {}).items():
        if Path(name).name != name or name in (WEIGHTS, METADATA):
            raise ValueError(f"side file name {name!r} must be a plain file name other than {WEIGHTS}, {METADATA}")
        (path / name).write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    if digests:
        meta["side_files"] = digests
    meta.update(format=FORMAT, format_version=FORMAT_VERSION, weights_sha256=sha256_file(weights))
    meta = sign_metadata(meta)
    tmp = path / (METADATA + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
    os.replace(tmp, path / METADATA)
    return path


def _metadata_digest(meta: dict) -> str:
    """SHA-256 of ``meta``'s canonical JSON (sorted keys, no spaces), its own digest left out."""
    body = {k: v for k, v in meta.items() if k != METADATA_DIGEST}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def sign_metadata(meta: dict) -> dict:
    """``meta`` with ``metadata_sha256`` of its current content (what :func:`write_artifact`
    stores; use it after editing an estimator.json on purpose)."""
    return {**meta, METADATA_DIGEST: _metadata_digest(meta)}


def _check_metadata_digest(meta: dict, meta_file: Path) -> None:
    """Format 2 and later: ``metadata_sha256`` present and equal to the content's, or ArtifactError."""
    if meta["format_version"] < 2:
        return  # written before estimator.json digested itself
    recorded = meta.get(METADATA_DIGEST)
    if not isinstance(recorded, str) or recorded != _metadata_digest(meta):
        what = "has no metadata_sha256" if recorded is None else "does not match its metadata_sha256"
        raise ArtifactError(
            f"{meta_file} {what}: the file was edited or damaged after it was written "
            "(to keep a deliberate edit, re-sign it with inn_engine.artifact.sign_metadata)"
        )


def read_artifact(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Read and check an estimator directory: (state_dict, metadata) or :class:`ArtifactError`."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArtifactError(f"an estimator directory must be a path (str or os.PathLike), got {type(path).__name__}")
    path = Path(path)
    meta_file, weights = path / METADATA, path / WEIGHTS
    if not path.is_dir():
        raise ArtifactError(f"{path} is not an estimator directory (expected {METADATA} and {WEIGHTS} inside)")
    for f in (meta_file, weights):
        if not f.is_file():
            raise ArtifactError(f"{path}: missing {f.name}; the estimator directory is incomplete")
    try:
        meta = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise ArtifactError(
            f"{meta_file} is not valid JSON ({type(err).__name__}: {err}); the file is damaged"
        ) from err
    except OSError as err:
        raise ArtifactError(f"{meta_file} cannot be read: {err}") from err
    check_metadata(meta, str(meta_file), FORMAT, FORMAT_VERSION)
    _check_metadata_digest(meta, meta_file)
    actual = sha256_file(weights)
    if actual != meta["weights_sha256"]:
        raise ArtifactError(
            f"{weights}: SHA-256 {actual[:12]}... does not match the metadata's "
            f"{meta['weights_sha256'][:12]}...: the weights are truncated or were modified"
        )
    _check_side_files(path, meta.get("side_files", {}))
    try:
        state = load_file(str(weights))
    except Exception as err:
        raise ArtifactError(f"{weights} cannot be read as safetensors ({err})") from err
    return state, meta


def _check_side_files(path: Path, digests: dict) -> None:
    """Every side file the metadata lists exists with its recorded SHA-256, or ArtifactError."""
    for name, digest in digests.items():
        file = path / str(name)
        if Path(str(name)).name != name or not file.is_file():
            raise ArtifactError(f"{path}: missing side file {name!r} listed in {METADATA}")
        if sha256_file(file) != digest:
            raise ArtifactError(
                f"{file}: the side file's SHA-256 does not match {METADATA}: it is truncated or was modified"
            )
