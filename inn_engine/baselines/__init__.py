"""Baselines of the INN paper's comparison: MC-dropout regression, cVAE and cVAE-IAF.

Each plugs into the engine like the INNs (``inn_engine.fit(x, y, model=kind)``):
``MCDropoutRegressor`` ("mc_dropout"), ``ConditionalVAE`` ("cvae"), ``ConditionalVAEIAF``
("cvae_iaf"). None has a tractable density, so posteriors use sample-based summaries.
"""

from inn_engine.baselines.cvae import ConditionalVAE
from inn_engine.baselines.cvae_iaf import ConditionalVAEIAF
from inn_engine.baselines.mc_dropout import MCDropoutRegressor

__all__ = ["ConditionalVAE", "ConditionalVAEIAF", "MCDropoutRegressor"]
