"""Scaling laws: saturating power laws error = a * x^(-b) + c fitted to the best error reached at each training-set
size, parameter count and training compute, with bootstrap confidence intervals for the exponent b; and the
system view (trials per hour, accelerator-hours) against the number of workers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from ganrator.data import COUNTS

from ..load import Study
from ..present.words import words
from .intervals import FITTED

TEMPLATE = "scaling.md.j2"  # the notes, worded from the numbers and rules here


def power_law(x, a, b, c):
    return a * np.power(x, -b) + c


# The rules that make a fit "exploratory" (scaling_table's note, fit_note, states them in words):
MIN_DISTINCT_X = 4  # a saturating law has 3 parameters: fewer distinct x values cannot fit it at all


MIN_DISTINCT_X_IDENTIFIED = 5  # with 4, the fit passes through every point and says nothing about misfit


MAX_FAILED_REFITS = 0.25  # share of bootstrap resamples the fit could not use


C_BOUND_TOL = 0.01  # c within 1% of the smallest error of 0 or of the smallest error: at a bound


N_BOOT = 300


C_PROFILE = (0.0, 0.5, 0.9)  # c as shares of the smallest error, for b's dependence on an unidentified floor


@dataclass(frozen=True)  # shared by the table and the figure through fit_power_law's cache
class PowerLawFit:
    a: float
    b: float  # the scaling exponent
    c: float  # irreducible error
    b_low: float  # bootstrap 95% interval of b, over the kept refits
    b_high: float
    n: int  # points
    distinct_x: int
    boot_kept: int  # bootstrap refits that converged on a resample with enough distinct x values ...
    boot_drawn: int  # ... out of the resamples drawn
    c_low: float  # bootstrap 95% interval of c
    c_high: float
    c_bound: str | None  # None: c and its interval lie inside its range; "0" or "the smallest error": not so
    pure_a: float  # the pure power law error = a x^-b (c = 0), a straight line in log-log
    pure_b: float
    pure_b_low: float
    pure_b_high: float
    # b with c held at these shares of the smallest error (C_PROFILE): how much b rests on c when c is not identified
    b_profile: tuple[float, ...] = ()

    @property
    def boot(self) -> int:
        return self.boot_kept

    @property
    def c_identified(self) -> bool:
        return self.c_bound is None

    @property
    def exploratory(self) -> list[str]:
        """Why the fit should not be read as a measured law (empty: it may be)."""
        why = []
        if self.distinct_x < MIN_DISTINCT_X_IDENTIFIED:
            why.append(f"{self.distinct_x} distinct x values (< {MIN_DISTINCT_X_IDENTIFIED})")
        if not self.c_identified:
            why.append(f"c not identified (at {self.c_bound})")
        width = self.b_high - self.b_low
        if not math.isfinite(width) or width > self.b:
            why.append("b interval wider than b" if math.isfinite(width) else "no b interval")
        if self.boot_kept < (1 - MAX_FAILED_REFITS) * self.boot_drawn:
            why.append(f"{self.boot_drawn - self.boot_kept}/{self.boot_drawn} refits failed "
                       f"(> {MAX_FAILED_REFITS:.0%})")
        return why

    def predict(self, x):
        return power_law(np.asarray(x, dtype=float), self.a, self.b, self.c)

    def predict_pure(self, x):
        return power_law(np.asarray(x, dtype=float), self.pure_a, self.pure_b, 0.0)


def _pure_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) of log y = log a - b log x by least squares."""
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(np.exp(intercept)), float(-slope)


