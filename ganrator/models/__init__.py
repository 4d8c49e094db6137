"""Model zoo: a registry of image classifiers for 1x28x28 inputs."""
from . import resnet, simple  # noqa: F401  (importing registers the models)
from .profile import count_params, forward_flops, profile, train_flops
from .registry import create_model, list_models, model_kwargs, register, settable_kwargs

__all__ = ["create_model", "list_models", "model_kwargs", "register", "settable_kwargs", "profile", "count_params", "forward_flops", "train_flops"]
