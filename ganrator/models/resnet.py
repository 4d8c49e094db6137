"""Pre-activation ResNets (He et al. 2016) and Wide ResNets (Zagoruyko & Komodakis 2016), CIFAR-style.

One block serves both: a WRN-d-k is a pre-activation ResNet with widen factor k and dropout in its blocks. The
network lives in ganrator/models/preact.py, imported when a model is built: registering these needs no torch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .registry import register

if TYPE_CHECKING:
    import torch.nn as nn


def _blocks(depth: int, offset: int, name: str) -> int:
    if depth < offset + 6 or (depth - offset) % 6:
        raise ValueError(f"{name} depth must be 6n+{offset} with n >= 1 (e.g. {offset + 6}, {offset + 18}), "
                         f"got {depth}")
    return (depth - offset) // 6


@register("resnet")
def resnet(num_classes: int = 10, in_channels: int = 1, depth: int = 20, width: float = 1.0,
           dropout: float = 0.0) -> nn.Module:
    """Pre-activation ResNet-depth (depth = 6n+2), stage widths 16w, 32w, 64w."""
    n = _blocks(depth, 2, "resnet")
    widths = tuple(max(1, int(round(c * width))) for c in (16, 32, 64))
    from .preact import PreActResNet

    return PreActResNet(n, widths, num_classes, in_channels, dropout, stem=widths[0])  # type: ignore[arg-type]


@register("wrn")
def wrn(num_classes: int = 10, in_channels: int = 1, depth: int = 16, widen: int = 4,
        dropout: float = 0.0) -> nn.Module:
    """WRN-depth-widen (depth = 6n+4), stage widths 16k, 32k, 64k, 16-channel stem."""
    n = _blocks(depth, 4, "wrn")
    from .preact import PreActResNet

    return PreActResNet(n, (16 * widen, 32 * widen, 64 * widen), num_classes, in_channels, dropout, stem=16)


# One-line variants, timm-style.
register("resnet20")(lambda num_classes=10, in_channels=1: resnet(num_classes, in_channels, depth=20))
register("resnet56")(lambda num_classes=10, in_channels=1: resnet(num_classes, in_channels, depth=56))
register("wrn16_4")(lambda num_classes=10, in_channels=1, dropout=0.0: wrn(num_classes, in_channels, 16, 4, dropout))
register("wrn28_10")(lambda num_classes=10, in_channels=1, dropout=0.3: wrn(num_classes, in_channels, 28, 10, dropout))