def b_profile(x, y) -> tuple[float, ...]:
    """b of log(y - c) = log a - b log x with c held at each share of C_PROFILE of the smallest y."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return tuple(_pure_fit(x, y - share * y.min())[1] for share in C_PROFILE)


def _fit_once(x: np.ndarray, log_y: np.ndarray,
              start: tuple[float, float, float] | None = None) -> tuple[float, float, float] | None:
    """Least squares on log error: a relative misfit counts the same at 30% error as at 3%, so the small errors
    of the large-x points (where c shows) are not drowned by the large ones. None when the optimizer fails.
    start: (a, b, c) of a fit to nearby data (a bootstrap refit starts from the point fit), else several starts."""
    from scipy.optimize import least_squares

    # Fit in units where x starts at 1: a stays O(y) and the optimizer is well conditioned.
    scale = x.min()
    xs = x / scale
    log_xs, y_min = np.log(xs), float(np.exp(log_y.min()))
    slope, intercept = np.polyfit(log_xs, log_y, 1)
    b0 = min(max(-slope, 0.01), 2.9)

    def curve(p):
        power = np.exp(p[0] - p[1] * log_xs)
        return power, power + p[2]

    def residual(p):
        return np.log(curve(p)[1]) - log_y

    def jacobian(p):
        power, f = curve(p)
        return np.column_stack([power / f, -power * log_xs / f, 1.0 / f])

    if start is not None:
        a1, b1, c1 = start
        starts = [(math.log(max(a1 * scale ** -b1, 1e-12)), min(max(b1, 0.0), 3.0), min(max(c1, 0.0), y_min))]
    else:  # c from several starts: the log-space cost has local minima along c
        starts = [(math.log(max(math.exp(intercept) - share * y_min, 1e-6 * y_min)), b0, share * y_min)
                  for share in (0.1, 0.5, 0.9)]
    best = None
    for p0 in starts:
        try:
            r = least_squares(residual, p0, jac=jacobian, bounds=([-50.0, 0.0, 0.0], [50.0, 3.0, y_min]))
        except ValueError:  # non-finite residuals at the start
            continue
        if r.success and np.isfinite(r.cost) and (best is None or r.cost < best.cost):
            best = r
    if best is None:
        return None
    log_a, b, c = best.x
    return float(np.exp(log_a) * scale ** b), float(b), float(c)  # back to the original units of x


def _c_bound(c_rel: float, low_rel: float, high_rel: float) -> str | None:
    """Which bound c sits at or its interval reaches, with c given as a share of the smallest error (its range is
    [0, 1] in these units); None when c and its interval keep clear of both."""
    at_zero, at_top = min(c_rel, low_rel) <= C_BOUND_TOL, max(c_rel, high_rel) >= 1 - C_BOUND_TOL
    if at_zero and at_top:
        return "both bounds"
    if at_zero:
        return "0"
    return "the smallest error" if at_top else None


def fit_power_law(x, y, n_boot: int = N_BOOT, seed: int = 0) -> PowerLawFit:
    """fit_power_law_once, remembered: the docs' table and figure fit the same points, each with its bootstrap."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return _fit_cached(tuple(x.tolist()), tuple(y.tolist()), n_boot, seed)


@lru_cache(maxsize=64)
def _fit_cached(x: tuple, y: tuple, n_boot: int, seed: int) -> PowerLawFit:
    return fit_power_law_once(x, y, n_boot, seed)


