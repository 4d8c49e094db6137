"""Confirmed ablations: each arm of a scientific parameter against the reference, seed k against seed k.

Input: the two confirmation tables (load.load_confirmation). Every arm was retrained on the same fresh seeds, so
seed k of two arms shares data order and initialisation; the difference of their test accuracies is a paired
sample, and its t-interval is far tighter than two independent intervals. McNemar's exact test compares two
models on the same test images, one seed pair at a time (pooling seeds would count the test set several times).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from scipy import stats

from tuning.db import unpack_mask

from ..present.text import format_value
from ..present.words import words
from .intervals import FITTED, mean_ci

TEMPLATE = "paired.md.j2"  # the tables' notes, worded from the numbers attached here

MIN_SEEDS_FOR_INTERVAL = 3


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided exact McNemar p-value: a binomial test on the images exactly one of the two models gets right."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n = only_a + only_b
    if n == 0:
        return 1.0
    return float(min(1.0, 2 * stats.binom.cdf(min(only_a, only_b), n, 0.5)))


# Settings every arm names as its runs trained with, whether searched or fixed: where arms differ in them (each took
# its source trial's draw), a table shows them, so a reader sees what a difference carries besides its parameter.
TRAINED_SHOWN = ("optimizer", "lr", "weight_decay")


def fit_accuracies(runs: pd.DataFrame) -> list[float]:
    """Each run's training accuracy (on its own training images, unaugmented), where it was recorded."""
    return [float(v) for v in runs["train_acc"] if v is not None and not pd.isna(v)] if "train_acc" in runs else []


def trained_settings(runs: pd.DataFrame, exclude: tuple = ()) -> dict:
    """The TRAINED_SHOWN settings a configuration's runs trained with (its first run's config)."""
    configs = [c for c in runs["config"] if isinstance(c, dict)] if "config" in runs else []
    return {k: configs[0][k] for k in TRAINED_SHOWN if configs and k in configs[0] and k not in exclude}


def verdict(low: float, high: float) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"fewer than {MIN_SEEDS_FOR_INTERVAL} seeds: no interval"
    if low <= 0 <= high:
        return "inconclusive"
    return "better than the reference" if low > 0 else "worse than the reference"


def after_holm(text: str, p_holm: float, level: float = 0.05) -> str:
    """A verdict read off one comparison's own interval, qualified where the family's adjustment does not keep it:
    "better" with a Holm p of 0.12 is not a claim the table's family supports."""
    if text.startswith(("better", "worse")) and np.isfinite(p_holm) and p_holm >= level:
        return f"{text} by its own interval, not after Holm"
    return text


def paired_difference(runs: pd.DataFrame, base: pd.DataFrame) -> dict:
    """Test accuracy of `runs` minus `base`, seed by seed (both indexed by seed): the mean, its 95% paired
    t-interval (NaN bounds with fewer than MIN_SEEDS_FOR_INTERVAL pairs), the per-seed values, the verdict and
    the common seeds."""
    common = runs.index.intersection(base.index)
    diffs = (runs.loc[common, "test_acc"] - base.loc[common, "test_acc"]).to_numpy(dtype=float)
    mean, half, n = mean_ci(diffs)
    low, high = (mean - half, mean + half) if n >= MIN_SEEDS_FOR_INTERVAL else (math.nan, math.nan)
    return {"diff_mean": mean, "diff_low": low, "diff_high": high, "diff_per_seed": list(diffs),
            "verdict": verdict(low, high) if n else "no paired seed", "common": common}


def _runs_by_seed(runs: pd.DataFrame, key: str) -> pd.DataFrame:
    r = runs[(runs["arm_key"] == key) & runs["test_acc"].notna() & (runs["status"] != "errored")]
    return r.set_index("seed").sort_index()


