"""The schema of ``estimator.json``, checked before any network is built from it.

:func:`check_metadata` refuses, with an :class:`~inn_engine.artifact.ArtifactError` naming
the field and the form expected, every file that is not an object of the expected fields:
wrong types, lists whose lengths disagree with ``dim_x`` / ``dim_y``, non-finite or
non-positive scales, bounds with ``low >= high``, unknown transform or model kinds, model
options a network does not take or sizes beyond :data:`SIZE_LIMITS`, and format versions
this innfer cannot read. What the domains add (``metadata[<domain>]``) is checked by them.
"""

from __future__ import annotations

import math
import re

from inn_engine.checks import check_options, is_finite_real, option_defaults

__all__ = ["check_metadata", "network_options", "SIZE_LIMITS", "TRANSFORM_KINDS"]

#: the largest value of each size option of a network (far above anything trained so far)
SIZE_LIMITS = {
    "n_blocks": (1, 256),
    "n_members": (1, 32),
    "hidden": (1, 16384),
    "n_hidden_layers": (1, 32),
    "cond_features": (0, 16384),
    "cond_hidden": (1, 16384),
    "n_bins": (1, 512),
    "dim_z": (1, 65536),
    "dim_nuisance": (0, 65536),
    "width": (1, 65536),
    "n_iaf_steps": (1, 64),
    "iaf_hidden": (1, 16384),
    "iaf_hidden_layers": (1, 32),
    "context_features": (1, 16384),
    "n_validation_passes": (1, 100_000),
    "seed": (0, 2**63 - 1),
}
#: the largest dim_x, dim_y of an estimator file
MAX_DIMS = (4096, 65536)
TRANSFORM_KINDS = ("logit", "log_lower", "log_upper", "identity")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_metadata(meta, where: str, format_name: str, format_version: int) -> None:
    """ArtifactError unless ``meta`` (the parsed ``estimator.json`` at ``where``) has the schema."""
    from inn_engine.artifact import ArtifactError

    if not isinstance(meta, dict):
        raise ArtifactError(f"{where}: must hold a JSON object of an innfer estimator, got a JSON {_json_type(meta)}")
    if meta.get("format") != format_name:
        raise ArtifactError(
            f"{where}: not an innfer estimator (format={_short(meta.get('format'))}, expected {format_name!r})"
        )
    version = meta.get("format_version")
    if not _is_int(version) or version < 1:
        raise ArtifactError(
            f"{where}: format_version {_short(version)} is not a format version (an integer >= 1); the file is damaged"
        )
    if version > format_version:
        raise ArtifactError(
            f"{where}: format_version {version} is newer than the format {format_version} this "
            "innfer reads; upgrade innfer"
        )
    try:
        _check_fields(meta)
    except ValueError as err:
        raise ArtifactError(f"{where}: {err}") from None


def _check_fields(meta: dict) -> None:
    _require(
        isinstance(meta.get("weights_sha256"), str) and _SHA256.fullmatch(meta["weights_sha256"]),
        "weights_sha256",
        "a SHA-256 hex digest (64 lowercase hex digits)",
        meta.get("weights_sha256"),
    )
    params = _names(meta, "param_names")
    observables = _names(meta, "obs_names")
    for field, length in (("param_units", len(params)), ("obs_units", len(observables))):
        units = meta.get(field)
        _require(
            units is None
            or (isinstance(units, list) and len(units) == length and all(isinstance(u, str) for u in units)),
            field,
            f"a list of {length} strings",
            units,
        )
    _check_model(meta.get("model"), len(params), len(observables))
    _check_transform(meta.get("x_transform"), len(params))
    _check_scaler(meta.get("x_scaler"), "x_scaler", len(params))
    _check_scaler(meta.get("y_scaler"), "y_scaler", len(observables))
    _require(isinstance(meta.get("metadata", {}), dict), "metadata", "a JSON object", meta.get("metadata"))
    side = meta.get("side_files", {})
    _require(
        isinstance(side, dict)
        and all(isinstance(k, str) and isinstance(v, str) and _SHA256.fullmatch(v) for k, v in side.items()),
        "side_files",
        "an object mapping file names to SHA-256 hex digests",
        side,
    )


