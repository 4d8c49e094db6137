"""Confirmation of the ablations: every value of every scientific parameter, retrained without early stopping on
fresh seeds shared by all arms, so that arms compare seed by seed (analysis/stats/paired.py reads the result).

The search alone cannot settle an ablation: ASHA stops slow starters (augmented runs, ResNets) at an early rung,
only the overall best configurations are retrained, and the winning run is selected on its own validation noise.
Here, for a scientific parameter P, the reference is the validation-selected best trial; the arm for a value v is
the best trial with P = v among those whose other scientific parameters equal the reference's (a conditional one
that does not apply to either is no constraint), ranked at the highest rung it reached (tuning/selection.py).
The search fills that slice with every value (tuning/coverage.py); where its budget could not, the arm is the
reference with only P changed to v, and the confirmation says which arms those are. A trial that stayed at chance
(validation accuracy at most CHANCE_MARGIN above 1 / classes: a learning rate that never trained) is no searched
evidence for its value, so it is never an arm's source. Continuous
scientific parameters are bucketed (CONTINUOUS_BUCKETS equal buckets over the searched range, log-spaced for
log-scaled ones); an empty bucket is represented by its centre.

A space with `confirm: {cross: [P, Q, ...]}` asks for the cross of those parameters instead: one arm per
combination of their values (every data size with every augmentation strength), each the best trial with that
combination among those whose other scientific parameters equal the reference's, else the reference with the
combination set. Its arms are stored under the parameter name "P x Q", with the combination as the value and a
mapping {P: p, Q: q} as the point. Other scientific parameters still get their one-at-a-time arms.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ganrator.data import CLASSES
from search_spaces.loader import Param, SearchSpace
from tuning.budgets import fresh_seeds
from tuning.db import TrialDB, confirm_runs, trials as trials_table
from tuning.retrain import retrain
from tuning.selection import bucket_of, buckets, rank_trials, trials_frame

CONTINUOUS_BUCKETS = 3
CHANCE_MARGIN = 0.02  # above chance by more than this: the trial learned something
CROSS_JOIN = " x "  # the stored parameter name of a cross: "data_fraction x aug_strength"


@dataclass(frozen=True)
class Arm:
    param: str
    value: str  # label: the feasible point, or the bucket of a continuous parameter
    position: int  # order of `value` within the parameter
    point: Any  # the parameter's value in `config`
    config: dict[str, Any]  # sampled parameters, as a trial's `params`
    source: str  # "trial <id>", "trial <id> at rung <r> (stopped early)" or "reference with P = v (...)"
    source_trial: str | None
    source_rung: int | None
    is_reference: bool

    @property
    def key(self) -> str:
        return arm_key(self.config)


def arm_key(config: dict[str, Any]) -> str:
    """Equal configurations get equal keys, so an arm shared by several tables is trained once."""
    return hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _values(p: Param) -> list[tuple[str, Any]]:
    """(label, value standing for it) per value of a scientific parameter; buckets stand for their centre."""
    if p.kind == "categorical":
        return [(str(v), v) for v in p.choices]
    out = []
    for label, _, _, centre in buckets(p.low, p.high, p.log, CONTINUOUS_BUCKETS):
        out.append((label, int(round(centre)) if p.kind == "int" else float(f"{centre:.3g}")))
    return out


def value_label(p: Param, value) -> str | None:
    """The label of a trial's value of `p` (None: not sampled for that trial)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if p.kind == "categorical":
        return next((str(c) for c in p.choices if c == value), None)
    return bucket_of(float(value), buckets(p.low, p.high, p.log, CONTINUOUS_BUCKETS))


def learned(ranked: pd.DataFrame) -> pd.Series:
    """Which trials rose above chance on validation (ten balanced classes)."""
    return ranked["last_val_acc"] > 1 / len(CLASSES) + CHANCE_MARGIN


