"""The small models: an MLP on raw pixels and a VGG-style CNN (conv stages, each halving the resolution).

torch is imported when a model is built, not when this module registers them (see ganrator/models/registry.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .registry import register

if TYPE_CHECKING:
    import torch.nn as nn


@register("mlp")
def mlp(num_classes: int = 10, in_channels: int = 1, width: int = 256, depth: int = 2,
        dropout: float = 0.1, image_size: int = 28) -> nn.Module:
    from torch import nn

    layers: list[nn.Module] = [nn.Flatten()]
    fan_in = in_channels * image_size * image_size
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        fan_in = width
    layers.append(nn.Linear(fan_in, num_classes))
    return nn.Sequential(*layers)


def _conv(c_in: int, c_out: int, batch_norm: bool) -> list[nn.Module]:
    from torch import nn

    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm),
            *([nn.BatchNorm2d(c_out)] if batch_norm else []), nn.ReLU(inplace=True)]


@register("cnn")
def cnn(num_classes: int = 10, in_channels: int = 1, width: int = 32, depth: int = 2, stages: int = 3,
        dropout: float = 0.2, batch_norm: bool = True) -> nn.Module:
    """`stages` blocks of `depth` 3x3 convs then 2x2 max-pool; channels double per stage (width, 2w, 4w)."""
    if width < 1 or depth < 1 or stages < 1:
        raise ValueError(f"cnn needs width, depth, stages >= 1, got {width}, {depth}, {stages}")
    from torch import nn

    layers: list[nn.Module] = []
    c_in = in_channels
    for s in range(stages):
        c_out = width * 2 ** s
        for d in range(depth):
            layers += _conv(c_in if d == 0 else c_out, c_out, batch_norm)
        layers.append(nn.MaxPool2d(2))
        c_in = c_out
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in, num_classes)]
    return nn.Sequential(*layers)
