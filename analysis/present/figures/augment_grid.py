"""The augmentation grid: the same training images under each augmentation setting the studies used, one row per
setting, drawn by ganrator.augment itself (the trainer's own function and generator)."""
from __future__ import annotations

import numpy as np

from .theme import plt


def augmentation_grid(images: np.ndarray, settings: list[tuple[str, dict]], seed: int = 0):
    """images: (N, 28, 28) uint8 training images; settings: (row label, TrainConfig aug_* keyword arguments with
    aug_strength). Row 0 shows the images as they are. None without images or settings."""
    if not len(images) or not settings:
        return None
    import torch

    from ganrator.augment import augment
    from ganrator.recipe import TrainConfig

    x = torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0)[:, None]
    targets = torch.zeros(len(x), dtype=torch.long)
    rows = [("as stored", x)]
    for label, kwargs in settings:
        cfg = TrainConfig(**kwargs).augment_config()
        g = torch.Generator().manual_seed(seed)
        rows.append((label, augment(x.clone(), targets, cfg, g)[0]))
    fig, axes = plt.subplots(len(rows), len(x), figsize=(0.8 * len(x) + 1.6, 0.85 * len(rows) + 0.3),
                             squeeze=False)
    for r, (label, batch) in enumerate(rows):
        for c in range(len(x)):
            ax = axes[r][c]
            ax.imshow(batch[c, 0].numpy(), cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.axis("off")
        axes[r][0].text(-0.15, 0.5, label, transform=axes[r][0].transAxes, ha="right", va="center", fontsize=7)
    fig.subplots_adjust(left=0.25, wspace=0.05, hspace=0.1)
    return fig
