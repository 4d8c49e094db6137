"""Every scientific value tried: a stratified random start-up, then the reference's slice filled.

Random sampling leaves values untried or untuned (a laptop study's reference slice, no augmentation with adamw,
held no CNN trial at all), and the confirmation then trains "the reference with model = cnn" at the learning rate
tuned for an MLP. So the searcher proposes, before its sampler's own picks:

- the start-up: partial configurations that give every value of every categorical scientific parameter at least
  PER_VALUE trials and every model its calibration trials (the first of each model, which ASHA never stops); the
  sampler fills in the rest (nuisance parameters, continuous scientific ones). A conditional parameter is
  stratified among the points where it applies, when its condition is on stratified or fixed parameters.
- slice filling: once a trial has completed, the reference (the validation-selected best, tuning.selection's rule)
  is known; while a value of a categorical scientific parameter has fewer than PER_VALUE trials in the reference's
  slice (every other scientific parameter as the reference's, as tuning/confirm.py picks arms), the next trial is
  that value in that slice, its nuisance parameters left to the sampler (one trial, where the point leaves the
  sampler nothing to choose). The reference may change as results come in; the slice of the current one is
  filled.
- leader repeats: the validation-selected best is one run of one seed, and a noisy configuration's lucky run would
  otherwise become the reference (a ResNet at 86.2% in the search averaged 83.1% on three fresh seeds, behind an
  MLP the search had ranked second). So whenever the best configuration has fewer than REPEAT_RUNS full-budget runs
  (counting those proposed), the next trial repeats it on another seed (tuning.budgets.repeat_seed), before any
  slice filling; runs of one configuration pool in the ranking (tuning/selection.py), so a leader that does not
  hold up yields the lead.

Plain data in and out (no Ray): the searcher (tuning/search.py) asks, tests call these directly.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pandas as pd

from search_spaces.loader import Param, SearchSpace
from tuning.confirm import value_label
from tuning.selection import config_key, rank_trials

PER_VALUE = 2  # trials per scientific value, in the start-up and in the reference's slice
REPEAT_RUNS = 2  # runs of the leading configuration (itself and its repeats) before it is trusted


@dataclass(frozen=True)
class StartUp:
    points: tuple[dict[str, Any], ...]  # partial configurations, in the order the trials are created
    calibration: frozenset[int]  # 1-based trial indices of ASHA's calibration trials
    counts: dict[str, dict[str, int]]  # start-up trials per value of each stratified parameter
    short: tuple[str, ...]  # "P = v" with fewer than PER_VALUE start-up trials: the budget's trials ran out


def strata(space: SearchSpace) -> list[Param]:
    """The categorical scientific parameters the start-up stratifies, in the space's order."""
    cat = [p for p in space.params if p.role == "scientific" and p.kind == "categorical"]
    known = {p.name for p in cat} | set(space.fixed)
    return [p for p in cat if set(p.when) <= known]


def stratified_startup(space: SearchSpace, seed: int, calibration_per_model: int, num_samples: int) -> StartUp:
    """The start-up's points (module docstring), at most the budget's num_samples. Models take turns (mlp, cnn,
    resnet, mlp, ...), so the first calibration_per_model x models trials hold that many of each; every other
    parameter's values are dealt in equal shares and shuffled with `seed`, so no two parameters move together."""
    layers = strata(space)
    model = next((p for p in layers if p.name == "model"), None)
    n = max([calibration_per_model * (len(model.choices) if model else 1)]
            + [PER_VALUE * len(p.choices) for p in layers if not p.when])
    for size in range(n, 8 * n + 1):  # a conditional parameter may need more points than its condition gets
        points = _deal(space, layers, size, seed)
        counts = _counts(space, layers, points)
        if all(min(c.values()) >= PER_VALUE for c in counts.values() if sum(c.values())):
            break
    if num_samples < len(points):  # dealt again over the trials there are, so the shares stay as equal as they can
        points = _deal(space, layers, num_samples, seed)
        counts = _counts(space, layers, points)
    short = tuple(f"{p} = {v}" for p, c in counts.items() if sum(c.values()) for v, k in c.items() if k < PER_VALUE)
    return StartUp(tuple(points), _calibration(space, points, calibration_per_model), counts, short)


