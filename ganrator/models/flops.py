"""Parameter count and FLOPs per image. The forward count, taken in every trial, uses hooks on the layers that
do the multiply-adds (convolutions, linear layers): torch's own FLOP counter imports torch._dynamo, about 2 s
per worker process, and counts the same (tests/test_models.py checks that for every registered model). The
training-step count, needed only by analyses, keeps torch's counter."""
from __future__ import annotations

import torch
import torch.nn as nn


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _layer_flops(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    """2 per multiply-add, as torch's FLOP counter counts them (bias additions and norms are not counted)."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return 2 * output.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return 2 * output.numel() * module.in_features
    return 0


@torch.no_grad()
def forward_flops(model: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> int:
    """FLOPs (2 per multiply-add) of one image's forward pass; a training step costs about 3x this."""
    unknown = [type(m).__name__ for m in model.modules()
               if isinstance(m, (nn.modules.conv._ConvNd, nn.MultiheadAttention)) and not isinstance(m, nn.Conv2d)]
    if unknown:  # layers the hooks cannot count: fall back to torch's counter
        return _torch_forward_flops(model, input_shape)
    total = [0]
    hooks = [m.register_forward_hook(lambda mod, i, o: total.__setitem__(0, total[0] + _layer_flops(mod, i, o)))
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    try:
        p = next(model.parameters())
        model(torch.zeros(1, *input_shape, device=p.device, dtype=p.dtype))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return total[0]


@torch.no_grad()
def _torch_forward_flops(model: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> int:
    from torch.utils.flop_counter import FlopCounterMode

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

    from torch.utils.flop_counter import FlopCounterMode

    clone = copy.deepcopy(model).train()
    p = next(clone.parameters())
    x = torch.zeros(batch, *input_shape, device=p.device, dtype=p.dtype)
    with FlopCounterMode(display=False) as counter:
        clone(x).sum().backward()
    return int(counter.get_total_flops()) // batch
