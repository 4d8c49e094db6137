"""A planned study's answers (tuning/study.py): learning curves of each family with intervals over fresh seeds, the
paired deep-minus-classical difference and the crossover size, power-law fits on seed means checked on a held-out
size, and the augmentation comparison with its achieved precision and the smallest effect its design detects.

Every function takes the study's run rows (load_plan_runs) and its plan; the decisions (each point's length and
configuration) are the planner's own, recomputed from the same rows, so the write-up cannot drift from what ran.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from tuning.plan import Plan
from tuning.planner import State, next_jobs

from .intervals import mean_ci
from .paired import holm, paired_p
from .power import paired_detectable
from .scaling import C_BOUND_TOL, _fit_once, power_law

N_BOOT = 1000
DEEP, CLASSICAL = "cnn", "classical"


def load_plan_runs(url: str, study: str) -> pd.DataFrame:
    """The study's run rows, one per (configuration, seed), from its database."""
    import sqlalchemy as sa

    from tuning.db import make_engine, plan_runs

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(sa.select(plan_runs).where(plan_runs.c.study == study)).mappings()]
    finally:
        engine.dispose()
    return pd.DataFrame(rows)


def decisions(plan: Plan, runs: pd.DataFrame) -> State:
    done = {r["job_key"]: r for r in runs.to_dict("records")} if len(runs) else {}
    return next_jobs(plan, done)


def interval(values, level: float = 0.95) -> tuple[float, float, float, int]:
    """(mean, low, high, n) of mean_ci's t-interval; NaN bounds with fewer than 2 values."""
    mean, half, n = mean_ci(values, level)
    return mean, mean - half, mean + half, n


def confirmed(plan: Plan, runs: pd.DataFrame, state: State | None = None) -> pd.DataFrame:
    """One row per (arm, size) with confirmation runs: length, chosen settings, test and training accuracy."""
    state = state or decisions(plan, runs)
    by_key = runs.set_index("job_key") if len(runs) else runs
    out = []
    for (arm, size), pt in state.points.items():
        rows = [r for r in pt.runs]
        if not rows:
            continue
        test = [r["test_acc"] for r in rows]
        mean, low, high, n = interval(test)
        train = [r.get("train_acc") for r in rows if r.get("train_acc") is not None]
        out.append({"arm": arm, "family": pt.family, "size": size, "steps": pt.length, "capped": pt.capped,
                    "choice": pt.choice, "edge": pt.edge, "grid_points": len(pt.grid), "seeds": n,
                    "asked": len(pt.seeds), "test": mean, "test_low": low, "test_high": high,
                    "val": float(np.mean([r["val_acc"] for r in rows])),
                    "train": float(np.mean(train)) if train else math.nan,
                    "fitted": bool(train) and float(np.mean(train)) >= plan.deep.length.fitted
                    if pt.family == "deep" else None})
    del by_key
    return pd.DataFrame(out).sort_values(["arm", "size"]).reset_index(drop=True) if out else pd.DataFrame()


def _by_seed(pt_runs: list[dict]) -> dict[int, float]:
    return {int(r["seed"]): float(r["test_acc"]) for r in pt_runs if r.get("test_acc") is not None}


def family_differences(plan: Plan, state: State) -> pd.DataFrame:
    """CNN minus classical at each size, in test accuracy. Below the full size both families trained on the same
    subsets (seed k draws subset k), so the difference pairs by seed. At the full size there is no subset to draw:
    a classical seed changes only PCA's randomized solver, so its runs are not replicates and the interval is
    Welch's over the two families' seeds. Holm over the sizes."""
    out = []
    for size in plan.sizes:
        d, c = state.points.get((DEEP, size)), state.points.get((CLASSICAL, size))
        if d is None or c is None:
            continue
        a, b = _by_seed(d.runs), _by_seed(c.runs)
        if size < plan.full_size:
            seeds = sorted(set(a) & set(b))
            diffs = [a[s] - b[s] for s in seeds]
            mean, low, high, n = interval(diffs)
            p = paired_p(diffs) if n >= 2 else math.nan
            how = "paired"
        else:
            x, y = np.array(list(a.values())), np.array(list(b.values()))
            n = min(len(x), len(y))
            if n < 2:
                continue
            mean = float(x.mean() - y.mean())
            va, vb = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
            se = math.sqrt(va + vb)
            dof = (va + vb) ** 2 / (va ** 2 / (len(x) - 1) + (vb ** 2 / (len(y) - 1) if vb > 0 else 0)) \
                if va + vb > 0 else len(x) - 1
            half = stats.t.ppf(0.975, dof) * se
            low, high = mean - half, mean + half
            p = float(2 * stats.t.sf(abs(mean) / se, dof)) if se > 0 else (0.0 if mean else 1.0)
            diffs, how = [], "Welch"
        if n == 0:
            continue
        out.append({"size": size, "diff": mean, "low": low, "high": high, "n": n, "p": p, "how": how,
                    "detectable": paired_detectable(diffs) if how == "paired" else math.nan})
    df = pd.DataFrame(out)
    if len(df):
        df["p_holm"] = holm(df["p"].tolist())
    return df


