import numpy as np
import pytest

from ganrator import classical as C
from ganrator.config import ConfigError


@pytest.fixture(scope="module")
def small(fmnist):
    return fmnist.subsample(2000 / 55000)


@pytest.mark.parametrize("features, dim", [("pixels", 784), ("hog", 1296), ("lbp", 160), ("hog+pixels", 2080)])
def test_feature_extractors_shape_and_determinism(fmnist, features, dim):
    cfg = C.ClassicalConfig(features=features)
    a = C.extract_features(fmnist.x_val[:50], cfg)
    assert a.shape == (50, dim) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, C.extract_features(fmnist.x_val[:50], cfg))
    assert a.std(0).max() > 0  # not constant


@pytest.mark.parametrize("classifier, extra", [
    ("linear_svm", {"C": 0.1}), ("svm_rbf", {}), ("logreg", {"C": 1.0}),
    ("random_forest", {"n_estimators": 50}), ("knn", {"n_neighbors": 5}), ("gboost", {"n_estimators": 30}),
])
def test_each_classifier_beats_chance_clearly(small, classifier, extra):
    cfg = C.ClassicalConfig(features="hog", pca=32, classifier=classifier, **extra)
    result = C.fit(cfg, small)
    assert result.val_acc > 0.65, (classifier, result.val_acc)  # chance is 0.10
    assert C.evaluate(result, small, "test")["acc"] > 0.65


def test_seeded_fit_is_deterministic(small):
    cfg = C.ClassicalConfig(features="lbp", classifier="random_forest", n_estimators=20, seed=3)
    assert C.fit(cfg, small).val_acc == C.fit(cfg, small).val_acc


def test_hog_beats_raw_pixels_for_linear_models(small):
    """The classical story in miniature: a descriptor helps a linear classifier."""
    pixels = C.fit(C.ClassicalConfig(features="pixels", classifier="logreg", C=0.1), small).val_acc
    hog = C.fit(C.ClassicalConfig(features="hog", classifier="logreg", C=0.1), small).val_acc
    assert hog > pixels


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
