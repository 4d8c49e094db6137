"""Model zoo: a registry of image classifiers for 1x28x28 inputs."""
import importlib

from . import resnet, simple  # noqa: F401  (importing registers the models; neither imports torch until a build)
from .registry import create_model, list_models, model_kwargs, register, settable_kwargs

_PROFILE = ("count_params", "forward_flops", "profile", "train_flops")


def __getattr__(name: str):
    if name in _PROFILE:  # the FLOP and parameter counters (torch), loaded on first use
        return getattr(importlib.import_module(".flops", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["create_model", "list_models", "model_kwargs", "register", "settable_kwargs", "profile", "count_params",
           "forward_flops", "train_flops"]
