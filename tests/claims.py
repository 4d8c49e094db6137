"""The suite's accuracy claims: a small fixed config each, the threshold it must beat, and a control that cannot
learn and must fail the same check.

Thresholds are set from `python benchmarks/test_margins.py`, which runs every claim over 5 seeds in bf16 autocast
and in fp32 and prints how many standard deviations each threshold sits below the mean (docs/testing.md).
They must stay at least 3 below in both precisions, on every CPU: bf16 rounding differs between AMX,
AVX512-BF16 and AVX2-only machines. The configs are spelled out here, not taken from the trainer's defaults,
which change as the recipe improves.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ganrator import classical as C
from ganrator import train as T

# ------------------------------------------------------------------ deep: a small cnn learns in 2 epochs

SMALL_CNN = T.TrainConfig(model="cnn", model_kwargs={"width": 16, "depth": 1}, optimizer="nesterov", lr=0.1,
                          lr_schedule="onecycle", warmup_epochs=1.0, label_smoothing=0.1, aug_strength=0.0,
                          weight_decay=5e-4, batch_size=128, epochs=2, data_fraction=5000 / 55000,
                          eval_batch_size=2500, ema=0.0, tta_flip=False)
CNN_VAL_MIN = 0.78  # validation accuracy after epoch 2; chance is 0.10
CNN_TEST_MIN = 0.77


def small_cnn(seed: int = 0, amp: bool = True, lr: float | None = None) -> T.TrainConfig:
    """The claim's config; lr=0 is the control: the same run that cannot learn."""
    return dataclasses.replace(SMALL_CNN, seed=seed, amp=amp, lr=SMALL_CNN.lr if lr is None else lr)


# benchmarks/gpu_check.sh --quick: the same cnn, one epoch on a fifth of the data, must pass 50% test accuracy
GPU_QUICK = dataclasses.replace(SMALL_CNN, data_fraction=0.2, epochs=1)
GPU_QUICK_TEST_MIN = 0.50


def run_small_cnn(data, cfg: T.TrainConfig) -> dict[str, float]:
    seen: list[dict] = []
    result = T.train(cfg, data, on_epoch=seen.append)
    test = T.evaluate(result.model, data, "test", cfg.eval_batch_size, cfg.amp)
    return {"val_acc": seen[-1]["val_acc"], "val_acc_epoch_1": seen[0]["val_acc"], "test_acc": test["acc"],
            "train_loss_drop": seen[0]["train_loss"] - seen[-1]["train_loss"], "status": result.status,
            "epoch_keys": set(seen[0])}


def cnn_learns(out: dict[str, float]) -> bool:
    """The check of the claim: above both thresholds, and not worse at the end than after epoch 1."""
    return out["val_acc"] > CNN_VAL_MIN and out["test_acc"] > CNN_TEST_MIN and \
        out["val_acc"] > out["val_acc_epoch_1"] - 0.02


# ------------------------------------------------------------------ classical: every classifier beats chance

CLASSICAL_TRAIN = 2000  # training images: small, so six fits take seconds
CLASSIFIERS = {"linear_svm": {"C": 0.1}, "svm_rbf": {}, "logreg": {"C": 1.0}, "random_forest": {"n_estimators": 50},
               "knn": {"n_neighbors": 5}, "gboost": {"n_estimators": 30}}
CLASSICAL_MIN = 0.65  # validation and test accuracy; chance is 0.10


def classical_subset(data, seed: int = 0):
    """The training subset (seed 0 in the suite; the margin script varies it: most classifiers are
    deterministic, so their spread over seeds is the spread over training sets)."""
    return data.subsample(CLASSICAL_TRAIN / 55000, seed)


def run_classical(small, classifier: str, seed: int = 0, shuffle_labels: bool = False) -> dict[str, float]:
    """One HOG + PCA-32 pipeline. shuffle_labels is the control: labels permuted, nothing to learn."""
    if shuffle_labels:
        y = small.y_train[np.random.default_rng(seed).permutation(len(small.y_train))]
        small = dataclasses.replace(small, y_train=y)
    cfg = C.ClassicalConfig(features="hog", pca=32, classifier=classifier, seed=seed, **CLASSIFIERS[classifier])
    result = C.fit(cfg, small)
    return {"val_acc": result.val_acc, "test_acc": C.evaluate(result, small, "test")["acc"]}


def classical_learns(out: dict[str, float]) -> bool:
    return out["val_acc"] > CLASSICAL_MIN and out["test_acc"] > CLASSICAL_MIN


def hog_gain(small, seed: int = 0) -> float:
    """Validation accuracy of logistic regression on HOG minus on raw pixels: a descriptor helps a linear model."""
    def acc(features: str) -> float:
        return C.fit(C.ClassicalConfig(features=features, classifier="logreg", C=0.1, seed=seed), small).val_acc
    return acc("hog") - acc("pixels")


HOG_GAIN_MIN = 0.0
