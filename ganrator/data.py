"""Fashion-MNIST from its four IDX files into validated uint8 tensors, with a seeded stratified split.

The whole dataset is ~55 MB as uint8, so it lives as tensors (on the training device once moved);
batches are index slices, never a per-image DataLoader. Reading and splitting need only numpy (`load_arrays`),
so a study's driver can load the data without importing torch; the tensors are made where training runs.
"""
from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
COUNTS = {"train": 60000, "test": 10000}
SPLITS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist


class DataError(RuntimeError):
    """A missing, truncated or corrupted dataset file; the message names the file and where we looked."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ganrator" / "fashion-mnist"


def search_path(path: str | os.PathLike | None = None) -> list[Path]:
    """Where the files are looked for, in order: explicit path, $GANRATOR_DATA, Debian's dir, the user cache."""
    dirs = []
    if path is not None:
        dirs.append(Path(path))
    if os.environ.get("GANRATOR_DATA"):
        dirs.append(Path(os.environ["GANRATOR_DATA"]))
    dirs += [SYSTEM_DIR, cache_dir(), cache_dir() / "FashionMNIST" / "raw"]
    return dirs


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def find_files(path: str | os.PathLike | None = None) -> dict[str, Path]:
    """The first directory holding all four files wins; an explicit path that lacks them is an error."""
    dirs = search_path(path)
    for i, d in enumerate(dirs):
        found = {key: _find(d, stem) for key, stem in FILES.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
        if i == 0 and path is not None:
            missing = [FILES[k] + "[.gz]" for k, v in found.items() if v is None]
            raise DataError(f"Fashion-MNIST: {d} lacks {', '.join(missing)}")
    looked = "\n  ".join(str(d) for d in dirs)
    raise DataError(
        "Fashion-MNIST files not found. Looked in:\n  " + looked + "\n"
        "Install them with `apt-get install dataset-fashion-mnist`, set GANRATOR_DATA to a folder with the "
        "four IDX files, or call load_fashion_mnist(download=True) on a machine with internet."
    )


def read_idx(path: Path, magic: int, count: int | None, shape: tuple[int, ...] = ()) -> np.ndarray:
    """Read one IDX file (gzipped or not) and check its magic number, count, item shape and length."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: cannot read ({type(e).__name__}: {e}); the file is truncated or corrupted") from None
    ndim = len(shape) + 1
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: {len(raw)} bytes is too short for an IDX header; the file is truncated")
    found_magic = struct.unpack(">i", raw[:4])[0]
    if found_magic != magic:
        raise DataError(f"{path}: magic number {found_magic}, expected {magic}; not an IDX file of this kind")
    dims = struct.unpack(f">{ndim}i", raw[4:header])
    if count is not None and dims[0] != count:
        raise DataError(f"{path}: holds {dims[0]} items, expected {count}")
    if tuple(dims[1:]) != shape:
        raise DataError(f"{path}: item shape {tuple(dims[1:])}, expected {shape}")
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(f"{path}: {len(raw) - header} data bytes, expected {expected}; the file is truncated")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


@dataclass(frozen=True)
class FashionMNIST:
    """uint8 images (N, 1, 28, 28) and int64 labels for train / validation / test, on one device."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: float  # of the training pixels, in [0, 1]
    std: float
    source: str
    classes: tuple[str, ...] = CLASSES

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], mean: float, std: float, source: str) -> "FashionMNIST":
        """Tensors sharing the arrays' memory (load_arrays' layout: uint8 images (N, 1, 28, 28), int64 labels)."""
        import torch

        return cls(**{k: torch.from_numpy(arrays[k]) for k in SPLITS}, mean=mean, std=std, source=source)

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown split {name!r}; valid: train, val, test")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def to(self, device: str | torch.device) -> "FashionMNIST":
        """Move every tensor once; a no-op when already there."""
        import torch

        device = torch.device(device)
        if self.x_train.device == device:
            return self
        moved = {k: getattr(self, k).to(device, non_blocking=True) for k in SPLITS}
        return replace(self, **moved)

    def subsample(self, fraction: float, seed: int = 0) -> "FashionMNIST":
        """A stratified `fraction` of the training split (at least one image per class); val/test unchanged."""
        import torch

        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        if fraction == 1:
            return self
        labels = self.y_train.cpu().numpy()
        keep = max(self.num_classes, round(fraction * len(labels)))
        idx, _ = stratified_indices(labels, _per_class(labels, keep), np.random.default_rng(seed))
        idx_t = torch.from_numpy(idx).to(self.device)
        return replace(self, x_train=self.x_train[idx_t], y_train=self.y_train[idx_t])

    def __repr__(self) -> str:
        return (f"FashionMNIST(train={len(self.y_train)}, val={len(self.y_val)}, test={len(self.y_test)}, "
                f"device={self.device}, source={self.source})")