def fit_power_law_once(x, y, n_boot: int = N_BOOT, seed: int = 0) -> PowerLawFit:
    """Fit log y = log(a x^-b + c) (a, b, c >= 0, c at most the smallest y) and the pure law c = 0.

    Intervals come from a residual bootstrap in log space: each refit keeps every x value and adds resampled
    residuals (scaled by sqrt(n / (n - 3)) for the parameters fitted) to the fitted curve. Resampling points
    instead would leave many resamples of a handful of x values with too few distinct ones to fit. A refit whose
    optimizer fails is counted as failed, never dropped silently: boot_kept of boot_drawn."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = x[keep], y[keep]
    distinct = len(np.unique(x))
    if distinct < MIN_DISTINCT_X:
        raise ValueError(f"a saturating power law has 3 parameters; need at least {MIN_DISTINCT_X} distinct x "
                         f"values, got {distinct} (counting points with x > 0 and a positive, finite error)")
    log_y = np.log(y)
    fitted = _fit_once(x, log_y)
    if fitted is None:
        raise RuntimeError("the least-squares fit of a x^-b + c did not converge on these points")
    a, b, c = fitted
    pure_a, pure_b = _pure_fit(x, y)
    fit_log = np.log(power_law(x, a, b, c))
    pure_log = np.log(power_law(x, pure_a, pure_b, 0.0))
    res = (log_y - fit_log) * math.sqrt(len(x) / max(1, len(x) - 3))
    pure_res = (log_y - pure_log) * math.sqrt(len(x) / max(1, len(x) - 2))
    rng = np.random.default_rng(seed)
    bs, cs, c_rel, pure_bs = [], [], [], []
    for _ in range(n_boot):
        idx = rng.integers(0, len(x), len(x))
        pure_bs.append(_pure_fit(x, np.exp(pure_log + pure_res[idx]))[1])
        boot_log = fit_log + res[idx]
        refit = _fit_once(x, boot_log, start=(a, b, c))
        if refit is not None:
            bs.append(refit[1])
            cs.append(refit[2])
            c_rel.append(refit[2] / np.exp(boot_log.min()))  # where c sits in its range [0, smallest error]
    low, high = np.percentile(bs, [2.5, 97.5]) if bs else (math.nan, math.nan)
    c_low, c_high = np.percentile(cs, [2.5, 97.5]) if cs else (math.nan, math.nan)
    rel = np.percentile(c_rel, [2.5, 97.5]) if c_rel else (c / y.min(), c / y.min())
    p_low, p_high = np.percentile(pure_bs, [2.5, 97.5])
    return PowerLawFit(a, b, c, float(low), float(high), len(x), distinct, len(bs), n_boot, float(c_low),
                       float(c_high), _c_bound(c / y.min(), *rel), pure_a, pure_b, float(p_low), float(p_high),
                       b_profile(x, y))


def train_size(config: dict) -> int:
    """Training images a trial used: its stratified fraction of the 60k minus the validation split
    (the rule of FashionMNIST.subsample, at least one image per class)."""
    return max(10, round(config.get("data_fraction", 1.0) * (COUNTS["train"] - config.get("val_size", 5000))))


def scaling_points(study: Study) -> pd.DataFrame:
    """One row per full-budget trial: training-set size, parameter count, training FLOPs and validation error (the
    search's view, `metric` val; the confirmation's test error is confirmed_points')."""
    t = study.trials[(study.trials["status"] == "completed") & study.trials["config"].notna()].copy()
    if not len(t):
        return pd.DataFrame(columns=["trial_id", "model", "train_size", "params", "train_flops", "error", "val_error",
                                     "metric"])
    rows = []
    for _, r in t.iterrows():
        cfg = r["config"]
        n = train_size(cfg)
        epochs = int(r["epochs"] or cfg.get("epochs", 1))
        # A step budget (TrainConfig.steps) ends mid-epoch: count the images its steps drew, not whole epochs.
        seen = int(cfg["steps"]) * min(int(cfg.get("batch_size", 256)), n) if cfg.get("steps") else n * epochs
        # the search view reads validation, which chose its points; a final evaluation's test is reported elsewhere
        acc, metric = r["last_val_acc"], "val"
        rows.append({"trial_id": r["trial_id"], "model": cfg.get("model", "?"), "train_size": n,
                     "params": r["param_count"], "train_flops": 3.0 * (r["flops"] or math.nan) * seen,
                     "error": 1.0 - acc, "val_error": 1.0 - r["last_val_acc"], "metric": metric})
    return pd.DataFrame(rows)


_PARAM_COUNTS: dict[tuple, int] = {}  # (model, its kwargs) -> parameters: each network is built once


def model_params(config: dict) -> int:
    """Parameters of the network a run's config builds (model and model_kwargs; the registry's own model)."""
    key = (config.get("model", "?"), tuple(sorted((config.get("model_kwargs") or {}).items())))
    if key not in _PARAM_COUNTS:
        from ganrator.models import create_model  # torch, only when a confirmed model-size axis is shown

        _PARAM_COUNTS[key] = sum(p.numel() for p in create_model(key[0], **dict(key[1])).parameters())
    return _PARAM_COUNTS[key]


def confirmed_axes(study: Study) -> list[tuple[str, str, str]]:
    """(param, x column, row label) of each confirmed scientific parameter that is a scaling axis: data_fraction
    (training images), and a model argument with at least MIN_DISTINCT_X values (e.g. cnn.width: parameters,
    the other scientific values held at the reference's)."""
    from ..load import load_confirmation

    arms, _ = load_confirmation(study)
    if not len(arms):
        return []
    out = []
    for param in dict.fromkeys(arms["param"]):
        if param == "data_fraction":
            out.append((param, "train_size", "training images (confirmed)"))
        elif "." in param and arms.loc[arms["param"] == param, "value"].nunique() >= MIN_DISTINCT_X:
            out.append((param, "params", f"parameters (confirmed, {param})"))
    return sorted(out, key=lambda axis: axis[0] != "data_fraction")  # training images first, as in AXES


def confirmed_points(study: Study, param: str = "data_fraction") -> pd.DataFrame:
    """One row per value of the confirmation's `param` arms (tuning/confirm.py: at each value the best search trial
    of the reference's other scientific values, else the reference's configuration, retrained on fresh seeds): its
    training-set size and parameter count, the mean test error over its seeds, their number, the arm's value,
    source and learning rate."""
    from ..load import load_confirmation

    arms, runs = load_confirmation(study)
    searched = [p for p in study.trials["params"] if isinstance(p, dict)]
    rows = []
    for _, arm in arms[arms["param"] == param].iterrows() if len(arms) else []:
        r = runs[(runs["arm_key"] == arm["arm_key"]) & runs["test_acc"].notna() & (runs["status"] != "errored")]
        configs = [c for c in r["config"] if isinstance(c, dict)]
        if not configs:
            continue
        rows.append({"value": arm["value"], "train_size": train_size(configs[0]),
                     "params": model_params(configs[0]) if param != "data_fraction" else math.nan,
                     "error": 1.0 - float(r["test_acc"].mean()), "seeds": len(r), "metric": "test",
                     "seed_errors": [1.0 - float(a) for a in r["test_acc"]],
                     "source": arm["source"], "lr": configs[0].get("lr"),
                     "search_trials": _same_science(study, searched, arm["config"]),
                     "train_acc": float(pd.to_numeric(r["train_acc"], errors="coerce").mean())})
    out = pd.DataFrame(rows, columns=["value", "train_size", "params", "error", "seeds", "metric", "source", "lr",
                                      "search_trials", "train_acc", "seed_errors"])
    return out.sort_values("params" if param != "data_fraction" else "train_size").reset_index(drop=True)


def _same_science(study: Study, searched: list[dict], config) -> int:
    """How many search trials drew the arm's scientific values (its tuned settings are the best of that many)."""
    if not isinstance(config, dict):
        return 0

    def same(a, b) -> bool:
        if a is None or b is None:
            return a is None and b is None
        try:
            return float(a) == float(b)
        except (TypeError, ValueError):
            return a == b

    return sum(all(same(p.get(k), config.get(k)) for k in study.scientific()) for p in searched)


def confirmed_sources(points: pd.DataFrame, param: str = "data_fraction") -> str:
    """Where each confirmed point's configuration came from, with its learning rate: points whose arm is a search
    trial kept that trial's tuned rate, the others the reference's, so the curve may not be at one tuning. Which
    points' runs ended below FITTED training accuracy: at the fixed step count they were still learning, so their
    error is bounded by compute, not by their data or size (a floor c fitted through them is that of the step
    budget). Worded in templates/scaling.md.j2."""
    if not len(points):
        return ""

    def point(r: dict) -> dict:
        lr = r["lr"] if isinstance(r["lr"], (int, float)) and math.isfinite(r["lr"]) else None
        trials = int(r["search_trials"]) if "search_trials" in r and pd.notna(r["search_trials"]) else None
        return {"size": r.get("train_size"), "value": r.get("value"), "params": r.get("params"),
                "source": r["source"], "lr": lr, "trials": trials, "train_acc": r.get("train_acc")}

    lrs = {round(float(r), 12) for r in points["lr"] if isinstance(r, (int, float)) and math.isfinite(r)}
    known = points[np.isfinite(points["train_acc"])] if "train_acc" in points else points.iloc[:0]
    short = known[known["train_acc"] < FITTED] if len(known) else known
    return words(TEMPLATE, "sources", param=param, points=[point(r) for r in points.to_dict("records")],
                 lrs=len(lrs), known=len(known), short=[point(r) for r in short.to_dict("records")],
                 threshold=100 * FITTED)


def frontier(points: pd.DataFrame, x: str) -> pd.DataFrame:
    """The best trial at each x value; for compute, the Pareto frontier (no cheaper point is better). Chosen on
    validation error where the points carry it: a test error only reports the chosen trial, never picks it."""
    by = "val_error" if "val_error" in points else "error"
    p = points.dropna(subset=[x, "error", by]).sort_values(x, kind="stable")
    if x == "train_flops":
        best, keep = math.inf, []
        for i, e in zip(p.index, p[by]):
            if e < best:
                best = e
                keep.append(i)
        return p.loc[keep].reset_index(drop=True)
    return p.loc[p.groupby(x)[by].idxmin()].sort_values(x).reset_index(drop=True)


AXES = (("train_size", "training images"), ("params", "parameters"), ("train_flops", "training FLOPs"))


SEARCH_VIEW = "search view"  # the rows fitted to search trials: each x's best draw, mixing models and rates


def fit_note() -> str:
    """The scaling table's note: how each row is fitted and read (the rules above, in words)."""
    return words(TEMPLATE, "fit_note", search_view=SEARCH_VIEW, c_bound_tol=C_BOUND_TOL,
                 min_distinct=MIN_DISTINCT_X_IDENTIFIED, max_failed=MAX_FAILED_REFITS)


def fit_row(points: pd.DataFrame, x: str) -> dict:
    """The fit of error against `x` as one table row (NaN and a `note` when it cannot be fitted)."""
    row: dict = {"points": len(points),
                 "metric": ",".join(sorted(set(points["metric"]))) if len(points) else ""}
    try:
        fit = fit_power_law(points[x], points["error"])
    except (ValueError, RuntimeError) as e:
        return {**row, **{k: math.nan for k in ("a", "b", "b_ci_low", "b_ci_high", "c", "c_ci_low", "c_ci_high",
                                                "b_pure", "b_pure_low", "b_pure_high")},
                "c_identified": False, "c_status": "—", "refits_kept": 0, "refits_drawn": 0, "exploratory": True,
                "reading": f"no fit: {e}", "note": str(e)}
    why = fit.exploratory
    return {**row, "a": fit.a, "b": fit.b, "b_ci_low": fit.b_low, "b_ci_high": fit.b_high, "c": fit.c,
            "c_ci_low": fit.c_low, "c_ci_high": fit.c_high, "c_identified": fit.c_identified,
            "c_status": "identified" if fit.c_identified else f"not identified (at {fit.c_bound})",
            "b_pure": fit.pure_b, "b_pure_low": fit.pure_b_low, "b_pure_high": fit.pure_b_high,
            "b_profile": fit.b_profile,
            "refits_kept": fit.boot_kept, "refits_drawn": fit.boot_drawn, "exploratory": bool(why),
            "reading": "exploratory: " + "; ".join(why) if why else "measured"}


def axis_points(study: Study, points: pd.DataFrame, x: str) -> tuple[pd.DataFrame, str]:
    """The search's points of one axis and its label. Where the search varied the training-set size, the model axes
    (parameters, FLOPs) keep only the trials on the reference's size: a parameter count's best trial would
    otherwise come from whichever size it drew, and at a fixed step count a trial's FLOPs follow its model only."""
    label = f"{dict(AXES)[x]} ({SEARCH_VIEW})"
    if x == "train_size" or "data_fraction" not in study.scientific() or not len(points):
        return points, label
    from .search import reference_trial

    ref = reference_trial(study)
    if ref is None or not isinstance(ref["config"], dict):
        return points, label
    held = train_size(ref["config"])
    return points[points["train_size"] == held], f"{dict(AXES)[x]} ({SEARCH_VIEW}, trials on {held:,} images)"


def scaling_table(study: Study) -> pd.DataFrame:
    """Fitted exponents against training-set size, parameter count and training FLOPs, each said to be measured
    or exploratory (fit_note)."""
    points = scaling_points(study)
    rows = []
    for x, _ in AXES:
        on_axis, label = axis_points(study, points, x)
        f = frontier(on_axis, x) if len(on_axis) else on_axis
        rows.append({"axis": label, **fit_row(f, x)})
    sources = []
    for param, x, label in confirmed_axes(study):  # the search's axis again, with seeds: the row to quote
        confirmed = confirmed_points(study, param)
        if not len(confirmed):
            continue
        seeds = sorted(set(confirmed["seeds"]))
        # Each seed is a point: the residual bootstrap then resamples the seeds' scatter too, not only the misfit
        # of the means (the points column counts seeds x values; the distinct-x rules count values).
        per_seed = confirmed.explode("seed_errors").assign(error=lambda d: d["seed_errors"].astype(float))
        row = fit_row(per_seed, x)
        row["metric"] = f"test, each of {'/'.join(map(str, seeds))} seeds a point"
        rows.append({"axis": label, **row})
        sources.append(confirmed_sources(confirmed, param))
    out = pd.DataFrame(rows)
    out.attrs.update(title="Scaling exponents", note=fit_note(), sources=" ".join(sources))
    return out


def system_throughput(study: Study) -> dict:
    """Trials per hour and accelerator-hours of one study, with the workers and nodes it ran on."""
    t = study.trials[study.trials["ended_at"].notna() & study.trials["started_at"].notna()]
    if not len(t):
        return {"study": study.name, "trials": 0}
    span_h = (t["ended_at"].max() - t["started_at"].min()) / 3600
    per_trial = np.where(t["gpus"].fillna(0) > 0, t["gpus"].fillna(0), t["cpus"].fillna(1))
    search = study.meta.get("search") or {}
    return {"study": study.name, "nodes": int(t["node"].nunique()), "workers": search.get("max_concurrent"),
            "trials": len(t), "hours": span_h, "trials_per_hour": len(t) / span_h if span_h > 0 else math.nan,
            "accelerator_hours": float((per_trial * t["wall_time"].fillna(0)).sum() / 3600),
            "accelerator": "GPU" if (t["gpus"].fillna(0) > 0).any() else "CPU"}


def system_scaling(studies: list[Study]) -> pd.DataFrame:
    """Throughput against the number of workers, across studies of the same work on different clusters."""
    out = pd.DataFrame([system_throughput(s) for s in studies]).sort_values("workers").reset_index(drop=True)
    if len(out) and out["trials_per_hour"].notna().any():
        out["speedup"] = out["trials_per_hour"] / out["trials_per_hour"].iloc[0]
    return out

