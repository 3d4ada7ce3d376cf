"""The packaged sO2 posterior estimator (weights.safetensors + estimator.json), made by
``python -m oximetry.pretrain``; its settings and evaluation metrics are in estimator.json."""