def crossover(plan: Plan, state: State, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """The training-set size at which the CNN's paired advantage over the classical pipeline changes sign, by
    linear interpolation in log size between seed means; its interval from resampling seeds within each size.
    `share`: the share of resamples with a crossing at all."""
    sizes = [s for s in plan.sizes if (DEEP, s) in state.points and (CLASSICAL, s) in state.points]
    paired = {}
    for s in sizes:
        a, b = _by_seed(state.points[(DEEP, s)].runs), _by_seed(state.points[(CLASSICAL, s)].runs)
        if s < plan.full_size:
            common = sorted(set(a) & set(b))
            paired[s] = ("paired", np.array([a[k] - b[k] for k in common]))
        else:
            paired[s] = ("welch", (np.array(list(a.values())), np.array(list(b.values()))))
    sizes = [s for s in sizes if _n(paired[s]) >= 2]
    if len(sizes) < 2:
        return {"size": math.nan, "low": math.nan, "high": math.nan, "share": math.nan, "sizes": sizes}

    def mean_of(entry, rng=None):
        kind, v = entry
        if kind == "paired":
            return float((v if rng is None else rng.choice(v, len(v))).mean())
        x, y = v
        if rng is not None:
            x, y = rng.choice(x, len(x)), rng.choice(y, len(y))
        return float(x.mean() - y.mean())

    def cross(means: list[float]) -> float:
        for (s0, m0), (s1, m1) in zip(zip(sizes, means), zip(sizes[1:], means[1:])):
            if m0 < 0 <= m1 or m0 > 0 >= m1:
                t = m0 / (m0 - m1) if m0 != m1 else 0.0
                return float(math.exp(math.log(s0) + t * (math.log(s1) - math.log(s0))))
        return math.nan

    point = cross([mean_of(paired[s]) for s in sizes])
    rng = np.random.default_rng(seed)
    boots = np.array([cross([mean_of(paired[s], rng) for s in sizes]) for _ in range(n_boot)])
    found = boots[np.isfinite(boots)]
    low, high = (np.percentile(found, [2.5, 97.5]) if len(found) else (math.nan, math.nan))
    return {"size": point, "low": float(low), "high": float(high), "share": len(found) / n_boot, "sizes": sizes}


def _n(entry) -> int:
    kind, v = entry
    return len(v) if kind == "paired" else min(len(v[0]), len(v[1]))


@dataclass(frozen=True)
class CurveFit:
    family: str
    a: float
    b: float
    c: float
    b_low: float
    b_high: float
    c_low: float
    c_high: float
    c_identified: bool
    sizes: tuple[int, ...]  # fitted
    held_out: int
    predicted: float  # error at the held-out size
    predicted_low: float
    predicted_high: float
    measured: float  # its seed-mean error
    measured_low: float
    measured_high: float
    boot_kept: int
    boot_drawn: int
    bend: float  # the size where a * n^-b falls to c: sizes around it would identify c

    @property
    def held_out_ok(self) -> bool:
        """The held-out size's measured interval overlaps the fit's prediction interval."""
        return self.measured_low <= self.predicted_high and self.predicted_low <= self.measured_high


def fit_curve(plan: Plan, state: State, arm: str, n_boot: int = N_BOOT, seed: int = 0) -> CurveFit | None:
    """error = a n^-b + c on the seed means of test error at every size but the held-out one; intervals from
    resampling seeds within each size (each resample refits from the point fit)."""
    errs = {s: 1 - np.array(list(_by_seed(state.points[(arm, s)].runs).values()))
            for s in plan.sizes if (arm, s) in state.points and state.points[(arm, s)].runs}
    fit_sizes = [s for s in plan.sizes if s in errs and s != plan.held_out_size]
    if len(fit_sizes) < 4 or plan.held_out_size not in errs:
        return None
    x = np.array(fit_sizes, dtype=float)
    y = np.array([errs[s].mean() for s in fit_sizes])
    fitted = _fit_once(x, np.log(y))
    if fitted is None:
        return None
    a, b, c = fitted
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        yb = np.array([rng.choice(errs[s], len(errs[s])).mean() for s in fit_sizes])
        r = _fit_once(x, np.log(yb), start=fitted)
        if r is not None:
            boots.append(r)
    boots_a = np.array(boots) if boots else np.full((1, 3), math.nan)
    ho = plan.held_out_size
    pred = power_law(float(ho), a, b, c)
    preds = np.array([power_law(float(ho), *p) for p in boots]) if boots else np.array([math.nan])
    m, lo, hi, _ = interval(errs[ho])
    b_lo, b_hi = np.percentile(boots_a[:, 1], [2.5, 97.5])
    c_lo, c_hi = np.percentile(boots_a[:, 2], [2.5, 97.5])
    y_min = y.min()
    identified = c_lo > C_BOUND_TOL * y_min and c_hi < (1 - C_BOUND_TOL) * y_min
    bend = float((a / c) ** (1 / b)) if c > 0 and b > 0 else math.inf
    p_lo, p_hi = np.percentile(preds, [2.5, 97.5])
    return CurveFit(arm, a, b, c, float(b_lo), float(b_hi), float(c_lo), float(c_hi), bool(identified),
                    tuple(fit_sizes), ho, float(pred), float(p_lo), float(p_hi), m, lo, hi, len(boots), n_boot, bend)


def augmentation(plan: Plan, state: State) -> dict:
    """The primary augmentation comparison: candidate minus none in test accuracy, paired by seed, with the
    achieved half-width, the smallest effect detectable with 80% power, and the validation spread that sized it."""
    aug = plan.augmentation
    base, cand = state.points.get((DEEP, aug.size)), state.points.get((aug.candidate_name, aug.size))
    if base is None or cand is None:
        return {}
    a, b = _by_seed(base.runs), _by_seed(cand.runs)
    seeds = sorted(set(a) & set(b))
    diffs = [b[s] - a[s] for s in seeds]
    mean, low, high, n = interval(diffs)
    return {"diff": mean, "low": low, "high": high, "n": n, "half_width": (high - low) / 2 if n >= 2 else math.nan,
            "p": paired_p(diffs) if n >= 2 else math.nan, "detectable": paired_detectable(diffs),
            "target": aug.power.half_width, "cap": aug.power.max_pairs, "asked": state.pairs,
            "sized_by_val_sd": state.pairs_sd, "base_steps": base.length, "cand_steps": cand.length,
            "base_train": _mean_train(base.runs), "cand_train": _mean_train(cand.runs)}


def _mean_train(rows: list[dict]) -> float:
    v = [r["train_acc"] for r in rows if r.get("train_acc") is not None]
    return float(np.mean(v)) if v else math.nan


def secondary(plan: Plan, runs: pd.DataFrame, state: State) -> pd.DataFrame:
    """Exploratory, at the secondary size: each arm minus none at the same length, paired by seed, Holm over the
    table."""
    sec = plan.augmentation.secondary
    base = state.points.get((DEEP, sec.size))
    if base is None or base.choice is None or not len(runs):
        return pd.DataFrame()
    rows = runs[(runs["purpose"].isin(["secondary", "confirm"])) & (runs["size"] == sec.size) &
                (runs["status"] == "completed") & runs["test_acc"].notna()]
    out = []
    for name, ops in sec.arms.items():
        if name == "none":
            continue
        arm = f"secondary:{name}"
        for steps in sorted(set(rows.loc[rows["arm"] == arm, "steps"])):
            mine = rows[(rows["arm"] == arm) & (rows["steps"] == steps)]
            none = rows[(rows["arm"] == DEEP) & (rows["steps"] == steps) &
                        rows["params"].map(lambda p: all(p.get(k) == v for k, v in base.choice.items()))]
            a = dict(zip(none["seed"], none["test_acc"]))
            b = dict(zip(mine["seed"], mine["test_acc"]))
            seeds = sorted(set(a) & set(b))
            diffs = [b[s] - a[s] for s in seeds]
            mean, low, high, n = interval(diffs)
            out.append({"arm": name, "steps": int(steps), "chosen_length": steps == base.length, "diff": mean,
                        "low": low, "high": high, "n": n, "p": paired_p(diffs) if n >= 2 else math.nan,
                        "detectable": paired_detectable(diffs)})
    df = pd.DataFrame(out)
    if len(df):
        df["p_holm"] = holm(df["p"].tolist())
    return df


def effort(runs: pd.DataFrame) -> pd.DataFrame:
    """Per family: configurations scored on validation, runs, and CPU-seconds spent, by purpose."""
    if not len(runs):
        return pd.DataFrame()
    r = runs[runs["status"] == "completed"].copy()
    r["size_config"] = [json.dumps([size, steps, params], sort_keys=True)
                        for size, steps, params in zip(r["size"], r["steps"], r["params"])]
    g = r.groupby("family")
    return pd.DataFrame({"configurations": g["size_config"].nunique(), "runs": g.size(),
                         "cpu_seconds": g["cpu_seconds"].sum(), "wall_seconds": g["wall_time"].sum()})


def study_db(results: Path, name: str) -> str:
    return f"sqlite:///{(results / f'{name}.db').resolve()}"
