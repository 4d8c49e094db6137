"""Ganrator's ML core: Fashion-MNIST data, batched augmentation, a model zoo, the trainer, classical baselines.

It imports neither Ray nor Optuna, so it works alone in a notebook:

    from ganrator import data, train
    ds = data.load_fashion_mnist()
    history = train.train(train.TrainConfig(model="cnn", aug_strength=0.5, epochs=10), ds, on_epoch=print)
"""
import importlib

__version__ = "0.1.0"
_SUBMODULES = ("augment", "classical", "config", "data", "ema", "models", "optim", "recipe", "train")


def __getattr__(name: str):
    # Submodules load on first use: `import ganrator.data` or the model registry must not import torch, so that
    # a study's driver checks its input and loads the data without it (torch loads where training runs).
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
