"""Classical computer vision baselines: hand-made descriptors (raw pixels, HOG, LBP) with optional PCA, and
scikit-learn classifiers (linear and RBF SVM, logistic regression, random forest, k-NN, gradient boosting).
Both descriptors are computed over the whole batch at once (no per-image Python loop).

A fit is one-shot (no epochs): `fit(cfg, data)` returns validation accuracy and the fitted pipeline, which
`evaluate(result, data, "test")` scores. Usable alone, or as trials of the same search machinery.

    python -m ganrator.classical --features hog --pca 128 --classifier svm_rbf --test
    python -m ganrator.classical --features hog+lbp+pixels --hog-binning soft --hog-cell2 7 --pca 150 --test  # best
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import config as config_lib
from .data import FashionMNIST, load_fashion_mnist

FEATURES = ("pixels", "hog", "lbp", "hog+lbp", "hog+pixels", "hog+lbp+pixels")
CLASSIFIERS = ("linear_svm", "svm_rbf", "logreg", "random_forest", "knn", "gboost")
BLOCK_NORMS = ("L2-Hys", "L2", "L1", "L1-sqrt")
BINNINGS = ("hard", "soft")


# Each classifier's own settings. A config stores every classifier's; those of the others go unused.
CLASSIFIER_SETTINGS = {"linear_svm": ("C",), "svm_rbf": ("C", "gamma", "gamma_factor"), "logreg": ("C",),
                       "random_forest": ("n_estimators", "max_depth", "n_jobs"), "knn": ("n_neighbors", "n_jobs"),
                       "gboost": ("learning_rate", "n_estimators", "max_depth")}


def used_settings(config: dict[str, Any]) -> dict[str, Any]:
    """A stored config without the settings of the classifiers it does not use."""
    own = set(CLASSIFIER_SETTINGS.get(config.get("classifier"), ()))
    unused = {k for keys in CLASSIFIER_SETTINGS.values() for k in keys} - own
    return {k: v for k, v in config.items() if k not in unused}


@dataclass
class ClassicalConfig:
    """A descriptor + classifier pipeline. Every field is also a `python -m ganrator.classical` flag."""

    features: str = "hog"
    hog_orientations: int = 9
    hog_cell: int = 4  # pixels per HOG cell
    hog_block: int = 2  # cells per HOG block
    hog_block_norm: str = "L2-Hys"
    hog_binning: str = "hard"  # hard: one orientation bin per pixel (as skimage); soft: split between two
    hog_signed: bool = False  # orientations over 360 degrees (gradient polarity kept) instead of 180
    hog_cell2: int = 0  # pixels per cell of a second, concatenated HOG (a coarser layout); 0 = none
    power: float = 1.0  # HOG and LBP histograms raised to this power; 0.5 = square root (Hellinger kernel)
    lbp_points: int = 8  # neighbours of the uniform LBP code
    lbp_radius: float = 1.0
    lbp_grid: int = 4  # LBP histograms over a grid x grid of regions
    standardize: bool = True  # zero mean, unit variance per feature before PCA / the classifier
    pca: int = 0  # PCA components after standardization; 0 = none
    pca_whiten: bool = False  # PCA components scaled to unit variance
    flip: bool = False  # also train on horizontally flipped copies of the training images (twice the fit data)
    flip_predict: bool = False  # score each image and its mirror, predict the class of the summed scores
    classifier: str = "svm_rbf"
    C: float = 10.0  # inverse regularization of the SVMs and logistic regression
    gamma: float = 0.0  # RBF kernel width; 0 = sklearn's "scale" (1 / (features x variance of the SVM's input))
    gamma_factor: float = 1.0  # multiplies "scale" when gamma is 0: a grid over gamma that follows the features
    n_estimators: int = 200  # trees (random forest) or boosting iterations
    max_depth: int = 0  # 0 = unlimited (forest) / sklearn default (boosting)
    n_neighbors: int = 5
    learning_rate: float = 0.1  # gradient boosting
    data_fraction: float = 1.0  # stratified share of the training split used
    val_size: int = 5000
    data_seed: int = 0
    seed: int = 0
    n_jobs: int = 1  # threads for forest / k-NN

    CHOICES = {"features": FEATURES, "classifier": CLASSIFIERS, "hog_block_norm": BLOCK_NORMS,
               "hog_binning": BINNINGS}
    MINIMA = {"hog_orientations": 1, "hog_cell": 1, "hog_block": 1, "hog_cell2": 0, "lbp_points": 1, "lbp_grid": 1,
              "pca": 0, "gamma": 0, "n_estimators": 1, "max_depth": 0, "n_neighbors": 1, "n_jobs": -1}

    def __post_init__(self):
        for key, valid in self.CHOICES.items():
            if getattr(self, key) not in valid:
                raise config_lib.ConfigError(f"{key}={getattr(self, key)!r} is not one of: {', '.join(valid)}")
        if not 0 < self.data_fraction <= 1:
            raise config_lib.ConfigError(f"data_fraction must be in (0, 1], got {self.data_fraction}")
        # Checked here, before minutes of feature extraction, not by scikit-learn at fit time.
        for key, low in self.MINIMA.items():
            if getattr(self, key) < low:
                raise config_lib.ConfigError(f"{key} must be >= {low:g}, got {getattr(self, key)}")
        for key in ("C", "learning_rate", "lbp_radius", "power", "gamma_factor"):
            if getattr(self, key) <= 0:
                raise config_lib.ConfigError(f"{key} must be > 0, got {getattr(self, key)}")
        # Every HOG must fit a whole block into a 28-pixel image, or extraction would fail minutes into a run.
        for key in ("hog_cell", "hog_cell2"):
            if getattr(self, key) and 28 // getattr(self, key) < self.hog_block:
                raise config_lib.ConfigError(f"{key}={getattr(self, key)} leaves fewer than hog_block={self.hog_block}"
                                             f" cells across a 28-pixel image; use at most {28 // self.hog_block}")

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "") -> "ClassicalConfig":
        return config_lib.from_dict(cls, values, where)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _orientation_votes(x: np.ndarray, orientations: int, binning: str, signed: bool = False):
    """Per-pixel gradient magnitude and (bin, weight) votes, as scikit-image computes them for `hard`, unsigned."""
    g_row = np.zeros_like(x)
    g_col = np.zeros_like(x)
    g_row[:, 1:-1, :] = x[:, 2:, :] - x[:, :-2, :]
    g_col[:, :, 1:-1] = x[:, :, 2:] - x[:, :, :-2]
    magnitude = np.hypot(g_col, g_row)
    # Signed keeps the edge's polarity: on a black background it tells on which side the garment lies.
    span = 360.0 if signed else 180.0
    angle = np.rad2deg(np.arctan2(g_row, g_col)) % span
    width = span / orientations
    if binning == "hard":  # bin i holds [i, i + 1) * width, as skimage.feature.hog
        return [(np.minimum((angle // width).astype(np.int64), orientations - 1), magnitude)]
    # Linear interpolation between the two nearest bin centres, (i + 0.5) * width: an edge near a bin boundary
    # no longer jumps between bins, and the votes mirror exactly under a horizontal flip.
    pos = angle / width - 0.5
    low = np.floor(pos)
    frac = pos - low
    low = low.astype(np.int64) % orientations
    return [(low, magnitude * (1 - frac)), ((low + 1) % orientations, magnitude * frac)]


def _normalize_blocks(blocks: np.ndarray, method: str, eps: float = 1e-5) -> np.ndarray:
    """skimage.feature.hog's block normalisations, over the last three axes (cells, cells, orientations)."""
    axes = (-3, -2, -1)
    if method in ("L1", "L1-sqrt"):
        out = blocks / (np.abs(blocks).sum(axes, keepdims=True) + eps)
        return np.sqrt(out) if method == "L1-sqrt" else out
    out = blocks / np.sqrt((blocks ** 2).sum(axes, keepdims=True) + eps ** 2)
    if method == "L2-Hys":
        out = np.minimum(out, 0.2)
        out = out / np.sqrt((out ** 2).sum(axes, keepdims=True) + eps ** 2)
    return out