def _deal(space: SearchSpace, layers: list[Param], size: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    points: list[dict[str, Any]] = [{} for _ in range(size)]
    for p in layers:
        where = [i for i in range(size) if p.active({**space.fixed, **points[i]})]
        values = [p.choices[j % len(p.choices)] for j in range(len(where))]
        if p.name != "model":
            rng.shuffle(values)
        for i, v in zip(where, values):
            points[i][p.name] = v
    return points


def _counts(space: SearchSpace, layers: list[Param], points: list[dict]) -> dict[str, dict[str, int]]:
    out = {}
    for p in layers:
        seen = Counter(str(pt[p.name]) for pt in points if p.name in pt)
        applies = any(p.active({**space.fixed, **pt}) for pt in points)
        out[p.name] = {str(v): seen.get(str(v), 0) for v in p.choices} if applies else {}
    return out


def _calibration(space: SearchSpace, points: list[dict], per_model: int) -> frozenset[int]:
    """The first per_model start-up trials of each model (a space with one model: its first per_model)."""
    seen: Counter = Counter()
    out = set()
    for i, pt in enumerate(points, start=1):
        model = str(pt.get("model", space.fixed.get("model", "")))
        if seen[model] < per_model:
            seen[model] += 1
            out.add(i)
    return frozenset(out)


def slice_gaps(space: SearchSpace, trials: pd.DataFrame, proposed: list[dict[str, Any]]) -> tuple[dict, list[dict]]:
    """The reference's row (as trials_frame gives it; empty before any trial has completed) and the partial
    configurations that would give each value of each categorical scientific parameter PER_VALUE trials in its
    slice, in the space's order, each repeated as many times as it lacks trials.

    trials: tuning.selection.trials_frame of the study's rows; proposed: the parameters of every trial proposed so
    far that has not errored, running and pending ones included (they count towards their value's share)."""
    ranked = rank_trials(trials) if len(trials) else trials
    if not len(ranked) or ranked.iloc[0]["status"] != "completed":
        return {}, []
    reference = ranked.iloc[0]
    ref = dict(reference["params"] or {})
    scientific = [p for p in space.params if p.role == "scientific"]
    ref_labels = {q.name: value_label(q, ref.get(q.name)) for q in scientific}
    labels = [{q.name: value_label(q, (params or {}).get(q.name)) for q in scientific} for params in proposed]
    gaps = []
    for p in strata(space):
        if ref_labels[p.name] is None:
            continue  # p does not apply to the reference: its slice has no value of p
        in_slice = [all(lab[q.name] is None or lab[q.name] == ref_labels[q.name]
                        for q in scientific if q is not p and ref_labels[q.name] is not None) for lab in labels]
        for v in p.choices:
            have = sum(ok and lab[p.name] == str(v) for ok, lab in zip(in_slice, labels))
            point = _in_slice(space, scientific, ref, p, v)
            # a point that leaves the sampler nothing to choose would only be trained again, identically
            gaps += [point] * max(0, (PER_VALUE if _leaves_choice(space, point) else 1) - have)
    return dict(reference), gaps


def _leaves_choice(space: SearchSpace, point: dict[str, Any]) -> bool:
    values = {**space.fixed, **point}
    return any(q.name not in point and q.active(values) for q in space.params)


def _in_slice(space: SearchSpace, scientific: list[Param], ref: dict, p: Param, v) -> dict[str, Any]:
    """The reference's scientific values with p = v, keeping only those that still apply."""
    values, point = dict(space.fixed), {}
    for q in scientific:
        new = v if q is p else ref.get(q.name)
        if new is None or not q.active(values):
            continue
        values[q.name] = point[q.name] = new
    return point


def leader_repeat(trials: pd.DataFrame, repeats: dict[str, int]) -> tuple[str, str, int] | None:
    """(trial id, configuration key, k): a run of the leading configuration, its key (tuning.selection.config_key)
    and the number of its next repeat, when it has fewer than REPEAT_RUNS runs; None otherwise, or before any trial
    has completed. repeats: the repeats proposed so far per configuration key (finished or not), so a repeat in
    flight is not proposed twice and one that failed is not retried."""
    ranked = rank_trials(trials) if len(trials) else trials
    if not len(ranked) or ranked.iloc[0]["status"] != "completed":
        return None
    leader = ranked.iloc[0]
    key = config_key(leader["params"]) or leader["trial_id"]
    k = repeats.get(key, 0) + 1
    return (leader["trial_id"], key, k) if k < REPEAT_RUNS else None
