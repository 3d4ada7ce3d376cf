"""The registry of trainable posterior networks, by the name ``fit(model=...)`` takes."""
from inn_engine.cinn import ConditionalINN
from inn_engine.padded import PaddedINN

MODELS = {ConditionalINN.kind: ConditionalINN, PaddedINN.kind: PaddedINN}