def hog_blocks(images: np.ndarray, cell: int, orientations: int, block: int, block_norm: str = "L2-Hys",
               binning: str = "hard", signed: bool = False) -> np.ndarray:
    """HOG of (N, H, W) images, vectorised over the batch: (N, blocks_y, blocks_x, block, block, orientations).

    With binning="hard" and its defaults it equals skimage.feature.hog (cells averaged, trailing pixels that fill
    no whole cell dropped), without a Python loop over images."""
    x = np.asarray(images, dtype=np.float64)
    n, h, w = x.shape
    cy, cx = h // cell, w // cell
    if cy < block or cx < block:
        raise ValueError(f"hog_cell={cell} with hog_block={block} needs images of at least {block * cell} pixels")
    # Index of each pixel's cell; pixels past the last whole cell are dropped, as skimage does.
    cell_y = np.minimum(np.arange(h) // cell, cy)
    cell_x = np.minimum(np.arange(w) // cell, cx)
    inside = (cell_y[:, None] < cy) & (cell_x[None, :] < cx)
    cell_index = (cell_y[:, None] * cx + cell_x[None, :])[inside]
    hist = np.zeros(n * cy * cx * orientations)
    image_offset = (np.arange(n) * cy * cx)[:, None]
    for bins, weights in _orientation_votes(x, orientations, binning, signed):
        flat = ((image_offset + cell_index[None, :]) * orientations + bins[:, inside]).ravel()
        hist += np.bincount(flat, weights=weights[:, inside].ravel(), minlength=hist.size)
    hist = hist.reshape(n, cy, cx, orientations) / (cell * cell)
    by, bx = cy - block + 1, cx - block + 1
    blocks = np.stack([np.stack([hist[:, i:i + by, j:j + bx] for j in range(block)], axis=3)
                       for i in range(block)], axis=3)  # (n, by, bx, block_i, block_j, orientations)
    return _normalize_blocks(blocks, block_norm)


def hog_features(images: np.ndarray, cfg: ClassicalConfig) -> np.ndarray:
    """(N, D) HOG at `hog_cell`, then at `hog_cell2` if set: fine and coarse spatial layouts side by side."""
    cells = [cfg.hog_cell] + ([cfg.hog_cell2] if cfg.hog_cell2 else [])
    return np.concatenate([hog_blocks(images, c, cfg.hog_orientations, cfg.hog_block, cfg.hog_block_norm,
                                      cfg.hog_binning, cfg.hog_signed).reshape(len(images), -1) for c in cells],
                          axis=1).astype(np.float32)


def lbp_codes(images: np.ndarray, points: int, radius: float) -> np.ndarray:
    """Uniform LBP codes (0..points + 1) of (N, H, W) images, as skimage's local_binary_pattern(method="uniform")
    computes them, one shifted copy of the batch per circle point instead of a loop over pixels and images.
    Rounding may differ from skimage's where an interpolated neighbour equals the centre (a few pixels in 10^5)."""
    x = np.asarray(images, dtype=np.float64)
    n, h, w = x.shape
    pad = int(np.ceil(radius)) + 1
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))  # zeros outside, as skimage's constant mode

    def shifted(dy: int, dx: int) -> np.ndarray:
        return padded[:, pad + dy:pad + dy + h, pad + dx:pad + dx + w]

    angles = 2 * np.pi * np.arange(points, dtype=np.float64) / points
    ones = np.zeros(x.shape, dtype=np.int16)
    changes = np.zeros(x.shape, dtype=np.int16)
    previous = None
    for r, c in zip(np.round(-radius * np.sin(angles), 5), np.round(radius * np.cos(angles), 5)):
        r0, c0, r1, c1 = int(np.floor(r)), int(np.floor(c)), int(np.ceil(r)), int(np.ceil(c))
        dr, dc = r - r0, c - c0
        top = (1 - dc) * shifted(r0, c0) + dc * shifted(r0, c1)
        bottom = (1 - dc) * shifted(r1, c0) + dc * shifted(r1, c1)
        bit = ((1 - dr) * top + dr * bottom) - x >= 0
        ones += bit
        if previous is not None:  # skimage counts transitions along the circle without closing it
            changes += bit != previous
        previous = bit
    return np.where(changes <= 2, ones, points + 1).astype(np.int64)


