"""Published Fashion-MNIST results, cited as reference rows. Kept apart from our numbers and always marked."""
from __future__ import annotations

import pandas as pd

# (method, family, test accuracy, source)
REFERENCES = [
    ("SVC, RBF kernel, C=10, raw pixels", "classical", 0.897,
     "Xiao, Rasul & Vollgraf 2017, Fashion-MNIST paper, scikit-learn benchmark"),
    ("HOG + SVM", "classical", 0.926, "reported in the Fashion-MNIST repository's benchmark list"),
    ("2-conv-layer CNNs", "deep", None,
     "Fashion-MNIST repository's benchmark list: about 91-93% for 2-conv nets with pooling"),
    ("WRN-28-10 + random erasing", "deep", 0.963, "Zhong et al. 2017, Random Erasing Data Augmentation"),
]


def reference_table() -> pd.DataFrame:
    return pd.DataFrame([{"method": m, "family": f, "test acc (%)": "91-93" if a is None else f"{100 * a:.1f}",
                          "source": s} for m, f, a, s in REFERENCES])
