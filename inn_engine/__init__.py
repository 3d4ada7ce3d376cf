"""inn_engine: domain-free invertible networks for posterior inference p(x | y).

>>> est = inn_engine.fit(x, y, model="cinn", seed=0)   # x (n, dx), y (n, dy)
>>> draws = est.sample(y_obs, n=1000, seed=0)          # (n_obs, 1000, dx)
>>> post = est.posterior(y_obs, n=1000)                # Posterior: mean, median, map, interval
>>> est.save("model_dir"); est2 = inn_engine.load("model_dir")
"""

__version__ = "0.1.0"

from inn_engine.estimator import Estimator, load  # noqa: E402
from inn_engine.fit import fit  # noqa: E402
from inn_engine.posterior import Posterior  # noqa: E402
from inn_engine.simulator import Observable, Parameter, Simulator, as_generator  # noqa: E402

__all__ = [
    "Estimator",
    "Observable",
    "Parameter",
    "Posterior",
    "Simulator",
    "as_generator",
    "fit",
    "load",
    "__version__",
]
