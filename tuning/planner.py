"""What a plan's study does next, from the runs it has: a pure function of the plan and the finished runs' rows.

Every run is a (configuration, seed) job with a key; a study resumes by asking again. Decisions are derived, never
stored: each point's length (the ladder rule on the pilot seeds), its configuration (the best validation accuracy on
the grid, extended where the choice sits at an edge), and the number of augmentation pairs (the power rule on the
validation differences). Test accuracy is never read here: it only reports.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from tuning.plan import TRAIN_IMAGES, Family, Plan, base_steps, pairs_needed

BATCH = 256  # the recipe's batch size; a plan that sets another one in deep.fixed uses that
PURPOSES = ("pilot", "tune", "confirm", "secondary")


@dataclass(frozen=True)
class Job:
    family: str  # deep | classical
    arm: str  # cnn, the augmentation candidate's name, classical, or secondary:<arm>
    size: int  # training images
    steps: int  # optimizer steps; 0 for a classical fit
    params: tuple[tuple[str, Any], ...]  # the config's fields beside size, length and seeds, sorted
    seed: int
    data_seed: int
    purpose: str  # pilot | tune | confirm | secondary
    test: bool  # scored on test at the end: confirmation seeds only

    @property
    def key(self) -> str:
        what = [self.family, self.size, self.steps, list(self.params), self.seed, self.data_seed]
        return hashlib.sha1(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:20]

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def label(self) -> str:
        length = f", {self.steps} steps" if self.steps else ""
        point = ", ".join(f"{k} {v:g}" for k, v in self.params if isinstance(v, float) and k in _GRID_KEYS)
        return f"{self.purpose} {self.arm} @ {self.size:,} images{length} ({point}), seed {self.seed}"


_GRID_KEYS = {"lr", "weight_decay", "C", "gamma_factor"}


@dataclass
class Point:
    """Decisions for one arm at one size, as far as the runs allow."""
    family: str
    arm: str
    size: int
    base: int = 0  # L, optimizer steps
    length: int | None = None  # chosen optimizer steps (deep); 0 for classical
    capped: bool = False  # the ladder's last rung was still gaining
    ladder: dict[int, float] = field(default_factory=dict)  # steps -> mean pilot validation accuracy
    grid: dict[tuple[float, float], float] = field(default_factory=dict)  # grid point -> validation accuracy
    axes: dict[str, tuple[float, ...]] = field(default_factory=dict)  # grid axes after extensions
    edge: list[str] = field(default_factory=list)  # axes whose choice still sits at an edge after the cap
    choice: dict[str, float] | None = None  # the chosen grid point
    seeds: list[int] = field(default_factory=list)  # confirmation seeds asked for
    runs: list[dict] = field(default_factory=list)  # finished confirmation rows

    @property
    def length_text(self) -> str:
        """`1,200 steps (cap)`, `length pending`, or empty for a classical fit."""
        if self.family == "classical":
            return ""
        return f"{self.length:,} steps{' (cap)' if self.capped else ''}" if self.length else "length pending"

    @property
    def choice_text(self) -> str:
        return ", ".join(f"{k} {v:g}" for k, v in self.choice.items()) if self.choice else "grid pending"


@dataclass
class State:
    jobs: list[Job]  # runnable now: every decision they need is made, and they have no finished row
    points: dict[tuple[str, int], Point]
    pairs: int  # augmentation pairs asked for
    pairs_sd: float | None  # spread of the validation differences that sized them


def _params(*parts: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    merged: dict[str, Any] = {}
    for p in parts:
        merged.update(p)
    return tuple(sorted(merged.items()))


def _mean(values: list[float]) -> float:
    return statistics.fmean(values)


def _extend(values: tuple[float, ...], up: bool) -> tuple[float, ...]:
    ratio = (values[-1] / values[0]) ** (1 / (len(values) - 1))
    return values + (float(f"{values[-1] * ratio:.4g}"),) if up else (float(f"{values[0] / ratio:.4g}"),) + values


class _Planner:
    def __init__(self, plan: Plan, done: dict[str, dict]):
        self.plan, self.done = plan, done
        self.jobs: list[Job] = []
        self.queued: set[str] = set()  # one run can serve several roles (a pilot run is also a grid point)
        self.points: dict[tuple[str, int], Point] = {}

    def ok(self, job: Job) -> dict | None:
        row = self.done.get(job.key)
        return row if row is not None and row.get("status") == "completed" else None

    def need(self, job: Job) -> dict | None:
        """The finished row of `job`, or None after queueing it."""
        row = self.ok(job)
        if row is None and job.key not in self.queued:
            self.queued.add(job.key)
            self.jobs.append(job)
        return row

    def fraction_seed(self, size: int, seed: int) -> int:
        return seed if size < TRAIN_IMAGES else 0  # all the images: nothing to draw

    # -- one arm at one size --------------------------------------------------------------------------------------
    def point(self, family: Family, kind: str, arm: str, size: int, ops: dict[str, Any]) -> Point:
        pt = Point(kind, arm, size)
        self.points[(arm, size)] = pt
        centre = {k: v[len(v) // 2] for k, v in family.grid.items()}
        tune_seed = self.plan.seeds.tuning
        if kind == "deep":
            batch = int(family.fixed.get("batch_size", BATCH))
            pt.base = base_steps(family.length, size, batch)
            if not self.ladder(pt, family, arm, size, {**family.fixed, **ops, **centre}):
                return pt
        else:
            pt.length = 0
        self.tune(pt, family, kind, arm, size, ops, tune_seed)
        return pt

    def ladder(self, pt: Point, family: Family, arm: str, size: int, config: dict[str, Any]) -> bool:
        rule = family.length
        for i, m in enumerate(rule.ladder):
            steps = m * pt.base
            rows = [self.need(Job("deep", arm, size, steps, _params(config), s, self.fraction_seed(size, s), "pilot",
                                  False)) for s in self.plan.seeds.pilot_at(size)]
            if any(r is None for r in rows):
                return False
            pt.ladder[steps] = _mean([r["val_acc"] for r in rows])
            if i == 0:
                continue
            prev = rule.ladder[i - 1] * pt.base
            if pt.ladder[steps] - pt.ladder[prev] < rule.gain:
                pt.length = prev
                return True
        pt.length, pt.capped = rule.ladder[-1] * pt.base, True
        return True

    def tune(self, pt: Point, family: Family, kind: str, arm: str, size: int, ops: dict[str, Any], seed: int) -> None:
        (a, av), (b, bv) = family.grid.items()
        steps_used = {a: 0, b: 0}
        while True:
            rows = {}
            for x, y in itertools.product(av, bv):
                job = Job(kind, arm, size, pt.length, _params(family.fixed, ops, {a: x, b: y}), seed,
                          self.fraction_seed(size, seed), "tune", False)
                rows[(x, y)] = self.need(job)
            pt.axes = {a: av, b: bv}
            if any(r is None for r in rows.values()):
                return
            pt.grid = {k: r["val_acc"] for k, r in rows.items()}
            centre = (av[len(av) // 2], bv[len(bv) // 2])
            # the best validation accuracy; a tie goes to the point nearer the grid's centre (in log steps)
            best = max(pt.grid, key=lambda k: (pt.grid[k], -abs(math.log(k[0] / centre[0])) -
                                               abs(math.log(k[1] / centre[1]))))
            grown = False
            for axis, values, v in ((a, av, best[0]), (b, bv, best[1])):
                if v in (values[0], values[-1]) and steps_used[axis] < self.plan.extension_steps:
                    steps_used[axis] += 1
                    grown = True
                    if axis == a:
                        av = _extend(av, v == values[-1])
                    else:
                        bv = _extend(bv, v == values[-1])
            if not grown:
                pt.choice = {a: best[0], b: best[1]}
                pt.edge = [ax for ax, vals, v in ((a, av, best[0]), (b, bv, best[1])) if v in (vals[0], vals[-1])]
                return

    def confirm(self, pt: Point, family: Family, ops: dict[str, Any], seeds: list[int],
                purpose: str = "confirm") -> list[dict | None]:
        pt.seeds = seeds
        out = [self.need(Job(pt.family, pt.arm, pt.size, pt.length, _params(family.fixed, ops, pt.choice), s,
                             self.fraction_seed(pt.size, s), purpose, True)) for s in seeds]
        pt.runs = [r for r in out if r is not None]
        return out

    # -- the study ------------------------------------------------------------------------------------------------
    def run(self) -> State:
        plan = self.plan
        fresh = [plan.seeds.fresh + i for i in range(plan.seeds.per_point)]
        aug = plan.augmentation
        pairs, sd = max(plan.seeds.per_point, aug.power.start_pairs), None
        for size in plan.sizes:
            for kind, family, arm in (("deep", plan.deep, "cnn"), ("classical", plan.classical, "classical")):
                pt = self.point(family, kind, arm, size, {})
                if pt.choice is not None and not (arm == "cnn" and size == aug.size):  # there: the pairs below
                    self.confirm(pt, family, {}, fresh)
        base = self.points[("cnn", aug.size)]
        cand = self.point(self.plan.deep, "deep", aug.candidate_name, aug.size, aug.candidate)
        if base.choice is not None and cand.choice is not None:
            while True:
                seeds = [plan.seeds.fresh + i for i in range(pairs)]
                a = self.confirm(base, plan.deep, {}, seeds)
                b = self.confirm(cand, plan.deep, aug.candidate, seeds)
                if any(r is None for r in a + b):
                    break
                diffs = [y["val_acc"] - x["val_acc"] for x, y in zip(a, b)]
                sd = statistics.stdev(diffs)
                more = pairs_needed(sd, aug.power, pairs)
                if more <= pairs:
                    break
                pairs = more
        elif base.choice is not None:
            self.confirm(base, plan.deep, {}, [plan.seeds.fresh + i for i in range(pairs)])
        self.secondary(fresh)
        order = {p: i for i, p in enumerate(PURPOSES)}
        # small sizes first: their points finish (pilot, grid, seeds) while the large ones wait
        jobs = sorted(self.jobs, key=lambda j: (j.size, order[j.purpose], j.steps, j.family, j.seed))
        return State(jobs, self.points, pairs, sd)

    def secondary(self, seeds: list[int]) -> None:
        sec = self.plan.augmentation.secondary
        base = self.points[("cnn", sec.size)]
        if base.choice is None:
            return
        for name, ops in sec.arms.items():
            arm = "cnn" if name == "none" else f"secondary:{name}"
            rungs = sec.lengths if name in ("none", self.plan.augmentation.candidate_name) else (None,)
            for m in rungs:
                steps = base.length if m is None else m * base.base
                for s in seeds:
                    self.need(Job("deep", arm, sec.size, steps, _params(self.plan.deep.fixed, ops, base.choice), s,
                                  self.fraction_seed(sec.size, s), "secondary", True))


def next_jobs(plan: Plan, done: dict[str, dict]) -> State:
    """The study's decisions so far and the jobs that can run now. done: job key -> its row (status, val_acc ...)."""
    return _Planner(plan, done).run()
