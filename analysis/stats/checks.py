"""Warnings a careful reader of the study needs: best values at the edge of the space, divergence, thin data."""
from __future__ import annotations

import math


from ..load import Study
from .intervals import bucketize

EDGE = 0.05  # within 5% of either end of the searched range (in log space for log parameters)
MAX_DIVERGED = 0.2
MIN_TRIALS_PER_VALUE = 3


def _position(value: float, low: float, high: float, log: bool) -> float:
    if log:
        value, low, high = math.log(value), math.log(low), math.log(high)
    return (value - low) / (high - low)


# Settings that are a strength, a probability, a share or a fraction live in [0, 1]; every searched setting here is
# non-negative. A best value at one of these limits is not a range to extend.
UNIT_INTERVAL = {"aug_strength", "aug_flip", "aug_erase", "aug_erase_area", "data_fraction", "label_smoothing", "ema",
                 "dropout", "momentum", "beta1", "beta2"}


def limits(name: str) -> tuple[float, float]:
    """The values a parameter can take at all: [0, 1] for a strength, probability, share or fraction (and the
    `one_minus_` parametrizations), [0, inf) for any other."""
    short = name.split(".")[-1]
    if name in UNIT_INTERVAL or short in UNIT_INTERVAL or short.startswith("one_minus_"):
        return 0.0, 1.0
    return 0.0, math.inf


def edge_warnings(study: Study) -> list[str]:
    """A best value at the edge of its searched range or feasible points, where the range could be extended: none at
    a limit of what the parameter can take (a strength of 0, a probability of 1)."""
    full = study.trials[study.trials["status"] == "completed"]
    if not len(full):
        return []
    best = full.loc[full["last_val_acc"].idxmax()]
    out = []
    for name, spec in study.specs.items():
        value = best.get("p:" + name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        lowest, highest = limits(name)
        if spec["kind"] in ("float", "int"):
            pos = _position(float(value), spec["low"], spec["high"], spec["log"])
            side = "lower" if pos <= EDGE else "upper" if pos >= 1 - EDGE else None
            bound = spec["low"] if side == "lower" else spec["high"]
            if side and bound not in (lowest, highest):
                out.append(f"best value of {name} ({value:.3g}) lies at the {side} edge of its searched range "
                           f"[{spec['low']:.3g}, {spec['high']:.3g}]: the optimum may lie outside; widen the range")
        else:
            choices = spec["choices"]
            if len(choices) >= 3 and all(isinstance(c, (int, float)) for c in choices):
                if value in (min(choices), max(choices)) and value not in (lowest, highest):
                    side = "smallest" if value == min(choices) else "largest"
                    out.append(f"best value of {name} ({value}) is the {side} of its feasible points {choices}: "
                               f"consider extending them")
    return out


def diverged_warning(study: Study) -> list[str]:
    t = study.trials[study.trials["status"] != "running"]
    if not len(t):
        return []
    share = (t["status"] == "diverged").mean()
    out = []
    if share > MAX_DIVERGED:
        out.append(f"{share:.0%} of trials diverged ({int((t['status'] == 'diverged').sum())} of {len(t)}): the "
                   f"learning-rate range is probably too wide; results near it are unreliable")
    errored = int((t["status"] == "errored").sum())
    if errored:
        out.append(f"{errored} trial(s) errored; see the `error` column of ganrator_trials")
    return out


def thin_data_warnings(study: Study) -> list[str]:
    out = []
    full = study.trials[study.trials["status"] == "completed"]
    for p in study.scientific():
        values = bucketize(study.trials["p:" + p], study.specs.get(p))
        counts = values[full.index].value_counts() if len(full) else {}
        for v in values.dropna().unique():
            n = int(counts.get(v, 0)) if len(full) else 0
            if n < MIN_TRIALS_PER_VALUE:
                out.append(f"too few trials to conclude about {p} = {v}: {n} full-budget trial(s), "
                           f"want at least {MIN_TRIALS_PER_VALUE}")
    return out


def study_warnings(study: Study) -> list[str]:
    return edge_warnings(study) + diverged_warning(study) + thin_data_warnings(study)
