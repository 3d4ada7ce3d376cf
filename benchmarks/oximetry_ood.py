"""Out-of-distribution flags of the shipped oximetry estimator, beside what a supervised classifier can do.

For each kind of outlier (saturated pixels and specular highlights made from held-out colon
spectra by :func:`oximetry.pretrain.specular_and_saturated`; tissue from the wider generic
prior) it prints the AUROC of the shipped scores against held-out colon spectra (the shape
density with its brightness limit, and the highlight detector), the share flagged by
``oximetry.estimate``'s ``ood`` rule, and - as an estimate of what the 8 noisy bands allow
at all - the 5-fold AUROC of a gradient-boosted classifier trained on labelled examples of
both classes (features: the spectrum's shape and level). An unsupervised detector cannot
be expected to beat that classifier.

Usage: python benchmarks/oximetry_ood.py [--quick] [--n 10000] [--out results.json]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/report.py


def supervised_auroc(inliers, outliers, seed: int = 0) -> float:
    """5-fold cross-validated AUROC of a HistGradientBoosting classifier on (shape, level)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    from oximetry.ood import shape_and_level

    def features(r):
        shape, level = shape_and_level(r)
        return np.c_[shape, level]

    x = np.r_[features(inliers), features(outliers)]
    label = np.r_[np.zeros(len(inliers)), np.ones(len(outliers))]
    p = cross_val_predict(
        HistGradientBoostingClassifier(max_iter=300, random_state=seed), x, label, cv=5, method="predict_proba"
    )[:, 1]
    return float(roc_auc_score(label, p))


def run(n: int, seed: int = 11) -> list[dict]:
    from oximetry import OximetrySimulator, estimate
    from oximetry.estimate import _estimator_dir, _highlight_detector, load_estimator
    from oximetry.ood import SpectrumOOD
    from oximetry.pretrain import ood_auroc, specular_and_saturated

    rng = np.random.default_rng(seed)
    colon = OximetrySimulator("colon", solver="surrogate")
    inliers = colon.simulate(colon.sample_prior(n, rng), rng)
    generic = OximetrySimulator("generic", n_quad=8)  # the surrogate covers the colon prior only
    outliers = dict(zip(("specular", "saturated"), specular_and_saturated(inliers, seed=seed)))
    outliers["generic-prior tissue"] = generic.simulate(generic.sample_prior(n, rng), rng)
    density = SpectrumOOD.from_dict(load_estimator().metadata["oximetry"]["ood"])
    detector = _highlight_detector(_estimator_dir())
    rows = [{"outliers": "in-distribution (colon)", "flagged": float(estimate(inliers, n=16)["ood"].mean())}]
    for name, r in outliers.items():
        rows.append(
            {
                "outliers": name,
                "auroc_density": ood_auroc(density, inliers, r),
                "auroc_highlight_detector": ood_auroc(detector, inliers, r),
                "flagged": float(estimate(r, n=16)["ood"].mean()),
                "auroc_supervised_classifier": supervised_auroc(inliers, r, seed),
            }
        )
    return rows


def main(argv=None) -> list[dict]:
    from report import markdown_table, write_json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1000 spectra per class")
    parser.add_argument("--n", type=int, default=10_000, help="spectra per class")
    parser.add_argument("--out", default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    rows = run(1000 if args.quick else args.n)
    print(
        markdown_table(
            rows, ["outliers", "auroc_density", "auroc_highlight_detector", "flagged", "auroc_supervised_classifier"]
        )
    )
    if args.out:
        write_json(args.out, {"quick": args.quick, "rows": rows})
    return rows


if __name__ == "__main__":
    main()
