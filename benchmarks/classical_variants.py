"""One-ingredient-at-a-time variants of the classical HOG + RBF SVM pipeline, scored on VALIDATION only.

Each variant is a few overrides of BASE (today's recipe: HOG 4x4 + raw pixels, standardized, PCA 150, C 10).
The test set is never read here; `python -m ganrator.classical ... --test` reads it once for the chosen one.

    OMP_NUM_THREADS=1 python benchmarks/classical_variants.py --train-images 20000 --set hog_binning='"soft"'
    OMP_NUM_THREADS=1 python benchmarks/classical_variants.py --train-images 55000 --only base,cell2_7 \
        --set hog_binning='"soft"' --set features='"hog+lbp+pixels"'      # confirm the best on all the data

Results and timings: benchmarks/README.md, "The strongest classical pipeline".
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from ganrator import classical as C
from ganrator.data import load_fashion_mnist

BASE = {"features": "hog+pixels", "pca": 150, "classifier": "svm_rbf", "C": 10.0}
VARIANTS: dict[str, dict] = {
    "base": {},
    "sqrt": {"power": 0.5},
    "soft": {"hog_binning": "soft"},
    "cell2_7": {"hog_cell2": 7},
    "l1sqrt": {"hog_block_norm": "L1-sqrt"},
    "whiten": {"pca_whiten": True},
    "pca100": {"pca": 100},
    "pca250": {"pca": 250},
    "nopca": {"pca": 0},
    "lbp": {"features": "hog+lbp+pixels"},
    "hog_only_sqrt": {"features": "hog", "power": 0.5},
    "flip": {"flip": True},
    "C20": {"C": 20.0},
    "C5": {"C": 5.0},
    "orient12": {"hog_orientations": 12},
    "orient6": {"hog_orientations": 6},
    "cell3": {"hog_cell": 3},
    "flip_predict": {"flip_predict": True},
    "pca200": {"pca": 200},
    "lbp_grid7": {"lbp_grid": 7},
    "lbp_r2": {"lbp_points": 16, "lbp_radius": 2.0},
    "gamma_half": {"gamma": 0.0003},  # sklearn's "scale" is 0.00058 for hog+lbp+pixels, PCA 150, 20k images
    "gamma_double": {"gamma": 0.0012},
    "flip_both": {"flip": True, "flip_predict": True},
    "norm_l2": {"hog_block_norm": "L2"},
    "block3": {"hog_block": 3},
    "signed9": {"hog_signed": True},
    "signed18": {"hog_signed": True, "hog_orientations": 18},
    "signed12": {"hog_signed": True, "hog_orientations": 12},
    "no_standardize": {"standardize": False},
    "lbp_grid3": {"lbp_grid": 3},
    "lbp_grid5": {"lbp_grid": 5},
    "pca120": {"pca": 120},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-images", type=int, default=20000, help="stratified subset of the 55,000")
    parser.add_argument("--only", help=f"comma-separated variant names; valid: {', '.join(VARIANTS)}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="override the base for every variant, e.g. --set power=0.5 (repeatable)")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        print(f"error: --only {','.join(unknown)}: unknown variant; valid: {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    base = dict(BASE)
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            base[key] = json.loads(value)
        except json.JSONDecodeError:
            print(f"error: --set {item}: the value is not JSON (write e.g. --set power=0.5 or "
                  f"--set hog_binning='\"soft\"')", file=sys.stderr)
            return 2
    torch.set_num_threads(1)  # the SVM is single-threaded anyway; feature extraction must not crowd the CPU
    data = load_fashion_mnist()
    fraction = min(1.0, args.train_images / len(data.y_train))
    print(f"base {base}, {args.train_images} training images, validation {len(data.y_val)}", flush=True)
    for name in names:
        try:
            cfg = C.ClassicalConfig.from_dict({**base, **VARIANTS[name], "data_fraction": fraction})
        except ValueError as e:
            print(f"error: variant {name}: {e}", file=sys.stderr)
            return 2
        t0 = time.perf_counter()
        result = C.fit(cfg, data)
        print(f"| {name} | {VARIANTS[name]} | {100 * result.val_acc:.2f}% | {result.feature_dim} | "
              f"{time.perf_counter() - t0:.0f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
