"""Published Fashion-MNIST results, cited as reference rows. Kept apart from our numbers and always marked."""
from __future__ import annotations

import pandas as pd

# (method, family, test accuracy, source). BENCHMARK_TABLE is the table of submitted results in the README of
# github.com/zalandoresearch/fashion-mnist, whose maintainers say they did not verify them.
BENCHMARK_TABLE = "Fashion-MNIST repository README (as of 2026-11), benchmark table (unverified submissions)"
REFERENCES = [
    ("SVC, RBF kernel, C=10, raw pixels", "classical", 0.897,
     "Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747, Table 3 (scikit-learn benchmark, mean of 5 runs)"),
    ("HOG + SVM", "classical", 0.926, f"{BENCHMARK_TABLE}, row 'HOG+SVM' (preprocessing HOG), by @subalde"),
    ("2 conv + pooling", "deep", 0.916, f"{BENCHMARK_TABLE}, row '2 Conv+pooling', TensorFlow's layers tutorial"),
    ("2 conv + pooling + batch norm", "deep", 0.934,
     f"{BENCHMARK_TABLE}, row '2 Conv+pooling+BN' (no preprocessing), by @khanguyen1207"),
    ("WRN-28-10 + random erasing", "deep", 0.963,
     "Zhong et al. 2017, Random Erasing Data Augmentation, arXiv:1708.04896; the same row in the " + BENCHMARK_TABLE),
]


def reference_table() -> pd.DataFrame:
    return pd.DataFrame([{"method": m, "family": f, "test acc (%)": f"{100 * a:.1f}",
                          "source": s} for m, f, a, s in REFERENCES])
