"""Shared pieces of the fuzz suite: hostile.py on the import path, hypothesis settings."""

import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: the suite's settings: reproducible examples (CI), no deadline (first calls load estimators)
settings.register_profile(
    "fuzz",
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
