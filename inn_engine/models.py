"""The registry of trainable posterior networks, by the name ``fit(model=...)`` takes."""
from inn_engine.cinn import ConditionalINN

MODELS = {ConditionalINN.kind: ConditionalINN}
