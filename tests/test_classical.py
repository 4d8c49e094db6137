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


# ------------------------------------------------------------------ the vectorised HOG and the new options

@pytest.mark.parametrize("cell, orientations, block, norm", [(4, 9, 2, "L2-Hys"), (7, 12, 2, "L2"),
                                                             (3, 8, 3, "L1-sqrt"), (4, 6, 1, "L1")])
def test_hard_binned_hog_equals_scikit_image(fmnist, cell, orientations, block, norm):
    """The batch implementation replaced a per-image skimage loop; it must give the same descriptor
    (3-pixel cells drop the 28th row and column, as skimage does)."""
    from skimage.feature import hog

    x = fmnist.x_val[:20].numpy().reshape(-1, 28, 28)
    ref = np.stack([hog(im, orientations=orientations, pixels_per_cell=(cell, cell),
                        cells_per_block=(block, block), block_norm=norm) for im in x])
    ours = C.hog_blocks(x, cell, orientations, block, norm, "hard").reshape(len(x), -1)
    assert ours.shape == ref.shape and np.allclose(ours, ref, atol=1e-6)


@pytest.mark.parametrize("points, radius", [(8, 1.0), (16, 2.0)])
def test_batch_lbp_codes_match_scikit_image(fmnist, points, radius):
    """The batch LBP replaced skimage's per-image call; only knife-edge pixels (an interpolated neighbour equal
    to the centre up to rounding) may differ."""
    from skimage.feature import local_binary_pattern

    x = fmnist.x_val[:40].numpy().reshape(-1, 28, 28)
    ref = np.stack([local_binary_pattern(im, points, radius, method="uniform") for im in x]).astype(int)
    ours = C.lbp_codes(x, points, radius)
    assert ours.shape == ref.shape and (ours == ref).mean() > 0.9995
    assert set(np.unique(ours)) <= set(range(points + 2))


def test_soft_hog_of_a_flipped_image_is_the_mirrored_hog(fmnist):
    """Flipping an image mirrors its block grid, the cells inside each block and the orientation bins
    (angle -> 180 - angle). Soft votes split around bin centres, so this holds exactly; hard bins are
    [i, i + 1) intervals, whose edges do not mirror, so the same check fails for them (the control)."""
    x = fmnist.x_val[:100].numpy().reshape(-1, 28, 28)

    def mirrored_gap(binning):
        a = C.hog_blocks(x, 4, 9, 2, binning=binning)
        b = C.hog_blocks(x[:, :, ::-1], 4, 9, 2, binning=binning)
        return np.abs(b - a[:, :, ::-1, :, ::-1, ::-1]).max()

    assert mirrored_gap("soft") < 1e-9
    assert mirrored_gap("hard") > 0.05


def test_hog_options_shapes_and_square_root(fmnist):
    x = fmnist.x_val[:30]
    two = C.extract_features(x, C.ClassicalConfig(features="hog", hog_cell2=7, hog_binning="soft"))
    assert two.shape == (30, 1296 + 324) and two.flags.c_contiguous
    plain = C.extract_features(x, C.ClassicalConfig(features="hog+pixels"))
    rooted = C.extract_features(x, C.ClassicalConfig(features="hog+pixels", power=0.5))
    assert (rooted >= 0).all() and np.allclose(rooted[:, :1296], np.sqrt(plain[:, :1296]), atol=1e-6)
    assert np.array_equal(rooted[:, 1296:], plain[:, 1296:])  # raw pixels are not histograms: left as they are


def test_features_in_chunks_equal_one_pass(fmnist, monkeypatch):
    """Extraction runs in chunks to bound memory; the chunk boundaries must not show in the features."""
    cfg = C.ClassicalConfig(features="hog+lbp+pixels", hog_binning="soft", hog_cell2=7)
    whole = C.extract_features(fmnist.x_val[:50], cfg)
    monkeypatch.setattr(C, "EXTRACT_CHUNK", 16)
    assert np.array_equal(C.extract_features(fmnist.x_val[:50], cfg), whole)


def test_flip_trains_on_twice_the_images_and_changes_the_fit(small):
    base = C.ClassicalConfig(features="hog", pca=32, classifier="knn", n_neighbors=1)
    plain, flipped = C.fit(base, small), C.fit(C.ClassicalConfig(**{**base.to_dict(), "flip": True}), small)
    assert flipped.pipeline[0].n_samples_seen_ == 2 * len(small.y_train) == 2 * plain.pipeline[0].n_samples_seen_
    assert flipped.val_acc != plain.val_acc and flipped.val_acc > 0.65


def test_new_options_fail_loudly():
    with pytest.raises(ConfigError, match="hog_binning='linear' is not one of: hard, soft"):
        C.ClassicalConfig(hog_binning="linear")
    with pytest.raises(ConfigError, match="hog_block_norm='L3' is not one of: L2-Hys, L2, L1, L1-sqrt"):
        C.ClassicalConfig(hog_block_norm="L3")
    with pytest.raises(ConfigError, match="hog_cell2=20 leaves fewer than hog_block=2 cells.*use at most 14"):
        C.ClassicalConfig(hog_cell2=20)
    with pytest.raises(ConfigError, match="power must be > 0, got 0"):
        C.ClassicalConfig(power=0.0)


def test_cli_rejects_a_bad_flag_in_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        C.main(["--hog-binning", "linear"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "--hog-binning: invalid choice: 'linear' (choose from" in err
    assert "Traceback" not in err
    assert C.main(["--hog-cell2", "20"]) == 2
    assert "error: hog_cell2=20 leaves fewer than hog_block=2" in capsys.readouterr().err


def test_flip_predict_answers_the_same_for_an_image_and_its_mirror(small):
    """Summing the scores of an image and its mirror makes the prediction mirror-invariant, exactly;
    the plain predictions of the same fitted pipeline are not (the control)."""
    cfg = C.ClassicalConfig(features="hog", hog_binning="soft", pca=32, classifier="knn", n_neighbors=5)
    pipeline = C.fit(cfg, small).pipeline
    x = small.x_val[:1000]
    tta = C.ClassicalConfig(**{**cfg.to_dict(), "flip_predict": True})
    assert np.array_equal(C.predict(pipeline, tta, x), C.predict(pipeline, tta, C.mirror(x)))
    assert not np.array_equal(C.predict(pipeline, cfg, x), C.predict(pipeline, cfg, C.mirror(x)))


def test_a_config_lists_only_its_own_classifier_s_settings():
    import dataclasses

    assert set(C.CLASSIFIER_SETTINGS) == set(C.CLASSIFIERS)
    fields = {f.name for f in dataclasses.fields(C.ClassicalConfig)}
    assert all(set(keys) <= fields for keys in C.CLASSIFIER_SETTINGS.values())
    shown = C.used_settings(dataclasses.asdict(C.ClassicalConfig(classifier="gboost", features="hog", pca=50)))
    assert shown["learning_rate"] == 0.1 and shown["pca"] == 50 and "C" not in shown and "n_neighbors" not in shown