def lbp_features(images: np.ndarray, cfg: ClassicalConfig) -> np.ndarray:
    """Uniform LBP codes, histogrammed per region of a grid (spatial layout matters for clothing)."""
    bins = cfg.lbp_points + 2  # uniform patterns + one "non-uniform" bin
    codes = lbp_codes(images, cfg.lbp_points, cfg.lbp_radius)
    n, h, w = codes.shape
    edges_y = np.linspace(0, h, cfg.lbp_grid + 1).astype(int)
    edges_x = np.linspace(0, w, cfg.lbp_grid + 1).astype(int)
    region = (np.searchsorted(edges_y, np.arange(h), side="right") - 1)[:, None] * cfg.lbp_grid + \
        (np.searchsorted(edges_x, np.arange(w), side="right") - 1)[None, :]
    flat = ((np.arange(n)[:, None, None] * cfg.lbp_grid ** 2 + region) * bins + codes).ravel()
    hist = np.bincount(flat, minlength=n * cfg.lbp_grid ** 2 * bins).reshape(n, -1)
    return (hist / (h * w / cfg.lbp_grid ** 2)).astype(np.float32)


EXTRACT_CHUNK = 8192  # images per extraction pass: bounds each float64 temporary of the batch code to ~50 MB


def extract_features(images, cfg: ClassicalConfig) -> np.ndarray:
    """(N, D) float32 descriptors of uint8 images shaped (N, 1, H, W) or (N, H, W), tensor or array."""
    x = images.cpu().numpy() if hasattr(images, "cpu") else np.asarray(images)
    x = x.reshape(len(x), x.shape[-2], x.shape[-1])
    if len(x) > EXTRACT_CHUNK:
        return np.concatenate([extract_features(x[i:i + EXTRACT_CHUNK], cfg)
                               for i in range(0, len(x), EXTRACT_CHUNK)])
    parts = []
    for name in cfg.features.split("+"):
        if name == "pixels":
            parts.append(x.reshape(len(x), -1).astype(np.float32) / 255.0)
        else:
            hist = hog_features(x, cfg) if name == "hog" else lbp_features(x, cfg)
            parts.append(hist if cfg.power == 1 else hist ** np.float32(cfg.power))
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def make_pipeline(cfg: ClassicalConfig):
    """Optional standardization -> optional PCA -> classifier."""
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline as sk_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, LinearSVC

    clf = {
        "linear_svm": lambda: LinearSVC(C=cfg.C, dual="auto", max_iter=5000, random_state=cfg.seed),
        "svm_rbf": lambda: SVC(C=cfg.C, kernel="rbf", gamma=cfg.gamma or "scale", cache_size=2000),
        "logreg": lambda: LogisticRegression(C=cfg.C, max_iter=2000),
        "random_forest": lambda: RandomForestClassifier(n_estimators=cfg.n_estimators, max_depth=cfg.max_depth or None,
                                                        n_jobs=cfg.n_jobs, random_state=cfg.seed),
        "knn": lambda: KNeighborsClassifier(n_neighbors=cfg.n_neighbors, n_jobs=cfg.n_jobs),
        "gboost": lambda: HistGradientBoostingClassifier(learning_rate=cfg.learning_rate, max_iter=cfg.n_estimators,
                                                         max_depth=cfg.max_depth or None, random_state=cfg.seed),
    }[cfg.classifier]()
    steps = ([StandardScaler()] if cfg.standardize else []) + \
        ([PCA(cfg.pca, whiten=cfg.pca_whiten, random_state=cfg.seed)] if cfg.pca else []) + [clf]
    return sk_pipeline(*steps)


