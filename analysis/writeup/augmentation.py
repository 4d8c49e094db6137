"""Which augmentation each study used: the operations' magnitudes at strength 1, read from the trainer's defaults,
the space's fixed settings and the trials' stored configs, grouped where studies share them."""
from __future__ import annotations

import dataclasses

from ganrator.recipe import AugmentConfig, TrainConfig

from ..load import Study

OPS = [f.name for f in dataclasses.fields(AugmentConfig) if f.name != "strength"]


def _augments(s: Study) -> bool:
    if s.meta.get("kind") == "classical":
        return False
    if "aug_strength" in s.params:
        return True
    configs = [c for c in s.trials["config"] if isinstance(c, dict)]
    fixed = (s.meta.get("search") or {}).get("fixed") or {}
    return any(float(c.get("aug_strength", fixed.get("aug_strength", 0.0)) or 0.0) > 0 for c in configs)


def study_operations(s: Study) -> tuple[dict, list[str]]:
    """The magnitudes at strength 1 (AugmentConfig's fields) and the operations the study searched per trial."""
    defaults = TrainConfig()
    fixed = (s.meta.get("search") or {}).get("fixed") or {}
    configs = [c for c in s.trials["config"] if isinstance(c, dict)]
    ops = {}
    for op in OPS:
        key = "aug_" + op
        ops[op] = configs[0].get(key, fixed.get(key, getattr(defaults, key))) if configs else \
            fixed.get(key, getattr(defaults, key))
    return ops, [op for op in OPS if "aug_" + op in s.params]


def augmentation_methods(studies: list[Study]) -> tuple[list[dict], list[tuple[str, dict]]]:
    """Groups of studies sharing their operations ({studies, ops, searched}) and, for the grid, one setting per
    group at strength 1 (TrainConfig keyword arguments)."""
    groups: dict[tuple, dict] = {}
    for s in studies:
        if not _augments(s):
            continue
        ops, searched = study_operations(s)
        key = (tuple(sorted(ops.items())), tuple(searched))
        groups.setdefault(key, {"studies": [], "ops": ops, "searched": searched})["studies"].append(s.name)
    out = list(groups.values())
    settings = [(f"{', '.join(g['studies'])}: s = 1",
                 {"aug_strength": 1.0, **{"aug_" + op: v for op, v in g["ops"].items()}}) for g in out]
    return out, settings
