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


def edge_warnings(study: Study) -> list[str]:
    full = study.trials[study.trials["status"] == "completed"]
    if not len(full):
        return []
    best = full.loc[full["last_val_acc"].idxmax()]
    out = []
    for name, spec in study.specs.items():
        value = best.get("p:" + name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if spec["kind"] in ("float", "int"):
            pos = _position(float(value), spec["low"], spec["high"], spec["log"])
            if pos <= EDGE or pos >= 1 - EDGE:
                side = "lower" if pos <= EDGE else "upper"
                out.append(f"best value of {name} ({value:.3g}) lies at the {side} edge of its searched range "
                           f"[{spec['low']:.3g}, {spec['high']:.3g}]: the optimum may lie outside; widen the range")
        else:
            choices = spec["choices"]
            if len(choices) >= 3 and all(isinstance(c, (int, float)) for c in choices):
                if value in (min(choices), max(choices)):
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
