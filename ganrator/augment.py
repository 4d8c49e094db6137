"""Batched data augmentation: pure functions of a float batch (N, C, H, W) in [0, 1] and a torch.Generator.

Every op draws its randomness per image from the generator, runs on the batch's device, ignores the
channel count, and is exactly the identity at magnitude 0. Padding and erasing fill with 0, which is
Fashion-MNIST's black background (ops run before normalization).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .recipe import AugmentConfig  # noqa: F401  (defined beside TrainConfig, free of torch)


def _uniform(n: int, g: torch.Generator, device, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) * (high - low) + low


def hflip(x: torch.Tensor, p: float, g: torch.Generator) -> torch.Tensor:
    """Flip each image left-right with probability p."""
    if p <= 0:
        return x
    mask = _uniform(x.shape[0], g, x.device) < p
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


def translate(x: torch.Tensor, radius: int, g: torch.Generator) -> torch.Tensor:
    """Shift each image by an integer (dy, dx) in [-radius, radius]^2, filling with 0 (pad + random crop)."""
    if radius <= 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (radius,) * 4)
    dy = torch.randint(0, 2 * radius + 1, (n,), generator=g, device=x.device)
    dx = torch.randint(0, 2 * radius + 1, (n,), generator=g, device=x.device)
    rows = dy[:, None] + torch.arange(h, device=x.device)  # (N, H)
    cols = dx[:, None] + torch.arange(w, device=x.device)  # (N, W)
    # One gather per axis: cost independent of the radius and of per-image Python loops.
    out = padded.gather(2, rows[:, None, :, None].expand(n, x.shape[1], h, w + 2 * radius))
    return out.gather(3, cols[:, None, None, :].expand(n, x.shape[1], h, w))


def affine(x: torch.Tensor, max_degrees: float, max_scale: float, g: torch.Generator) -> torch.Tensor:
    """Rotate by U(-d, d) degrees and zoom by U(1-s, 1+s) per image, in one bilinear resample."""
    if max_degrees <= 0 and max_scale <= 0:
        return x
    n = x.shape[0]
    angle = _uniform(n, g, x.device, -max_degrees, max_degrees) * (math.pi / 180)
    zoom = _uniform(n, g, x.device, 1 - max_scale, 1 + max_scale)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom  # grid maps output->input, so 1/zoom
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _boxes(n: int, h: int, w: int, area: torch.Tensor, g: torch.Generator, device) -> torch.Tensor:
    """Per-image boolean masks (N, 1, H, W) of one rectangle covering about `area` of the image."""
    log_ratio = _uniform(n, g, device, math.log(0.3), math.log(1 / 0.3))
    ratio = torch.exp(log_ratio)
    bh = (torch.sqrt(area * h * w * ratio)).round().clamp(0, h)
    bw = (torch.sqrt(area * h * w / ratio)).round().clamp(0, w)
    top = (_uniform(n, g, device) * (h - bh + 1)).floor()
    left = (_uniform(n, g, device) * (w - bw + 1)).floor()
    r = torch.arange(h, device=device)[None, :, None]
    c = torch.arange(w, device=device)[None, None, :]
    inside = ((r >= top[:, None, None]) & (r < (top + bh)[:, None, None])
              & (c >= left[:, None, None]) & (c < (left + bw)[:, None, None]))
    return inside[:, None]


def erase(x: torch.Tensor, p: float, max_area: float, g: torch.Generator) -> torch.Tensor:
    """Random erasing: with probability p, zero one rectangle of 2%..max_area of the image."""
    if p <= 0 or max_area <= 0:
        return x
    n, _, h, w = x.shape
    area = _uniform(n, g, x.device, min(0.02, max_area), max_area)
    mask = _boxes(n, h, w, area, g, x.device) & (_uniform(n, g, x.device) < p)[:, None, None, None]
    return x.masked_fill(mask, 0.0)


def _beta(alpha: float, n: int, g: torch.Generator, device) -> torch.Tensor:
    # torch.distributions has no generator argument; Beta(a, a) from two Gammas keeps the draw seeded.
    a = torch.full((n,), alpha, device=device)
    ga, gb = torch._standard_gamma(a, generator=g), torch._standard_gamma(a, generator=g)
    return ga / (ga + gb).clamp_min(1e-12)


def mix(x: torch.Tensor, targets: torch.Tensor, mixup_alpha: float, cutmix_alpha: float,
        g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup or CutMix with a random partner from the batch, per-image lambda.

    targets: soft labels (N, K). When both are on, each image picks one of the two at random.
    """
    if mixup_alpha <= 0 and cutmix_alpha <= 0:
        return x, targets
    n, _, h, w = x.shape
    perm = torch.randperm(n, generator=g, device=x.device)
    lam = torch.ones(n, device=x.device)
    out = x
    use_cut = torch.zeros(n, dtype=torch.bool, device=x.device)
    if cutmix_alpha > 0:
        use_cut = (_uniform(n, g, x.device) < 0.5) if mixup_alpha > 0 else torch.ones_like(use_cut)
        box = _boxes(n, h, w, 1 - _beta(cutmix_alpha, n, g, x.device), g, x.device) & use_cut[:, None, None, None]
        out = torch.where(box, x[perm], out)
        lam = torch.where(use_cut, 1 - box.flatten(1).float().mean(1), lam)  # the pasted area, exactly
    if mixup_alpha > 0:
        lam_mix = _beta(mixup_alpha, n, g, x.device)
        lam = torch.where(use_cut, lam, lam_mix)
        blend = lam_mix.to(x.dtype)[:, None, None, None]
        out = torch.where(use_cut[:, None, None, None], out, blend * x + (1 - blend) * x[perm])
    lam = lam.to(targets.dtype)[:, None]
    return out, lam * targets + (1 - lam) * targets[perm]


def augment(x: torch.Tensor, targets: torch.Tensor, cfg: AugmentConfig, g: torch.Generator
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply every op at `cfg.strength`; strength 0 returns the inputs unchanged."""
    c = cfg.scaled()
    x = hflip(x, c.flip, g)
    x = translate(x, c.translate, g)
    x = affine(x, c.rotate, c.scale, g)
    x = erase(x, c.erase, c.erase_area, g)
    return mix(x, targets, c.mixup, c.cutmix, g)
