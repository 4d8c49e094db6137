"""Ganrator's ML core: Fashion-MNIST data, batched augmentation, a model zoo, the trainer, classical baselines.

It imports neither Ray nor Optuna, so it works alone in a notebook:

    from ganrator import data, train
    ds = data.load_fashion_mnist()
    history = train.train(train.TrainConfig(model="cnn", aug_strength=0.5, epochs=10), ds, on_epoch=print)
"""
from . import augment, data, models  # noqa: F401  (train stays lazy so `python -m ganrator.train` runs cleanly)

__version__ = "0.1.0"
