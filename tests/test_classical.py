import numpy as np
import pytest

from ganrator import classical as C
from ganrator.config import ConfigError

import claims


@pytest.fixture(scope="module")
def small(fmnist):
    return claims.classical_subset(fmnist, seed=0)


@pytest.mark.parametrize("features, dim", [("pixels", 784), ("hog", 1296), ("lbp", 160), ("hog+pixels", 2080)])
def test_feature_extractors_shape_and_determinism(fmnist, features, dim):
    cfg = C.ClassicalConfig(features=features)
    a = C.extract_features(fmnist.x_val[:50], cfg)
    assert a.shape == (50, dim) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, C.extract_features(fmnist.x_val[:50], cfg))
    assert a.std(0).max() > 0  # not constant


@pytest.mark.parametrize("classifier", list(claims.CLASSIFIERS))
def test_each_classifier_beats_chance_clearly(small, classifier):
    """tests/claims.py: HOG + PCA-32 on 2,000 images; thresholds >= 3 std below the 5-seed mean."""
    out = claims.run_classical(small, classifier)
    assert claims.classical_learns(out), (classifier, out)  # chance is 0.10


def test_shuffled_labels_fail_the_same_check(small):
    """The control: with labels permuted there is nothing to learn, and the claim's check must say so."""
    out = claims.run_classical(small, "logreg", shuffle_labels=True)
    assert not claims.classical_learns(out) and out["val_acc"] < 0.3, out


def test_seeded_fit_is_deterministic(small):
    cfg = C.ClassicalConfig(features="lbp", classifier="random_forest", n_estimators=20, seed=3)
    assert C.fit(cfg, small).val_acc == C.fit(cfg, small).val_acc


def test_hog_beats_raw_pixels_for_linear_models(small):
    """The classical story in miniature: a descriptor helps a linear classifier."""
    assert claims.hog_gain(small) > claims.HOG_GAIN_MIN


def test_bad_config_names_choices():
    with pytest.raises(ConfigError, match="classifier='xgb' is not one of: linear_svm, svm_rbf"):
        C.ClassicalConfig(classifier="xgb")
    with pytest.raises(ConfigError, match=r"Unknown ClassicalConfig key\(s\): kernel"):
        C.ClassicalConfig.from_dict({"kernel": "rbf"})
    # Out-of-range numbers fail when the config is built, before any feature is extracted.
    with pytest.raises(ConfigError, match="pca must be >= 0, got -3"):
        C.ClassicalConfig(pca=-3)
    with pytest.raises(ConfigError, match="C must be > 0, got 0"):
        C.ClassicalConfig(C=0.0)
