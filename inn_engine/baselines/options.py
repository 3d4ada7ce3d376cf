"""Checks of the baseline networks' constructor arguments (clear ValueErrors naming the field)."""

from __future__ import annotations

import numbers

__all__ = ["check_int", "check_dropout"]


def check_int(name: str, value, minimum: int) -> int:
    """``value`` as an int if it is an integer >= ``minimum``; else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_dropout(name: str, value) -> float:
    """A dropout probability in the open interval (0, 1); else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a probability in (0, 1), got {value!r}")
    return float(value)
