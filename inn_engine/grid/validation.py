"""Argument checks shared by the grid and the streaming code."""
from __future__ import annotations

import numpy as np

__all__ = ["check_integer"]


def check_integer(name: str, value, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum)`` (no upper bound when ``maximum`` is None),
    or a ValueError naming ``name`` and the expected form. Booleans and floats are refused."""
    valid = (not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= minimum
             and (maximum is None or value < maximum))
    if not valid:
        expected = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum})"
        raise ValueError(f"{name} must be an integer {expected}, got {value!r}")
    return int(value)
