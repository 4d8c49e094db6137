"""Every confirmed comparison of a set of studies as one record, tagged with the study question it answers, and the
findings chosen from them.

The three study questions: which family, classical or deep, is better on all the data (`family`); whether
augmentation helps (`augmentation`); how accuracy changes with the training-set size (`size`). A comparison that
answers none of them (a model, an optimizer, a width) is `other`. Sources, in the order their comparisons are
listed: a headline table (analysis.stats.headline), each study's confirmed one-parameter tables
(analysis.stats.paired) and its confirmed crosses (analysis.stats.cross). Differences are in accuracy (fractions),
`arm` minus `base`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..present.text import point_text
from .intervals import FITTED, sort_key
from .paired import _runs_by_seed, paired_difference
from .power import detectable
from .scaling import train_size

QUESTIONS = ("family", "augmentation", "size")
QUESTION_OF = {"aug_strength": "augmentation", "data_fraction": "size"}
MAX_FINDINGS = 6


@dataclass
class Comparison:
    question: str  # one of QUESTIONS, or "other"
    study: str
    param: str  # the parameter compared ("family" for the headline's classical row)
    arm: str  # what is compared, as the tables name it: "aug_strength = 0.5", "best classical pipeline"
    base: str  # what it is compared with
    diff: float  # mean test accuracy of arm minus base (a fraction)
    low: float  # 95% interval of the difference; NaN with fewer than MIN_SEEDS_FOR_INTERVAL seeds
    high: float
    n: int  # paired seeds, or the smaller group's seeds for an unpaired comparison
    se: float  # standard error of the difference
    dof: float  # its degrees of freedom (n - 1 paired, Welch's unpaired)
    paired: bool = True
    p_holm: float = math.nan  # Holm-adjusted p over the source table's family, where it has one
    images: str = ""  # training images of both sides ("55,000"); empty where the labels name them
    length: str = ""  # how long each run trained: "10 epochs", "1,500 optimizer steps"
    overturns: bool = False  # the search chose `base`; the confirmation finds `arm` better on test and validation
    candidate: int = 0  # > 0: may be its question's primary comparison; the lowest wins
    primary: bool = False
    val_arm: float = math.nan
    val_base: float = math.nan
    per_seed: list = field(default_factory=list)
    mixed_settings: bool = False  # the two sides trained at different tuned settings
    at: float = math.nan  # a cross's first parameter held at this value (the training-set size's data fraction)
    source: str = "confirmed"  # headline, confirmed (a one-parameter table) or cross
    unfitted: bool = False  # a side's runs ended below the convergence rule's training accuracy (FITTED)

    @property
    def has_interval(self) -> bool:
        return bool(np.isfinite(self.low) and np.isfinite(self.high))

    @property
    def verdict(self) -> str:
        """better, worse, inconclusive (the interval holds 0) or no interval (too few seeds)."""
        if not self.has_interval:
            return "no interval"
        return "better" if self.low > 0 else "worse" if self.high < 0 else "inconclusive"

    @property
    def fitted(self) -> float:
        """The training accuracy of the convergence rule, which `unfitted` runs ended below."""
        return FITTED

    @property
    def holds_after_holm(self) -> bool:
        """False where the source table's Holm adjustment takes a conclusive verdict back (p_holm >= 0.05)."""
        return not (np.isfinite(self.p_holm) and self.p_holm >= 0.05)

    @property
    def detectable(self) -> float:
        """The smallest effect this design detects with 80% power at alpha 0.05 (analysis.stats.power)."""
        return detectable(self.se, self.dof)

    @property
    def budget(self) -> str:
        return f"{self.length} on {self.images} training images" if self.images else self.length

    @property
    def sd(self) -> float:
        """The spread of the paired differences (s_d); NaN for an unpaired comparison."""
        return self.se * math.sqrt(self.n) if self.paired and np.isfinite(self.se) else math.nan


def _paired_se(diffs) -> tuple[float, float]:
    d = np.asarray([x for x in diffs if np.isfinite(x)], dtype=float)
    if len(d) < 2:
        return math.nan, math.nan
    return float(d.std(ddof=1) / math.sqrt(len(d))), float(len(d) - 1)


