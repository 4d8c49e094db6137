import gzip
import shutil

import numpy as np
import pytest
import torch

from ganrator import data as data_lib
from ganrator.data import DataError, load_fashion_mnist
from conftest import make_idx_dir, write_idx


def test_real_dataset_is_validated_and_split(fmnist):
    assert (len(fmnist.y_train), len(fmnist.y_val), len(fmnist.y_test)) == (55000, 5000, 10000)
    assert fmnist.x_train.dtype == torch.uint8 and fmnist.x_train.shape[1:] == (1, 28, 28)
    assert fmnist.classes[0] == "T-shirt/top" and fmnist.num_classes == 10
    # stratified: exactly 500 validation images per class
    assert torch.bincount(fmnist.y_val, minlength=10).tolist() == [500] * 10
    assert 0.25 < fmnist.mean < 0.32 and 0.3 < fmnist.std < 0.4


def test_split_is_seeded_and_disjoint(idx_dir):
    a = load_fashion_mnist(idx_dir, seed=1)
    b = load_fashion_mnist(idx_dir, seed=1)
    c = load_fashion_mnist(idx_dir, seed=2)
    assert torch.equal(a.x_val, b.x_val) and not torch.equal(a.x_val, c.x_val)
    # No validation image also sits in train: the fixture's pixels are random, so rows are unique.
    train_rows = {bytes(r) for r in a.x_train.flatten(1).numpy()[:20000]}
    assert not any(bytes(r) in train_rows for r in a.x_val.flatten(1).numpy())


def test_fraction_is_stratified(idx_dir):
    ds = load_fashion_mnist(idx_dir, fraction=1 / 32)
    counts = torch.bincount(ds.y_train, minlength=10)
    assert counts.sum() == round(55000 / 32)
    assert counts.max() - counts.min() <= 1
    assert len(ds.y_val) == 5000 and len(ds.y_test) == 10000  # evaluation sets never shrink


def test_uncompressed_files_and_env_var(tmp_path, monkeypatch):
    make_idx_dir(tmp_path / "plain", gz=False)
    monkeypatch.setenv("GANRATOR_DATA", str(tmp_path / "plain"))
    ds = load_fashion_mnist()
    assert ds.source == str(tmp_path / "plain")


def _copy(idx_dir, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(idx_dir, d)
    return d


def test_missing_file_names_it_and_where_we_looked(idx_dir, tmp_path):
    d = _copy(idx_dir, tmp_path)
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"lacks t10k-labels-idx1-ubyte\[\.gz\]"):
        load_fashion_mnist(d)


def test_nothing_found_lists_search_path(tmp_path, monkeypatch):
    monkeypatch.setattr(data_lib, "SYSTEM_DIR", tmp_path / "none")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GANRATOR_DATA", raising=False)
    with pytest.raises(DataError) as e:
        load_fashion_mnist()
    assert str(tmp_path / "none") in str(e.value) and "apt-get install dataset-fashion-mnist" in str(e.value)


def test_truncated_gzip(idx_dir, tmp_path):
    d = _copy(idx_dir, tmp_path)
    f = d / "train-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: cannot read .*truncated or corrupted"):
        load_fashion_mnist(d)


def test_truncated_payload(idx_dir, tmp_path):
    d = _copy(idx_dir, tmp_path)
    f = d / "t10k-images-idx3-ubyte.gz"
    f.write_bytes(gzip.compress(gzip.decompress(f.read_bytes())[:-5]))
    with pytest.raises(DataError, match=r"t10k-images.*expected 7840000; the file is truncated"):
        load_fashion_mnist(d)


def test_bad_magic_count_and_labels(idx_dir, tmp_path):
    d = _copy(idx_dir, tmp_path)
    write_idx(d / "train-labels-idx1-ubyte.gz", np.zeros(60000), data_lib.IMAGE_MAGIC)
    with pytest.raises(DataError, match="magic number 2051, expected 2049"):
        load_fashion_mnist(d)
    write_idx(d / "train-labels-idx1-ubyte.gz", np.zeros(100), data_lib.LABEL_MAGIC)
    with pytest.raises(DataError, match="holds 100 items, expected 60000"):
        load_fashion_mnist(d)
    write_idx(d / "train-labels-idx1-ubyte.gz", np.full(60000, 12), data_lib.LABEL_MAGIC)
    with pytest.raises(DataError, match="label 12 out of range 0..9"):
        load_fashion_mnist(d)
