"""Specular highlights: a classifier of spectral shape trained on simulated highlights.

A density over tissue spectra cannot flag highlights: white light added to a spectrum
flattens its shape towards that of bloodless tissue, which the colon prior contains in
plenty, so highlight shapes score as typical (AUROC 0.45 for the shape density of
:mod:`oximetry.ood` on the 10^6-spectrum grid). A highlight has a physical model instead -
surface reflection of the illumination, spectrally flat up to the light source's colour -
so a classifier learns it: tissue spectra (negatives) against the same spectra plus a
highlight of random strength and colour (positives, :func:`add_highlight`). It sees only
the intensity-invariant shape (log reflectance minus its band mean), like the estimator.
A spectrum is flagged when its logit exceeds the ``quantile`` of held-out tissue spectra'
logits (0.5 % false alarms by design).
"""

from __future__ import annotations

import json

import numpy as np
import torch

from oximetry.feature_mlp import FeatureMLP, fit_feature_mlp
from oximetry.ood import shape_and_level

__all__ = ["HighlightDetector", "add_highlight", "fit_highlight_detector", "HIGHLIGHT_FILE"]

HIGHLIGHT_FILE = "highlight.safetensors"  # its name inside an estimator directory


def add_highlight(reflectance, centres_nm, rng: np.random.Generator, strength=(0.05, 2.0), colour: float = 0.3):
    """Tissue reflectance (n, bands) plus a highlight s * max_b(r) * (lambda / 550 nm)^t.

    s ~ U(strength) relative to the spectrum's brightest band; t ~ U(-colour, colour) tilts
    the highlight for light sources that are not white. centres_nm (bands,): band centres.
    """
    r = np.asarray(reflectance, dtype=float)
    s = rng.uniform(*strength, (len(r), 1))
    tilt = rng.uniform(-colour, colour, (len(r), 1))
    return r + s * r.max(axis=1, keepdims=True) * (np.asarray(centres_nm, float)[None] / 550.0) ** tilt


class HighlightDetector(FeatureMLP):
    """Logit of "this spectrum contains a specular highlight" from its shape; ``threshold`` flags."""

    def __init__(
        self,
        n_features: int,
        hidden: int = 64,
        center=None,
        scale=None,
        threshold: float = np.inf,
        quantile: float = 0.995,
    ):
        super().__init__(
            n_features, 1, hidden, center, scale, settings={"threshold": float(threshold), "quantile": float(quantile)}
        )

    @property
    def threshold(self) -> float:
        return self.settings["threshold"]

    def score(self, reflectance) -> np.ndarray:
        """Logits (n,) of reflectances (n, bands) > 0: higher = more highlight-like."""
        return self.predict(shape_and_level(reflectance)[0])[:, 0]

    def is_highlight(self, reflectance) -> np.ndarray:
        """Boolean (n,): logit above the threshold."""
        return self.score(reflectance) > self.threshold

    @classmethod
    def _from_record(cls, info: dict):
        settings = json.loads(info["settings"])
        return cls(
            int(info["n_features"]), int(info["hidden"]), threshold=settings["threshold"], quantile=settings["quantile"]
        )


def fit_highlight_detector(
    reflectance, held_out, centres_nm, steps: int = 3000, hidden: int = 64, quantile: float = 0.995, seed: int = 0
) -> HighlightDetector:
    """Train on tissue reflectances (n, bands) against highlight copies of them; set the threshold
    at the ``quantile`` of the logits of ``held_out`` tissue reflectances (m, bands)."""
    r = np.asarray(reflectance, dtype=float)
    rng = np.random.default_rng(seed)
    shapes = shape_and_level(np.concatenate([r, add_highlight(r, centres_nm, rng)]))[0]
    labels = np.r_[np.zeros(len(r)), np.ones(len(r))]
    torch.manual_seed(seed)
    model = HighlightDetector(
        shapes.shape[1], hidden, shapes.mean(axis=0), shapes.std(axis=0) + 1e-6, quantile=quantile
    )
    fit_feature_mlp(
        model,
        shapes,
        labels,
        lambda logit, y: torch.nn.functional.binary_cross_entropy_with_logits(logit[:, 0], y),
        steps,
        seed=seed,
    )
    model.settings["threshold"] = float(np.quantile(model.score(held_out), quantile))
    return model