def welch(a, b) -> tuple[float, float]:
    """Welch's standard error of mean(a) - mean(b) and its degrees of freedom (NaN with fewer than 2 on a side)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if min(len(a), len(b)) < 2:
        return math.nan, math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return 0.0, float(len(a) + len(b) - 2)
    dof = (va + vb) ** 2 / ((va ** 2 / (len(a) - 1)) + (vb ** 2 / (len(b) - 1)))
    return float(math.sqrt(va + vb)), float(dof)


def _flipped(c: Comparison) -> Comparison:
    """The same comparison the other way round: base minus arm."""
    return Comparison(**{**c.__dict__, "arm": c.base, "base": c.arm, "diff": -c.diff, "low": -c.high,
                         "high": -c.low, "val_arm": c.val_base, "val_base": c.val_arm,
                         "per_seed": [-d for d in c.per_seed]})


def from_headline(table: pd.DataFrame, study: str) -> list[Comparison]:
    """The headline's rows against its CNN without augmentation: the classical row answers `family` (unpaired), the
    augmented CNN `augmentation` on all the data, the others are `other`."""
    from .headline import BASELINE

    base = table[table["row"] == BASELINE]
    if not len(base):
        return []
    b = base.iloc[0]
    out = []
    for r in table.to_dict("records"):
        unpaired = r["family"] == "classical"  # its seeds do not pair with the deep rows'
        if r["row"] == BASELINE or not (r["diff_per_seed"] or unpaired):
            continue
        if unpaired:
            n = int(min(r["seeds"], b["seeds"]))
            se, dof = welch(r["test_per_seed"], b["test_per_seed"])
            if not np.isfinite(r["diff_mean"]):  # too few seeds for its interval: the difference of means alone
                r["diff_mean"] = float(np.mean(r["test_per_seed"]) - np.mean(b["test_per_seed"]))
        else:
            (se, dof), n = _paired_se(r["diff_per_seed"]), len(r["diff_per_seed"])
        question = ("family" if r["family"] == "classical" else
                    "augmentation" if r["row"].startswith("CNN with augmentation") else "other")
        param = {"family": "family", "augmentation": "aug_strength"}.get(question, "model")
        out.append(Comparison(
            question, study, param, r["row"], BASELINE, r["diff_mean"],
            r["diff_low"], r["diff_high"], n, se, dof, paired=not unpaired, images=f"{int(r['training images']):,}",
            length=(f"one fit against {b['epochs']}" if r["family"] == "classical" else r["epochs"]),
            candidate=1 if question in QUESTIONS else 0, val_arm=r["val_mean"], val_base=b["val_mean"],
            per_seed=list(r["diff_per_seed"]), source="headline"))
    return out


def _label(param: str, value, val_size: int) -> str:
    if param == "data_fraction" and isinstance(_number(value), float):
        return f"{train_size({'data_fraction': float(value), 'val_size': val_size}):,} images"
    return f"{param} = {point_text(_number(value))}"


def _order(v):
    """Values in table order: numbers numerically, buckets ("[0, 0.333)") by their lower edge."""
    return sort_key(_number(v))


def _number(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def from_confirmed(study: str, tables: dict[str, pd.DataFrame], arms: pd.DataFrame, runs: pd.DataFrame,
                   val_size: int = 5000) -> list[Comparison]:
    """Each non-reference arm of each confirmed table against the reference. An arm better than the reference on
    test and on validation overturns the search's choice and stays arm minus reference; otherwise augmentation
    reads as more minus less strength, and a size as more minus fewer images. The largest size against the
    smallest is added as the size question's candidate."""
    out = []
    for param, df in tables.items():
        refs = df[df["reference"].astype(bool)]
        if not len(refs):
            continue
        ref = refs.iloc[0]
        fractions = df.attrs.get("fractions") or []
        images = ("" if param == "data_fraction" else
                  ", ".join(f"{train_size({'data_fraction': f, 'val_size': val_size}):,}" for f in fractions))
        question = QUESTION_OF.get(param, "other")
        length = re.sub(r"\s*\(.*?\)", "", df.attrs.get("length", ""))  # the budget without its parenthesis
        table_comps = []
        for r in df[~df["reference"].astype(bool)].to_dict("records"):
            se, dof = _paired_se(r["diff_per_seed"])
            c = Comparison(question, study, param, _label(param, r[param], val_size), _label(param, ref[param], val_size),
                           r["diff_mean"], r["diff_low"], r["diff_high"], len(r["diff_per_seed"]), se, dof,
                           p_holm=r.get("p_holm", math.nan), images=images, length=length,
                           val_arm=r["val_mean"], val_base=ref["val_mean"], per_seed=list(r["diff_per_seed"]),
                           mixed_settings=bool(df.attrs.get("settings_differ")),
                           unfitted=any(np.isfinite(a) and a < FITTED for a in (r.get("train_acc_mean", math.nan),
                                                                                 ref.get("train_acc_mean", math.nan))))
            c.overturns = c.verdict == "better" and np.isfinite(c.val_arm) and c.val_arm > c.val_base
            less = _order(r[param]) < _order(ref[param])
            if less and not c.overturns and param in QUESTION_OF:
                c = _flipped(c)
            table_comps.append(c)
        if param == "aug_strength":  # candidate: the best augmented arm on validation against none (the least)
            least = _label(param, min(df[param], key=_order), val_size)
            against_none = [c for c in table_comps if c.base == least]
            if against_none:
                max(against_none, key=lambda c: c.val_arm if np.isfinite(c.val_arm) else -1).candidate = 2
        out += table_comps
        if param == "data_fraction":
            out += _extremes(study, param, df, arms, runs, table_comps, val_size)
    return out


