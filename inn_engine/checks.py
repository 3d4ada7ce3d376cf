"""Argument checks of the public entry points (engine, domains, command line).

Each helper returns the argument in a normal form or raises a ValueError that names the
argument and the form expected, so a bad argument never fails from deep inside a call,
and never turns into a silently different one (a float seed truncated, a complex array
losing its imaginary part, band labels read by position).
"""

from __future__ import annotations

import inspect
import numbers

import numpy as np

__all__ = [
    "MAX_WORK_BYTES",
    "SEED_LIMIT",
    "check_integer",
    "check_work",
    "check_seed",
    "torch_seed",
    "check_real",
    "is_finite_real",
    "check_array",
    "string_labels",
    "label_list",
    "check_labels",
    "check_shape",
    "option_defaults",
    "check_options",
]

#: the largest float64 result one call may allocate (e.g. n_obs x draws x params x 8 bytes);
#: raise it for machines with more memory
MAX_WORK_BYTES = 8 * 1024**3
SEED_LIMIT = 2**63


def check_integer(name: str, value, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum)`` (no upper bound when ``maximum`` is None),
    or a ValueError naming ``name`` and the expected form. Booleans and floats are refused."""
    valid = (
        not isinstance(value, bool)
        and isinstance(value, (int, np.integer))
        and value >= minimum
        and (maximum is None or value < maximum)
    )
    if not valid:
        expected = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum})"
        raise ValueError(f"{name} must be an integer {expected}, got {_shown(value)}")
    return int(value)


def check_work(what: str, n_bytes: float, limit: int | None = None) -> None:
    """ValueError when a call would allocate more than ``limit`` (default :data:`MAX_WORK_BYTES`)
    bytes; ``what`` spells the product, e.g. ``"100 observations x 10^9 draws x 4 params x 8 bytes"``."""
    limit = MAX_WORK_BYTES if limit is None else limit
    if n_bytes > limit:
        raise ValueError(
            f"{what} = {_bytes(n_bytes)} exceeds the {_bytes(limit)} one call may allocate "
            f"(inn_engine.checks.MAX_WORK_BYTES): ask for fewer draws or split the input"
        )


def check_seed(name: str, value, allow_none: bool = False):
    """An int in [0, 2**63) or a numpy Generator (returned as is); None only with ``allow_none``."""
    if isinstance(value, np.random.Generator) or (allow_none and value is None):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < SEED_LIMIT:
        also = ", None" if allow_none else ""
        raise ValueError(f"{name} must be an integer in [0, 2**63) or a numpy Generator{also}, got {_shown(value)}")
    return int(value)


def torch_seed(seed) -> int:
    """The int seed of a torch Generator for a value :func:`check_seed` accepted."""
    return int(seed.integers(SEED_LIMIT)) if isinstance(seed, np.random.Generator) else int(seed)


def is_finite_real(value) -> bool:
    """A real number (not bool) that is finite as a float; False for ints beyond float's range."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        return False
    try:
        return bool(np.isfinite(float(value)))
    except (OverflowError, TypeError, ValueError):
        return False


