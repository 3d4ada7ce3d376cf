"""inn_engine: domain-free invertible networks for posterior inference p(x | y)."""
from inn_engine.simulator import Observable, Parameter, Simulator, as_generator

__version__ = "0.1.0"

__all__ = ["Observable", "Parameter", "Simulator", "as_generator", "__version__"]