def _source(row: pd.Series) -> tuple[str, int | None]:
    if row["status"] == "completed":
        return f"trial {row['trial_id']}", None
    if row["status"] == "early_stopped":
        rung = int(row["rung"] if row["rung"] is not None and not pd.isna(row["rung"]) else row["epochs"])
        return f"trial {row['trial_id']} at rung {rung} (stopped early)", rung
    return f"trial {row['trial_id']} ({row['status']} at epoch {int(row['epochs'] or 0)})", None


def _with_value(space: SearchSpace, reference: dict, p: Param, label: str, point, ranked: pd.DataFrame,
                labels: pd.DataFrame) -> tuple[dict, list[str]]:
    """The reference with only `p` changed. Parameters that stop applying drop out; one that starts applying
    (a new model's `<model>.<kwarg>`, a new optimizer's momentum) takes the value of the best trial anywhere in
    the study with p in the same value, else its default. Returns the configuration and notes on the latter."""
    values, config, notes = dict(space.fixed), {}, []
    for q in space.params:
        if q.name == p.name:
            new = point
        elif not q.active(values):
            continue
        elif reference.get(q.name) is not None:
            new = reference[q.name]
        else:
            has_q = pd.Series([q.name in (c or {}) for c in ranked["params"]], index=ranked.index)
            donors = ranked[(labels[p.name] == label) & has_q]
            if not len(donors):
                notes.append(f"{q.name}: " + ("model default" if "." in q.name else "default"))
                continue
            new = donors.iloc[0]["params"][q.name]
            notes.append(f"{q.name} from trial {donors.iloc[0]['trial_id']}")
        values[q.name] = config[q.name] = new
    return config, notes


def _cross_arms(space: SearchSpace, ranked: pd.DataFrame, labels: pd.DataFrame, scientific: list[Param],
                alive: pd.Series) -> list[Arm]:
    """One arm per combination of the cross's values (module docstring), in the order of their feasible points."""
    by_name = {p.name: p for p in scientific}
    cross = [by_name[n] for n in space.confirm_cross]
    ref_row, ref_labels = ranked.iloc[0], labels.iloc[0]
    in_slice = pd.Series(True, index=ranked.index)
    for q in scientific:
        if q.name not in space.confirm_cross and ref_labels[q.name] is not None:
            in_slice &= labels[q.name].isna() | (labels[q.name] == ref_labels[q.name])
    name = CROSS_JOIN.join(p.name for p in cross)
    arms = []
    for position, combo in enumerate(itertools.product(*(_values(p) for p in cross))):
        value = ", ".join(f"{p.name} = {label}" for p, (label, _) in zip(cross, combo))
        is_reference = all(ref_labels[p.name] == label for p, (label, _) in zip(cross, combo))
        mask = in_slice.copy()
        for p, (label, _) in zip(cross, combo):
            mask &= labels[p.name] == label
        cand = ranked[mask & alive]
        if len(cand):
            top = cand.iloc[0]
            source, rung = _source(top)
            arms.append(Arm(name, value, position, {p.name: top["params"].get(p.name) for p in cross},
                            dict(top["params"]), source, top["trial_id"], rung, is_reference))
            continue
        config, notes = dict(ref_row["params"]), []
        for p, (label, point) in zip(cross, combo):  # one parameter at a time, as a one-parameter arm does
            config, more = _with_value(space, config, p, label, point, ranked, labels)
            notes += more
        changed = ", ".join(f"{p.name} = {point}" for p, (_, point) in zip(cross, combo))
        source = f"reference with {changed}" + (f" ({'; '.join(notes)})" if notes else "")
        arms.append(Arm(name, value, position, {p.name: point for p, (_, point) in zip(cross, combo)}, config, source,
                        None, None, is_reference))
    return arms


