"""Optimizers by name and the learning-rate schedule as a pure function of the step."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names and the schedule need no torch (TrainConfig checks against them without it)
    import torch
    import torch.nn as nn

OPTIMIZERS = ("sgd", "nesterov", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "cosine", "onecycle")


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    # No decay on biases and norm scales: decaying them only hurts (standard since Goyal et al. 2017).
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float, momentum: float,
                   beta1: float, beta2: float, eps: float) -> torch.optim.Optimizer:
    import torch

    groups = _param_groups(model, weight_decay)
    if name in ("sgd", "nesterov"):
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=name == "nesterov" and momentum > 0)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=(beta1, beta2), eps=eps)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=(beta1, beta2), eps=eps)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, momentum=momentum, alpha=beta2, eps=eps)
    raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """Multiplier of the peak lr at `step` (0-based): linear warmup, then the named decay."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown lr schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps)  # progress after warmup, in [0, 1)
    if schedule == "constant":
        return 1.0
    if schedule == "step":  # x0.1 at 50% and 75% of training
        return 0.1 ** ((t >= 0.5) + (t >= 0.75))
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * t))
    return max(0.0, 1.0 - t)  # onecycle: warmup up to the peak, then linear down to zero
