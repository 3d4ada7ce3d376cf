"""Classifier two-sample test (C2ST) exactly as sbibm computes it (Lueckmann et al. 2021).

Both sets are z-scored with the first set's mean and standard deviation (ddof 1, in
float32, as sbibm does on torch tensors); an sklearn MLPClassifier (ReLU, two hidden
layers of 10 x dim, adam, max_iter 10000, random_state = seed) is scored by accuracy
with 5-fold shuffled KFold (random_state = seed); the result is the mean accuracy.
0.5: indistinguishable sets; 1.0: perfectly separable. (sbi's own ``c2st`` uses a
random forest by default and gives different numbers.)
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neural_network import MLPClassifier

from inn_engine.diagnostics._arrays import finite_array

__all__ = ["c2st"]


def c2st(a, b, seed: int = 1, n_folds: int = 5, z_score: bool = True) -> float:
    """C2ST accuracy between sample sets a (n, d) (the reference) and b (m, d).

    Follows sbibm's ``sbibm.metrics.c2st`` step by step (float32 data, z-scoring by a).
    Cost grows with n + m and d: 2 x 10,000 draws in 2-D take of order a minute.
    """
    a = finite_array(a, "a", 2, "(n, d)").astype(np.float32)
    b = finite_array(b, "b", 2, "(m, d)").astype(np.float32)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same number of columns, got {a.shape[1]} and {b.shape[1]}")
    if min(a.shape[0], b.shape[0]) < n_folds:
        raise ValueError(f"a and b need at least n_folds = {n_folds} rows each, got {a.shape[0]} and {b.shape[0]}")
    if z_score:
        mean = a.mean(axis=0)
        std = a.std(axis=0, ddof=1)
        if np.any(std == 0):
            raise ValueError("a has a column with zero spread; cannot z-score (pass z_score=False)")
        a, b = (a - mean) / std, (b - mean) / std
    dim = a.shape[1]
    classifier = MLPClassifier(
        activation="relu",
        hidden_layer_sizes=(10 * dim, 10 * dim),
        max_iter=10000,
        solver="adam",
        random_state=seed,
    )
    data = np.concatenate([a, b])
    target = np.concatenate([np.zeros(a.shape[0]), np.ones(b.shape[0])])
    folds = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    scores = cross_val_score(classifier, data, target, cv=folds, scoring="accuracy")
    return float(np.mean(scores))