def select_arms(space: SearchSpace, trials: pd.DataFrame) -> list[Arm]:
    """The arms of every scientific parameter (see the module docstring), and of the space's cross if it names
    one. `trials`: as trials_frame returns."""
    ranked = rank_trials(trials).reset_index(drop=True)
    if not len(ranked):
        return []
    scientific = [p for p in space.params if p.role == "scientific"]
    # dtype object: a value that does not apply stays None (pandas' string dtype would turn it into NaN, which
    # `is None` misses, and a cnn reference would get arms of resnet.width that train the cnn again)
    labels = pd.DataFrame({p.name: [value_label(p, (c or {}).get(p.name)) for c in ranked["params"]]
                           for p in scientific},
                          index=ranked.index, dtype=object)
    ref_row, ref_labels = ranked.iloc[0], labels.iloc[0]
    alive = learned(ranked)  # a trial at chance is no arm's source
    arms = _cross_arms(space, ranked, labels, scientific, alive) if space.confirm_cross else []
    for p in scientific:
        if p.name in space.confirm_cross:
            continue  # its arms are the cross's
        if ref_labels[p.name] is None:
            continue  # p does not apply to the reference: there is no reference value to compare with
        in_slice = pd.Series(True, index=ranked.index)
        for q in scientific:
            if q is not p and ref_labels[q.name] is not None:
                in_slice &= labels[q.name].isna() | (labels[q.name] == ref_labels[q.name])
        for position, (label, point) in enumerate(_values(p)):
            cand = ranked[in_slice & (labels[p.name] == label) & alive]
            if len(cand):
                top = cand.iloc[0]
                source, rung = _source(top)
                arm = Arm(p.name, label, position, top["params"].get(p.name), dict(top["params"]), source,
                          top["trial_id"], rung, label == ref_labels[p.name])
            else:
                config, notes = _with_value(space, ref_row["params"], p, label, point, ranked, labels)
                source = f"reference with {p.name} = {point}" + (f" ({'; '.join(notes)})" if notes else "")
                arm = Arm(p.name, label, position, point, config, source, None, None, False)
            arms.append(arm)
    return arms


def run_order(keys: list[str], seeds: list[int], done: set[tuple[str, int]]) -> list[tuple[str, int]]:
    """The runs left to do, arm by arm, each on all its seeds, in the order of the arms (the space's order of
    scientific parameters). Ray starts them in this order, so the first parameter's paired comparison is complete
    first (a study's first parameter is its question: the data-size curve of the scaling space, whose runs take
    hours), and an interrupted confirmation leaves whole arms rather than every arm on one seed, which pairs with
    nothing."""
    return [(key, seed) for key in keys for seed in seeds if (key, seed) not in done]


def expected_costs(todo: list[tuple[str, int]], arms: dict[str, Arm], runs: list[dict], trials: list[dict],
                   epochs: int, data_fraction: float, steps: bool) -> dict[tuple[str, int], float]:
    """Each run's expected seconds, for the ETA: runs of one study differ twentyfold (a width-8 CNN on 1,719
    images against a width-64 one on 55,000), so a count of runs left misleads. A configuration's earlier runs
    (other seeds, an earlier resume) say it best; else its source trial, scaled by epochs x data fraction unless
    the space trains fixed steps; else the mean of the others (1 each when nothing is known: a count of runs)."""
    seen: dict[str, list[float]] = {}
    for r in runs:
        if r["status"] not in (None, "errored") and r.get("wall_time"):
            seen.setdefault(r["arm_key"], []).append(r["wall_time"])
    by_id = {t["trial_id"]: t for t in trials}
    known: dict[str, float] = {}
    for key in {k for k, _ in todo}:
        if key in seen:
            known[key] = sum(seen[key]) / len(seen[key])
        elif (t := by_id.get(arms[key].source_trial)) and t.get("wall_time") and t.get("epochs"):
            frac = lambda cfg: float((cfg or {}).get("data_fraction") or data_fraction)  # noqa: E731
            work = lambda e, cfg: 1.0 if steps else e * frac(cfg)  # noqa: E731
            known[key] = t["wall_time"] * work(epochs, arms[key].config) / work(t["epochs"], t.get("config"))
    fallback = sum(known.values()) / len(known) if known else 1.0
    return {job: known.get(job[0], fallback) for job in todo}


