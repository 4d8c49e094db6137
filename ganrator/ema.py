"""An exponential moving average of a model's weights (and batch-norm statistics), updated after every step."""
from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """`module` holds the average. The decay ramps up as (1 + n) / (10 + n) over the first updates, capped at
    `decay`: a fixed 0.99 would leave a 12-step run (a tiny trial) mostly at its initial weights."""

    def __init__(self, model: nn.Module, decay: float):
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        mine, theirs = self.module.state_dict(), model.state_dict()
        floats = [k for k, v in mine.items() if v.is_floating_point()]
        torch._foreach_lerp_([mine[k] for k in floats], [theirs[k].detach() for k in floats], 1 - d)
        for k, v in mine.items():  # counters such as num_batches_tracked follow the model
            if not v.is_floating_point():
                v.copy_(theirs[k])

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
