"""The model registry: `@register("name")`, `create_model(name, **kwargs)`, `list_models()`."""
from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # the registry itself needs no torch: a driver lists models and their arguments without it
    import torch.nn as nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    def wrap(fn: Callable[..., nn.Module]):
        if name in _MODELS:
            raise ValueError(f"model {name!r} registered twice")
        _MODELS[name] = fn
        return fn
    return wrap


def list_models() -> list[str]:
    return sorted(_MODELS)


def model_kwargs(name: str) -> dict[str, object]:
    """The keyword arguments a model accepts, with their defaults."""
    return {p.name: p.default for p in inspect.signature(get_factory(name)).parameters.values()
            if p.default is not inspect.Parameter.empty}


def settable_kwargs(name: str) -> set[str]:
    """The keyword arguments a user may set: all but num_classes and in_channels, which come from the data."""
    return set(model_kwargs(name)) - {"num_classes", "in_channels"}


def get_factory(name: str) -> Callable[..., nn.Module]:
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(list_models())}")
    return _MODELS[name]


def create_model(name: str, num_classes: int = 10, in_channels: int = 1, **kwargs) -> nn.Module:
    factory = get_factory(name)
    valid = settable_kwargs(name)
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        raise ValueError(f"model {name!r} has no argument(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(sorted(valid))}")
    return factory(num_classes=num_classes, in_channels=in_channels, **kwargs)
