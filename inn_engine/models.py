"""The registry of trainable posterior networks, by the name ``fit(model=...)`` takes."""

from inn_engine.baselines import ConditionalVAE, ConditionalVAEIAF, MCDropoutRegressor
from inn_engine.cinn import ConditionalINN
from inn_engine.ensemble import EnsembleINN
from inn_engine.padded import PaddedINN

MODELS = {
    ConditionalINN.kind: ConditionalINN,
    EnsembleINN.kind: EnsembleINN,
    PaddedINN.kind: PaddedINN,
    MCDropoutRegressor.kind: MCDropoutRegressor,
    ConditionalVAE.kind: ConditionalVAE,
    ConditionalVAEIAF.kind: ConditionalVAEIAF,
}