def check_real(name: str, value, low: float | None = None, high: float | None = None) -> float:
    """A finite real number (not bool, complex or str) in [low, high], as float."""
    ok = is_finite_real(value) and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        span = (
            ""
            if low is None and high is None
            else f" in [{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        )
        raise ValueError(f"{name} must be a finite real number{span}, got {_shown(value)}")
    return float(value)


def check_array(
    name: str, value, ndim=None, last: int | None = None, finite: bool = True, form: str | None = None
) -> np.ndarray:
    """``value`` as a float64 array of real numbers (float or integer dtype; bool, complex, str
    and object arrays are refused) with ``ndim`` dims (an int or a tuple of allowed ones) and
    ``last`` entries on its last axis; with ``finite``, NaN and inf are refused (naming the
    first index). ``form`` describes what is expected in the messages (default: "a real array
    of shape ...")."""
    form = form or _form(ndim, last)
    if isinstance(value, (str, bytes, dict, set)) or value is None:
        raise ValueError(f"{name} must be {form}, got {_shown(value)}")
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged nested lists, unconvertible objects
        raise ValueError(f"{name} must be {form}, a rectangular array of numbers: {err}") from err
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers (float or integer), {form}; got dtype {a.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if (allowed is not None and a.ndim not in allowed) or (last is not None and (a.ndim == 0 or a.shape[-1] != last)):
        raise ValueError(f"{name} must be {form}, got shape {a.shape}")
    a = a.astype(float)
    if finite and not np.all(np.isfinite(a)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"{name}{list(index)} is {a[index]}: {name} must be finite")
    return a


def string_labels(values) -> list[str] | None:
    """Labels as a list of str when every one is a str (any numpy/pandas string-like dtype,
    object included); None when they are not labels (numbers, mixed)."""
    items = list(np.asarray(values, dtype=object).reshape(-1))
    if items and all(isinstance(v, (str, np.str_)) for v in items):
        return [str(v) for v in items]
    return None


def label_list(name: str, value) -> list[str]:
    """A non-empty list of labels from one string or any collection of string-like labels (list,
    tuple, set, numpy or pandas array of any string-like dtype), or a ValueError naming ``name``."""
    try:
        items = [value] if isinstance(value, str) else list(value)
    except TypeError:
        items = []
    labels = string_labels(items) if items else None
    if labels is None:
        raise ValueError(f"{name} must be a non-empty list of names (strings), got {_shown(value)}")
    return labels


def check_labels(name: str, given, expected) -> np.ndarray:
    """The positions in ``given`` of every label of ``expected`` (so ``given`` can be reordered
    into ``expected``'s order), or a ValueError naming the unknown, missing or repeated ones.
    ``given`` may be any sequence or array of string-like labels."""
    labels = string_labels(given)
    expected = [str(e) for e in expected]
    if labels is None:
        raise ValueError(f"{name} must be string labels {expected}, got {_shown(given)}")
    unknown = sorted(set(labels) - set(expected))
    missing = [e for e in expected if e not in labels]
    repeated = sorted({v for v in labels if labels.count(v) > 1})
    if unknown or missing or repeated:
        raise ValueError(
            f"{name} {labels} does not name each of {expected} once "
            f"(unknown: {unknown}, missing: {missing}, repeated: {repeated})"
        )
    return np.array([labels.index(e) for e in expected])


def check_shape(name: str, shape: tuple, expected: tuple) -> None:
    """ValueError when an array derived from the data (e.g. broadcast against references) does
    not keep the data's shape."""
    if tuple(shape) != tuple(expected):
        raise ValueError(
            f"{name} must broadcast to the data's shape {tuple(expected)}, not enlarge or change it "
            f"(got {tuple(shape)})"
        )


def option_defaults(signature_of, exclude=("self",)) -> dict:
    """{option: (default, annotation text)} of a callable's keyword options (a class: its
    ``__init__``; a dataclass: its fields), leaving out ``exclude``, ``*args`` and ``**kwargs``."""
    parameters = inspect.signature(signature_of).parameters.values()
    return {
        p.name: (p.default, str(p.annotation))
        for p in parameters
        if p.name not in exclude and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def check_options(what: str, options: dict, defaults: dict, limits: dict) -> None:
    """ValueError unless every option is a key of ``defaults`` ({name: (default, annotation)},
    see :func:`option_defaults`) with a value of its default's type: integers within
    ``limits[name]`` = (low, high) (else >= 0), finite reals, booleans, strings; None only
    where the default or annotation allows it. ``what`` names the options' owner."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(f"{unknown} are not options of {what}; its options are {sorted(defaults)}")
    for name, value in options.items():
        default, annotation = defaults[name]
        if value is None and (default is None or "None" in annotation):
            continue
        kind = type(default) if default is not None and default is not inspect.Parameter.empty else None
        kind = kind or next((t for t in (bool, int, float, str) if t.__name__ in annotation), None)
        if kind is bool:
            ok, form = isinstance(value, (bool, np.bool_)), "true or false"
        elif kind is int:
            low, high = limits.get(name, (0, None))
            ok = (
                not isinstance(value, bool)
                and isinstance(value, (int, np.integer))
                and low <= value
                and (high is None or value <= high)
            )
            form = f"an integer in [{low}, {'inf' if high is None else high}]"
        elif kind is float:
            ok, form = (
                is_finite_real(value),
                "a finite real number",
            )
        elif kind is str:
            ok, form = isinstance(value, str), "a string"
        else:
            continue
        if not ok:
            raise ValueError(f"option {name!r} of {what} must be {form}, got {_shown(value)}")


def _form(ndim, last) -> str:
    dims = {1: "(k,)", 2: "(n, k)", 3: "(h, w, k)"}
    allowed = (ndim,) if isinstance(ndim, int) else ndim or ()
    text = " or ".join(dims.get(d, f"{d}-D") for d in allowed) or "any"
    return "a real array of shape " + (text.replace("k", str(last)) if last is not None else text)


def _shown(value) -> str:
    """A short repr of ``value`` with its type (``1.5 (float)``)."""
    text = repr(value)
    return f"{text[:60] + '...' if len(text) > 63 else text} ({type(value).__name__})"


def _bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
