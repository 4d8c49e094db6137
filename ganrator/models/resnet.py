"""Pre-activation ResNets (He et al. 2016) and Wide ResNets (Zagoruyko & Komodakis 2016), CIFAR-style.

One block serves both: a WRN-d-k is a pre-activation ResNet with widen factor k and dropout in its blocks.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import register


class PreActBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.shortcut = (nn.Conv2d(c_in, c_out, 1, stride, bias=False)
                         if stride != 1 or c_in != c_out else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(self.dropout(F.relu(self.bn2(out))))
        return out + skip


class PreActResNet(nn.Module):
    def __init__(self, blocks_per_stage: int, widths: tuple[int, int, int], num_classes: int,
                 in_channels: int, dropout: float = 0.0, stem: int = 16):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False)
        layers, c_in = [], stem
        for s, c_out in enumerate(widths):
            for b in range(blocks_per_stage):
                layers.append(PreActBlock(c_in, c_out, 2 if (s > 0 and b == 0) else 1, dropout))
                c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.head_bn, self.fc = nn.BatchNorm2d(c_in), nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.head_bn(self.blocks(self.stem(x))))
        return self.fc(F.adaptive_avg_pool2d(out, 1).flatten(1))


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
    return PreActResNet(n, widths, num_classes, in_channels, dropout, stem=widths[0])  # type: ignore[arg-type]


@register("wrn")
def wrn(num_classes: int = 10, in_channels: int = 1, depth: int = 16, widen: int = 4,
        dropout: float = 0.0) -> nn.Module:
    """WRN-depth-widen (depth = 6n+4), stage widths 16k, 32k, 64k, 16-channel stem."""
    n = _blocks(depth, 4, "wrn")
    return PreActResNet(n, (16 * widen, 32 * widen, 64 * widen), num_classes, in_channels, dropout, stem=16)


# One-line variants, timm-style.
register("resnet20")(lambda num_classes=10, in_channels=1: resnet(num_classes, in_channels, depth=20))
register("resnet56")(lambda num_classes=10, in_channels=1: resnet(num_classes, in_channels, depth=56))
register("wrn16_4")(lambda num_classes=10, in_channels=1, dropout=0.0: wrn(num_classes, in_channels, 16, 4, dropout))
register("wrn28_10")(lambda num_classes=10, in_channels=1, dropout=0.3: wrn(num_classes, in_channels, 28, 10, dropout))