def paired_table(arms: pd.DataFrame, runs: pd.DataFrame, param: str, n_images: int = 10_000) -> pd.DataFrame:
    """One row per arm of `param`: its test mean (95% t-interval over seeds), the paired difference to the
    reference arm (its 95% paired t-interval) with a verdict in words, and McNemar's p per seed pair. With
    fewer than 3 paired seeds the per-seed values are shown instead of intervals."""
    a = arms[arms["param"] == param].sort_values("position")
    ref = a[a["is_reference"].astype(bool)]
    ref_runs = _runs_by_seed(runs, ref["arm_key"].iloc[0]) if len(ref) else pd.DataFrame(columns=["test_acc"])
    rows = []
    for _, arm in a.iterrows():
        mine = _runs_by_seed(runs, arm["arm_key"])
        mean, half, n = mean_ci(mine["test_acc"])
        val_mean, val_half, _ = mean_ci(mine["val_acc"])
        row = {param: arm["value"], "source": arm["source"], "seeds": n, "val_mean": val_mean,
               "val_ci95": val_half if n >= MIN_SEEDS_FOR_INTERVAL else math.nan, "test_mean": mean,
               "test_ci95": half if n >= MIN_SEEDS_FOR_INTERVAL else math.nan,
               "test_per_seed": list(mine["test_acc"]), "diff_mean": math.nan, "diff_low": math.nan,
               "diff_high": math.nan, "diff_per_seed": [], "verdict": "", "mcnemar_p": [],
               "reference": bool(arm["is_reference"])}
        if arm["is_reference"]:
            row["verdict"] = "reference (selected on validation)"
        elif len(ref):
            diff = paired_difference(mine, ref_runs)
            common = diff.pop("common")
            row.update(diff)
            for s in common:
                m, r = mine.at[s, "test_correct"], ref_runs.at[s, "test_correct"]
                row["mcnemar_p"].append(mcnemar_exact(unpack_mask(m, n_images), unpack_mask(r, n_images))
                                        if isinstance(m, str) and isinstance(r, str) else math.nan)
        fits = fit_accuracies(mine)
        row["train_acc_mean"] = float(np.mean(fits)) if fits else math.nan
        row["trained"] = trained_settings(mine, exclude=(param,))
        rows.append(row)
    out = pd.DataFrame(rows)
    # The settings the arms trained with, where they differ between arms (each arm took its source trial's draw):
    # a difference there is the parameter together with those settings, and the table shows them.
    differ = [k for k in TRAINED_SHOWN if len({json.dumps(t.get(k), default=str) for t in out.get("trained", [])}) > 1]
    out["settings"] = [", ".join(f"{k} {format_value(t[k])}" for k in differ if k in t) or "—"
                       for t in out["trained"]] if differ else ""
    out.attrs.update(title=f"Confirmed ablation: {param}", param=param, settings_differ=differ)
    return out


def paired_p(diffs) -> float:
    """Two-sided p of the paired t-test of `diffs` against 0 (NaN with fewer than MIN_SEEDS_FOR_INTERVAL)."""
    d = np.asarray([x for x in diffs if np.isfinite(x)], dtype=float)
    if len(d) < MIN_SEEDS_FOR_INTERVAL:
        return math.nan
    sd = d.std(ddof=1)
    if sd == 0:
        return 0.0 if d.mean() != 0 else 1.0
    t = d.mean() / (sd / math.sqrt(len(d)))
    return float(2 * stats.t.sf(abs(t), len(d) - 1))


def holm(ps: list[float]) -> list[float]:
    """Holm's step-down adjustment: it holds the chance of any false claim in the family at the level, without
    assuming the comparisons independent. NaN entries are left out of the family and stay NaN."""
    idx = [i for i, p in enumerate(ps) if np.isfinite(p)]
    order = sorted(idx, key=lambda i: ps[i])
    out, running = [math.nan] * len(ps), 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - k) * ps[i]))
        out[i] = running
    return out


def _add_holm(tables: dict[str, pd.DataFrame]) -> None:
    """Every non-reference arm of the study is one comparison of one family: its paired p, Holm-adjusted over
    the family."""
    cells = [(param, i) for param, df in tables.items() for i in df.index if not df.at[i, "reference"]]
    ps = [paired_p(tables[param].at[i, "diff_per_seed"]) for param, i in cells]
    adjusted = holm(ps)
    family = int(sum(np.isfinite(p) for p in ps))
    for df in tables.values():
        df["p"], df["p_holm"] = math.nan, math.nan
        df.attrs["holm_family"] = family
    for (param, i), p, a in zip(cells, ps, adjusted):
        tables[param].at[i, "p"], tables[param].at[i, "p_holm"] = p, a


