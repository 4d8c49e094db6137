"""The pre-activation residual network behind the `resnet` and `wrn` models (ganrator/models/resnet.py)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


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