def stratified_indices(labels: np.ndarray, per_class: dict[int, int], rng: np.random.Generator
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Take `per_class[c]` random indices of each class; return (taken, rest), both sorted."""
    taken = []
    for c, k in per_class.items():
        idx = np.flatnonzero(labels == c)
        taken.append(rng.permutation(idx)[:k])
    taken_idx = np.sort(np.concatenate(taken)) if taken else np.array([], dtype=np.int64)
    rest = np.setdiff1d(np.arange(len(labels)), taken_idx, assume_unique=True)
    return taken_idx, rest


def _per_class(labels: np.ndarray, total: int) -> dict[int, int]:
    """Split `total` over classes in proportion to their counts (largest remainder)."""
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts / counts.sum() * total
    share = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - share))[: total - share.sum()]:
        share[i] += 1
    return {int(c): int(s) for c, s in zip(classes, share)}


def _download(root: Path) -> None:
    import torchvision  # only when the user asked for a download

    torchvision.datasets.FashionMNIST(str(root), train=True, download=True)
    torchvision.datasets.FashionMNIST(str(root), train=False, download=True)


@dataclass(frozen=True)
class Arrays:
    """The validated, split dataset as numpy arrays in FashionMNIST's layout, before any tensor is made."""

    arrays: dict[str, np.ndarray]  # SPLITS: uint8 images (N, 1, 28, 28), int64 labels
    mean: float
    std: float
    source: str

    def tensors(self) -> FashionMNIST:
        return FashionMNIST.from_arrays(self.arrays, self.mean, self.std, self.source)


def load_arrays(path: str | os.PathLike | None = None, val_size: int = 5000, seed: int = 0,
                download: bool = False) -> Arrays:
    """Find, validate and split Fashion-MNIST with numpy alone (load_fashion_mnist's first half)."""
    if not 0 <= val_size < COUNTS["train"]:
        raise ValueError(f"val_size must be in [0, {COUNTS['train']}), got {val_size}")
    try:
        files = find_files(path)
    except DataError:
        if not download:
            raise
        _download(cache_dir())
        files = find_files(path)

    x_tr = read_idx(files["train_images"], IMAGE_MAGIC, COUNTS["train"], (28, 28))
    y_tr = read_idx(files["train_labels"], LABEL_MAGIC, COUNTS["train"])
    x_te = read_idx(files["test_images"], IMAGE_MAGIC, COUNTS["test"], (28, 28))
    y_te = read_idx(files["test_labels"], LABEL_MAGIC, COUNTS["test"])
    for key, y in (("train_labels", y_tr), ("test_labels", y_te)):
        if y.max() >= len(CLASSES):
            raise DataError(f"{files[key]}: label {int(y.max())} out of range 0..{len(CLASSES) - 1}")

    val_idx, train_idx = stratified_indices(y_tr, _per_class(y_tr, val_size), np.random.default_rng(seed))

    def images(a: np.ndarray) -> np.ndarray:
        return np.array(a, copy=True)[:, None]  # (N, 1, 28, 28) uint8, writable

    def labels(a: np.ndarray) -> np.ndarray:
        return a.astype(np.int64)

    pixels = x_tr[train_idx].astype(np.float32) / 255.0
    arrays = {"x_train": images(x_tr[train_idx]), "y_train": labels(y_tr[train_idx]),
              "x_val": images(x_tr[val_idx]), "y_val": labels(y_tr[val_idx]),
              "x_test": images(x_te), "y_test": labels(y_te)}
    return Arrays(arrays, float(pixels.mean()), float(pixels.std()), str(files["train_images"].parent))


def load_fashion_mnist(
    path: str | os.PathLike | None = None,
    val_size: int = 5000,
    fraction: float = 1.0,
    seed: int = 0,
    device: str | torch.device = "cpu",
    download: bool = False,
) -> FashionMNIST:
    """Find, validate and split Fashion-MNIST.

    val_size: images held out from the 60k training set, stratified by class, chosen by `seed`.
    fraction: stratified share of the remaining training images kept (data-scaling studies, fast tests);
              the validation and test sets are never subsampled, so scores stay comparable.
    download: allow torchvision to fetch the files into the user cache when they are nowhere else.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    # Normalization statistics come from the full training split, so a subset trains on the same scale.
    return load_arrays(path, val_size, seed, download).tensors().subsample(fraction, seed).to(device)