def confirmed_tables(arms: pd.DataFrame, runs: pd.DataFrame, rungs: bool = True) -> dict[str, pd.DataFrame]:
    """paired_table of every parameter with arms, in the order the arms were stored, with the budget noted, and
    each comparison's Holm-adjusted p over all the study's comparisons. rungs: the search stopped trials early
    (ASHA), so the protocol says at which rung arms were compared."""
    # A cross's arms (a mapping as their point) are read by analysis/cross.py: they have no single reference.
    if len(arms) and "point" in arms:
        arms = arms[[not isinstance(p, dict) for p in arms["point"]]]
    if not len(arms):
        return {}
    cfg = [c for c in runs["config"] if isinstance(c, dict)] if len(runs) else []
    length = run_length(cfg)
    seeds = sorted(int(x) for x in runs["seed"].dropna().unique()) if len(runs) else []
    fractions = _fractions(cfg)
    out = {}
    for param in dict.fromkeys(arms["param"]):
        df = paired_table(arms, runs, param)
        n = int(df["seeds"].max()) if len(df) else 0
        # A scientific data fraction varies by arm: each table's budget line names its own arms' fractions (the
        # width arms of a scaling study all train on the reference's), the protocol the study's.
        keys = set(arms.loc[arms["param"] == param, "arm_key"])
        own = (_fractions([c for k, c in zip(runs["arm_key"], runs["config"]) if k in keys and isinstance(c, dict)]
                          if len(runs) else [])  # before its runs: the arms' own sampled fraction
               or _fractions([c for c in arms.loc[arms["param"] == param, "config"] if isinstance(c, dict)]
                             if "config" in arms else [])
               or fractions)
        short = df[np.isfinite(df["train_acc_mean"]) & (df["train_acc_mean"] < FITTED)] if len(df) else df
        # at this length a verdict compares how far training got, not only the parameter
        df.attrs["unfitted"] = [(v, 100 * a) for v, a in zip(short[param], short["train_acc_mean"])]
        df.attrs["length"], df.attrs["fractions"] = length, own  # for the tables' budget lines
        df.attrs["seeds"], df.attrs["rungs"] = seeds, rungs
        out[param] = df
    _add_holm(out)
    for param, df in out.items():
        _notes(df, param, fractions)
    return out


def _notes(df: pd.DataFrame, param: str, study_fractions: list[float]) -> None:
    """The table's note (its own protocol, then which arms had not fitted and which trained at other settings) and
    the study's protocol, the same for every table of the study; worded in templates/paired.md.j2."""
    a = df.attrs
    n = int(df["seeds"].max()) if len(df) else 0
    common = dict(length=a["length"], n=n, seeds=a["seeds"], rungs=a["rungs"], family=a["holm_family"],
                  min_seeds=MIN_SEEDS_FOR_INTERVAL)
    a["note"] = words(TEMPLATE, "protocol", param=param, fractions=[f"{f:g}" for f in a["fractions"]], **common)
    if a["unfitted"]:
        a["fit_note"] = words(TEMPLATE, "unfitted", param=param, threshold=100 * FITTED, arms=a["unfitted"])
        a["note"] += " " + a["fit_note"]
    if differ := a.get("settings_differ"):
        a["settings_note"] = words(TEMPLATE, "settings", param=param, differ=differ)
        a["note"] += " " + a["settings_note"]
    a["protocol"] = words(TEMPLATE, "protocol", param=None, fractions=[f"{f:g}" for f in study_fractions], **common)


def _fractions(configs: list[dict]) -> list[float]:
    return sorted({c.get("data_fraction") for c in configs if c.get("data_fraction") is not None})


def run_length(configs: list[dict]) -> str:
    """How long the runs of these stored configs trained: their step budget (TrainConfig.steps, the same optimizer
    steps at every training-set size) or their epochs; '?' when no config says."""
    steps = sorted({int(c.get("steps") or 0) for c in configs})
    if steps and steps[0] > 0:
        return words(TEMPLATE, "run_length", steps=steps, epochs=[])
    epochs = sorted({c.get("epochs") for c in configs if c.get("epochs") is not None})
    return words(TEMPLATE, "run_length", steps=[], epochs=epochs)