def _extremes(study: str, param: str, df: pd.DataFrame, arms: pd.DataFrame, runs: pd.DataFrame,
              table_comps: list[Comparison], val_size: int) -> list[Comparison]:
    """The largest training-set size against the smallest, paired by seed: the size question's candidate. Where the
    table already compared that pair (one of them the reference), that row is marked instead."""
    a = arms[arms["param"] == param] if len(arms) else arms
    if len(a) < 2:
        return []
    values = sorted(a["value"], key=_order)
    small, large = _label(param, values[0], val_size), _label(param, values[-1], val_size)
    for c in table_comps:
        if {c.arm, c.base} == {small, large}:
            if c.arm == small and not c.overturns:
                c.__dict__.update(_flipped(c).__dict__)
            c.candidate = 1
            return []
    key = {str(v): k for v, k in zip(a["value"], a["arm_key"])}
    mine, base = _runs_by_seed(runs, key[str(values[-1])]), _runs_by_seed(runs, key[str(values[0])])
    d = paired_difference(mine, base)
    if not d["diff_per_seed"]:
        return []
    se, dof = _paired_se(d["diff_per_seed"])
    return [Comparison("size", study, param, large, small, d["diff_mean"], d["diff_low"], d["diff_high"],
                       len(d["diff_per_seed"]), se, dof, length=re.sub(r"\s*\(.*?\)", "", df.attrs.get("length", "")),
                       candidate=1,
                       val_arm=float(mine["val_acc"].mean()), val_base=float(base["val_acc"].mean()),
                       per_seed=list(d["diff_per_seed"]))]


def from_cross(df: pd.DataFrame, study: str) -> list[Comparison]:
    """Each cell of a confirmed cross against its row's baseline (its first parameter held): augmentation at a
    training-set size. The largest size's cell best on validation is the augmentation question's candidate."""
    if not len(df):
        return []
    row_name, col_name, base_value = df.attrs["row"], df.attrs["col"], df.attrs["baseline"]
    question = QUESTION_OF.get(col_name, "other")
    out = []
    for r in df[~df["baseline"].astype(bool)].to_dict("records"):
        if not r["diff_per_seed"]:
            continue
        se, dof = _paired_se(r["diff_per_seed"])
        steps = [s for s in r["steps"] if s]
        length = (f"{'/'.join(f'{s:,}' for s in steps)} optimizer steps" if steps else
                  f"{'/'.join(map(str, r['epochs']))} epochs")
        base = df[(df[row_name] == r[row_name]) & df["baseline"].astype(bool)]
        out.append(Comparison(
            question, r.get("study") or study, col_name, f"{col_name} = {point_text(r[col_name])}",
            f"{col_name} = {point_text(base_value)}", r["diff_mean"], r["diff_low"], r["diff_high"], r["n"], se, dof,
            p_holm=r.get("p_holm", math.nan),
            images=f"{int(r['images']):,}" if np.isfinite(r["images"]) else "", length=length,
            per_seed=list(r["diff_per_seed"]), mixed_settings=bool(r.get("mixed_settings")),
            val_arm=r.get("val_mean", math.nan), val_base=base["val_mean"].iloc[0] if "val_mean" in base and len(base)
            else math.nan, at=float(r[row_name]), source="cross"))
    if out and question in QUESTIONS:
        largest = max(c.at for c in out)
        at = [c for c in out if c.at == largest]
        max(at, key=lambda c: c.val_arm if np.isfinite(c.val_arm) else -1).candidate = 3
    return out


def choose_primaries(comparisons: list[Comparison]) -> None:
    """Each question's primary comparison: its candidate of the lowest rank, the first listed among equals."""
    for q in QUESTIONS:
        ranked = sorted((c for c in comparisons if c.question == q and c.candidate), key=lambda c: c.candidate)
        if ranked:
            ranked[0].primary = True


def distinct(comparisons: list[Comparison]) -> list[Comparison]:
    """The comparisons without repeats: one study's two tables that pair the same runs (a headline row and the
    confirmed table it was read from) give identical per-seed differences; the first listed is kept."""
    seen, out = set(), []
    for c in comparisons:
        key = (c.study, tuple(round(d, 12) for d in c.per_seed)) if c.per_seed else id(c)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def findings(comparisons: list[Comparison], limit: int = MAX_FINDINGS) -> list[Comparison]:
    """At most `limit` comparisons to state first: where the confirmation overturns the search's choice, that first;
    then each question's primary comparison (always, whatever its verdict); then, one per study and parameter not
    yet stated, the other conclusive ones that hold after Holm, the largest effects first."""
    primaries = [c for q in QUESTIONS for c in comparisons if c.primary and c.question == q]
    overturned = [c for c in comparisons if c.overturns and c not in primaries][:max(0, limit - len(primaries))]
    chosen = overturned + primaries
    said = {(c.study, c.param) for c in chosen}
    rest = sorted((c for c in comparisons if c not in chosen and c.verdict in ("better", "worse")
                   and c.holds_after_holm), key=lambda c: -abs(c.diff))
    for c in rest:
        if (c.study, c.param) not in said:
            said.add((c.study, c.param))
            chosen.append(c)
    return chosen[:limit]