@dataclass
class ClassicalResult:
    status: str  # completed
    val_acc: float
    fit_seconds: float  # feature extraction + fit
    feature_dim: int
    pipeline: Any
    config: ClassicalConfig


def fit(cfg: ClassicalConfig, data: FashionMNIST) -> ClassicalResult:
    if cfg.data_fraction < 1:
        data = data.subsample(cfg.data_fraction, cfg.data_seed)
    t0 = time.perf_counter()
    x_train = extract_features(data.x_train, cfg)
    y_train = data.y_train.cpu().numpy()
    if cfg.flip:  # a mirrored garment is the same class
        x_train = np.concatenate([x_train, extract_features(mirror(data.x_train), cfg)])
        y_train = np.concatenate([y_train, y_train])
    pipeline = make_pipeline(cfg)
    if cfg.classifier == "svm_rbf" and not cfg.gamma and cfg.gamma_factor != 1:
        # "scale" is computed on the SVM's own input, after standardization and PCA
        inputs = pipeline[:-1].fit_transform(x_train) if len(pipeline) > 1 else x_train
        pipeline[-1].set_params(gamma=cfg.gamma_factor / (inputs.shape[1] * inputs.var()))
        pipeline[-1].fit(inputs, y_train)
    else:
        pipeline.fit(x_train, y_train)
    seconds = time.perf_counter() - t0
    val_acc = float((predict(pipeline, cfg, data.x_val) == data.y_val.cpu().numpy()).mean())
    return ClassicalResult("completed", val_acc, seconds, x_train.shape[1], pipeline, cfg)


