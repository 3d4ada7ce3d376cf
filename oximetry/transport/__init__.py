"""Light transport in layered slabs: Monte Carlo (reference) and adding-doubling (fast)."""

from oximetry.transport.adding_doubling import AddingDoublingResult, adding_doubling
from oximetry.transport.monte_carlo import (
    MonteCarloResult,
    WhiteMonteCarlo,
    monte_carlo,
    specular_reflectance,
    white_monte_carlo,
)
from oximetry.transport.slab import LayeredSlab

__all__ = [
    "AddingDoublingResult",
    "adding_doubling",
    "LayeredSlab",
    "MonteCarloResult",
    "WhiteMonteCarlo",
    "monte_carlo",
    "specular_reflectance",
    "white_monte_carlo",
]