def _names(meta: dict, field: str) -> list:
    names = meta.get(field)
    _require(
        isinstance(names, list)
        and names
        and all(isinstance(v, str) and v for v in names)
        and len(set(names)) == len(names),
        field,
        "a non-empty list of distinct non-empty strings",
        names,
    )
    return names


def _check_model(model, dim_x: int, dim_y: int) -> None:
    from inn_engine.models import MODELS

    _require(
        isinstance(model, dict) and isinstance(model.get("config"), dict),
        "model",
        'an object {"kind": ..., "config": {...}}',
        model,
    )
    kind, config = model.get("kind"), model["config"]
    _require(isinstance(kind, str) and kind in MODELS, "model.kind", f"one of {sorted(MODELS)}", kind)
    _require(
        dim_x <= MAX_DIMS[0] and dim_y <= MAX_DIMS[1],
        "param_names and obs_names",
        f"at most {MAX_DIMS[0]} and {MAX_DIMS[1]} names",
        [dim_x, dim_y],
    )
    _require(
        config.get("dim_x") == dim_x and _is_int(config.get("dim_x")),
        "model.config.dim_x",
        f"{dim_x} (the number of param_names)",
        config.get("dim_x"),
    )
    _require(
        config.get("dim_y") == dim_y and _is_int(config.get("dim_y")),
        "model.config.dim_y",
        f"{dim_y} (the number of obs_names)",
        config.get("dim_y"),
    )
    options = {k: v for k, v in config.items() if k not in ("dim_x", "dim_y")}
    check_options(f"the {kind!r} network (model.config)", options, network_options(kind), SIZE_LIMITS)


def network_options(kind: str) -> dict:
    """{option: (default, annotation)} of the network ``kind`` (an ensemble: its own and its
    members'), without ``dim_x`` and ``dim_y``."""
    from inn_engine.models import MODELS

    options = option_defaults(MODELS[kind], exclude=("self", "dim_x", "dim_y"))
    return (
        {**option_defaults(MODELS["cinn"], exclude=("self", "dim_x", "dim_y")), **options}
        if kind == "ensemble"
        else options
    )


def _check_transform(transform, dim: int) -> None:
    _require(isinstance(transform, dict), "x_transform", 'an object {"low": [...], "high": [...]}', transform)
    bounds = []
    for side, infinite in (("low", "-inf"), ("high", "inf")):
        values = transform.get(side)
        _require(
            isinstance(values, list) and len(values) == dim and all(is_finite_real(v) or v == infinite for v in values),
            f"x_transform.{side}",
            f"a list of {dim} finite numbers or {infinite!r}",
            values,
        )
        bounds.append([float(v) for v in values])
    for j, (low, high) in enumerate(zip(*bounds)):
        _require(low < high, f"x_transform bounds of parameter {j}", "low < high", [low, high])
    kinds = transform.get("kinds")
    expected = [
        (
            "logit"
            if math.isfinite(lo) and math.isfinite(hi)
            else "log_lower"
            if math.isfinite(lo)
            else "log_upper"
            if math.isfinite(hi)
            else "identity"
        )
        for lo, hi in zip(*bounds)
    ]
    _require(
        kinds is None or kinds == expected,
        "x_transform.kinds",
        f"the kinds of these bounds, {expected} (known kinds: {list(TRANSFORM_KINDS)})",
        kinds,
    )


def _check_scaler(scaler, field: str, dim: int) -> None:
    _require(isinstance(scaler, dict), field, 'an object {"mean": [...], "std": [...]}', scaler)
    mean, std = scaler.get("mean"), scaler.get("std")
    _require(
        isinstance(mean, list) and len(mean) == dim and all(is_finite_real(v) for v in mean),
        f"{field}.mean",
        f"a list of {dim} finite numbers",
        mean,
    )
    _require(
        isinstance(std, list) and len(std) == dim and all(is_finite_real(v) and v > 0 for v in std),
        f"{field}.std",
        f"a list of {dim} finite positive numbers",
        std,
    )


def _require(ok, field: str, expected: str, got) -> None:
    if not ok:
        raise ValueError(f"{field} must be {expected}, got {_short(got)}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _json_type(v) -> str:
    return {list: "array", str: "string", type(None): "null", bool: "boolean"}.get(type(v), "number")


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."