def mirror(images):
    """Horizontally flipped images (the last axis is the width), tensor or array."""
    return images.flip(-1) if hasattr(images, "flip") else np.ascontiguousarray(np.asarray(images)[..., ::-1])


def predict(pipeline, cfg: ClassicalConfig, images) -> np.ndarray:
    """Class labels; with `flip_predict`, of the classifier's scores for each image and its mirror summed
    (test-time flipping: a second opinion at the cost of one more feature extraction, no larger fit)."""
    x = extract_features(images, cfg)
    if not cfg.flip_predict:
        return pipeline.predict(x)
    score = pipeline.decision_function if hasattr(pipeline, "decision_function") else pipeline.predict_proba
    return pipeline.classes_[(score(x) + score(extract_features(mirror(images), cfg))).argmax(1)]


def evaluate(result: ClassicalResult, data: FashionMNIST, split: str = "test", per_image: bool = False) -> dict:
    """Accuracy on `split`; per_image: also `correct`, a bool per image in the split's order (as the deep
    trainer's evaluate), for paired tests against another model on the same images."""
    x, y = data.split(split)
    correct = predict(result.pipeline, result.config, x) == y.cpu().numpy()
    return {"acc": float(correct.mean()), **({"correct": correct} if per_image else {})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganrator.classical", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    config_lib.add_dataclass_flags(parser, ClassicalConfig)
    parser.add_argument("--data-dir")
    parser.add_argument("--test", action="store_true", help="evaluate on the test set at the end")
    args = parser.parse_args(argv)
    try:
        cfg = config_lib.pick(ClassicalConfig, args)
        data = load_fashion_mnist(args.data_dir, val_size=cfg.val_size, seed=cfg.data_seed)
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{cfg.features} + {cfg.classifier} on {len(data.y_train) if cfg.data_fraction == 1 else cfg.data_fraction}"
          f" training images ...", flush=True)
    result = fit(cfg, data)
    print(f"val acc {100 * result.val_acc:.2f}%  ({result.feature_dim} features, fit {result.fit_seconds:.0f}s)")
    if args.test:
        t0 = time.perf_counter()
        print(f"test acc {100 * evaluate(result, data)['acc']:.2f}%  (predict {time.perf_counter() - t0:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
