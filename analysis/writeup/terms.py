"""The write-up's glossary (templates/terms.md.j2), with the numbers read from the studies and the trainer's
defaults (never typed)."""
from __future__ import annotations

from ganrator.data import COUNTS
from ganrator.recipe import TrainConfig

from ..load import Study
from ..stats.scaling import train_size
from .templating import render


def terms_text(studies: list[Study]) -> str:
    val_sizes = sorted({int((s.meta.get("budget") or {}).get("val_size") or 5000) for s in studies})
    recipe = TrainConfig()
    return render("terms.md.j2", val_sizes=val_sizes, train=COUNTS["train"], test=COUNTS["test"],
                  images=[f"{train_size({'data_fraction': 1.0, 'val_size': v}):,}" for v in val_sizes],
                  flip=f"{recipe.aug_flip:g}", translate=f"{recipe.aug_translate:g}")