def run_confirmation(args, db: TrialDB, data, overrides: dict) -> None:
    """Select the arms, store them, and retrain every (arm, seed) not yet done through Ray, in parallel."""
    b, space, name = args.budget_obj, args.space_obj, args.name
    if not (b.confirm if getattr(args, "confirm", None) is None else args.confirm):
        return
    if space.kind != "deep":
        print("\nconfirmation: skipped (a classical space has no epochs to retrain without early stopping)")
        return
    if not any(p.role == "scientific" for p in space.params):
        print("\nconfirmation: skipped (the space has no scientific parameter)")
        return
    trial_rows = db.rows(trials_table, name)
    arms = select_arms(space, trials_frame(trial_rows))
    if not arms:
        print("\nconfirmation: skipped (no trial reported a validation accuracy)")
        return
    gone = db.keep_confirm_arms(name, {(a.param, a.value) for a in arms})
    if gone:  # selected by an earlier run of this confirmation that this one no longer selects
        print(f"confirmation: arms no longer selected, removed: {'; '.join(f'{p} = {v}' for p, v in gone)}")
    for a in arms:
        db.upsert_confirm_arm(name, a.param, a.value, position=a.position, point=a.point, arm_key=a.key,
                              is_reference=a.is_reference, source=a.source, source_trial=a.source_trial,
                              source_rung=a.source_rung, config=a.config)
    distinct: dict[str, Arm] = {}
    names: dict[str, list[str]] = {}
    for a in arms:
        distinct.setdefault(a.key, a)
        names.setdefault(a.key, []).append(f"{a.param} = {a.value}")
    seeds = fresh_seeds(args.seed, b.confirm_seeds)
    steps = int(space.fixed.get("steps") or 0)
    length = f"the space's {steps:,} optimizer steps" if steps > 0 else f"{b.confirm_epochs} epochs"
    fraction = ("each arm's data fraction" if any("data_fraction" in a.config for a in arms)
                else f"{b.confirm_data_fraction:g} of the training split")
    print(f"\nconfirmation: {len(arms)} arms over {len({a.param for a in arms})} scientific parameter(s), "
          f"{len(distinct)} distinct configurations, each retrained without early stopping for {length} on "
          f"{fraction}, seeds {', '.join(map(str, seeds))}")
    for a in arms:
        print(f"  {a.param} = {a.value}: {a.source}{' [reference]' if a.is_reference else ''}")
    if fallback := [f"{a.param} = {a.value}" for a in arms if a.source_trial is None]:
        print(f"confirmation: the search's budget left {len(fallback)} value(s) without a searched trial in the "
              f"reference's slice, so each arm is the reference with that one value changed, its nuisance "
              f"parameters tuned for the reference's value: {', '.join(fallback)}")
    else:
        print("confirmation: every arm is a searched trial of the reference's slice, its nuisance parameters tuned "
              "for its own value")

    # An errored run is not done: a rerun with --resume tries it again.
    run_rows = db.rows(confirm_runs, name)  # read once: the runs done, and the ETA's costs
    done = {(r["arm_key"], r["seed"]) for r in run_rows if r["status"] not in (None, "errored")}
    todo = run_order(list(distinct), seeds, done)
    print(f"confirmation: {len(distinct)} configurations x {len(seeds)} seeds = {len(distinct) * len(seeds)} runs, "
          f"{len(todo)} to do", flush=True)
    run_overrides = {**overrides, "epochs": b.confirm_epochs, "data_fraction": b.confirm_data_fraction}

    def record(job: tuple[str, int], out: dict, error: str | None) -> None:
        key, seed = job
        db.upsert_confirm_run(name, key, seed, status=out["status"], epochs=out["epochs"],
                              data_fraction=out["config"].get("data_fraction", b.confirm_data_fraction),
                              val_acc=out["val_acc"],
                              test_acc=out["test_acc"], train_acc=out.get("train_acc"),
                              test_correct=out.get("test_correct"), config=out["config"],
                              wall_time=out["wall_time"], error=error)

    costs = expected_costs(todo, distinct, run_rows, trial_rows,
                           b.confirm_epochs, b.confirm_data_fraction, steps > 0)
    retrain(args, data, {(key, seed): (distinct[key].config, run_overrides, seed) for key, seed in todo},
            label=lambda job: f"{'; '.join(names[job[0]])} seed {job[1]}", record=record, correct_mask=True,
            costs=costs)
