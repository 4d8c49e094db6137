"""Parameter count and forward FLOPs per image, counted by torch's own FLOP counter."""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def forward_flops(model: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> int:
    """FLOPs (2 per multiply-add) of one image's forward pass; a training step costs about 3x this."""
    was_training = model.training
    model.eval()
    p = next(model.parameters())
    x = torch.zeros(1, *input_shape, device=p.device, dtype=p.dtype)
    with FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return int(counter.get_total_flops())


def profile(model: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> dict[str, int]:
    return {"params": count_params(model), "flops": forward_flops(model, input_shape)}


def train_flops(model: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28), batch: int = 2) -> int:
    """FLOPs of one image's training step (forward + backward), counted on a copy so state is untouched."""
    import copy

    clone = copy.deepcopy(model).train()
    p = next(clone.parameters())
    x = torch.zeros(batch, *input_shape, device=p.device, dtype=p.dtype)
    with FlopCounterMode(display=False) as counter:
        clone(x).sum().backward()
    return int(counter.get_total_flops()) // batch
