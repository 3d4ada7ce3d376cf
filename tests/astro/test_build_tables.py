"""The table builder reads SEDFit's pickled atmosphere grid with data classes only."""

import io
import os
import pickle

import numpy as np
import pytest

from astro.build_tables import _DataOnlyUnpickler


class _RunsCode:
    def __reduce__(self):
        return os.system, ("true",)


def test_the_grid_unpickler_loads_arrays_and_refuses_callables():
    arrays = [np.arange(6.0).reshape(2, 3), np.array([1, 2], dtype=np.int32)]
    loaded = _DataOnlyUnpickler(io.BytesIO(pickle.dumps(arrays))).load()
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(arrays, loaded))
    with pytest.raises(pickle.UnpicklingError, match="system is not one of the data classes"):
        _DataOnlyUnpickler(io.BytesIO(pickle.dumps(_RunsCode()))).load()
