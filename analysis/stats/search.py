"""Tables of the search: ablations (Tuning Playbook isolation), the leaderboard, the main comparison and the
expected best of n trials (Dodge et al. 2019).

An ablation of a scientific parameter holds the other scientific parameters at the values of the reference
trial (the best on validation, full-budget first) and tunes only the nuisance parameters away, so a row never
compares an MLP with a CNN; `cross_table` shows two scientific parameters against each other. Validation makes
every choice; test accuracy is only reported.

Builders take a Study and return numeric DataFrames; analysis.present.tables turns them into strings.

ASHA treatment: a trial stopped early never saw the full budget, so it is never ranked against full-budget
trials. `best val (full)` uses only trials that ran every epoch; `best val @ epoch g` compares every trial
at the first rung g, which all of them reached.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tuning.selection import pool_repeats, rank_trials

from ..load import Study
from ..present.text import format_value
from ..present.words import words
from .intervals import bucketize, mean_ci, sort_key

TEMPLATE = "search.md.j2"  # the tables' notes, worded from the numbers attached here


def first_rung(study: Study) -> int:
    budget = study.meta.get("budget") or {}
    return int(budget.get("grace_period") or 1)


def val_at_epoch(study: Study, epoch: int) -> pd.Series:
    """Validation accuracy of every trial at `epoch` (a diverged trial counts 0 from its divergence on)."""
    e = study.epochs[study.epochs["epoch"] <= epoch].sort_values("epoch")
    return e.groupby("trial_id")["val_acc"].last()


def _finals_by_trial(study: Study) -> pd.DataFrame:
    f = study.finals
    return f[f["test_acc"].notna()] if len(f) else f


def selected_test(group: pd.DataFrame, finals: pd.DataFrame) -> tuple[float, float, int, str | None]:
    """Test accuracy (mean, 95% CI, n seeds) of the group's selected configuration and its trial: the best on
    validation among its trials that went through final evaluation. Seeds of different configurations are never
    pooled, and the test number never takes part in the choice."""
    if not len(finals):
        return math.nan, math.nan, 0, None
    evaluated = group[group["trial_id"].isin(finals["trial_id"])]
    if not len(evaluated):
        return math.nan, math.nan, 0, None
    chosen = evaluated.loc[evaluated["last_val_acc"].idxmax(), "trial_id"]
    return (*mean_ci(finals[finals["trial_id"] == chosen]["test_acc"]), chosen)


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def ranked(study: Study) -> pd.DataFrame:
    """Trials in the order validation selects them (tuning.selection.rank_trials, the rule the driver uses too):
    full-budget trials first (an ASHA-stopped trial never saw the full budget), then early-stopped ones by the
    rung they reached, each by validation accuracy. Test accuracy plays no part."""
    return rank_trials(study.trials)


def best_ranked(order: pd.Series, group: pd.DataFrame) -> str:
    """The group's trial that validation ranks first in `order` (`ranked(study)["trial_id"]`), ties broken as the
    leaderboard and the final evaluation break them."""
    ids = set(group["trial_id"])
    return next(tid for tid in order if tid in ids)


def selected_by_rank(study: Study, trial_ids: pd.Series) -> int | None:
    """Index of the entry whose trial validation ranks first (`ranked`): ties on accuracy go the way the
    leaderboard breaks them, so a table's bold row and the reference trial never disagree."""
    position = {tid: i for i, tid in enumerate(ranked(study)["trial_id"])}
    ranks = trial_ids.map(lambda tid: position.get(tid, math.inf) if isinstance(tid, str) else math.inf)
    return int(ranks.idxmin()) if len(ranks) and np.isfinite(ranks.min()) else None


def stopped_early(study: Study) -> bool:
    """Whether the study's search could stop trials early (not FIFO), or did: its trials then have rungs."""
    scheduler = (study.meta.get("search") or {}).get("scheduler")
    return scheduler != "fifo" or bool((study.trials["status"] == "early_stopped").any())


def reference_trial(study: Study, param: str | None = None) -> pd.Series | None:
    """The validation-selected best trial whose scientific values an ablation of `param` holds fixed: the first
    trial of `ranked` among those `param` applies to (for `cnn.width`, the best CNN)."""
    t = ranked(study)
    if param is not None:
        t = t[t["p:" + param].map(lambda v: not _missing(v))]
    return t.iloc[0] if len(t) else None


def _value_column(study: Study, t: pd.DataFrame, p: str, bins: int) -> pd.Series:
    """The (bucketed) value of `p` per trial; missing where `p` does not apply to the trial."""
    raw = t["p:" + p] if "p:" + p in t else pd.Series(None, index=t.index, dtype=object)
    present = raw.map(lambda v: not _missing(v))
    out = pd.Series(None, index=t.index, dtype=object)
    if present.any():
        out[present] = bucketize(raw[present], study.specs.get(p), bins)
    return out


def _arm_values(study: Study, values: pd.Series, p: str) -> list:
    """Every value of `p` to show: the searched choices (a choice no trial drew is shown, not dropped) and the
    observed values or buckets, in table order."""
    out = list(values.dropna().unique())
    spec = study.specs.get(p) or {}
    if spec.get("kind") == "categorical" or values.dropna().map(lambda v: isinstance(v, str)).all():
        out += [c for c in spec.get("choices") or [] if not any(c == v for v in out)]
    return sorted(out, key=sort_key)


class Slice:
    """Trials of a study with the scientific parameters other than `free` held at the reference configuration.
    A parameter that does not apply to a trial (missing value) is no constraint on it; one that does not apply
    to the reference is tuned away like a nuisance parameter."""

    def __init__(self, study: Study, free: list[str], bins: int = 4, reference: pd.Series | None = None):
        self.study, self.free, self.bins = study, free, bins
        self.trials = pool_repeats(study.trials[study.trials["status"] != "errored"])  # repeats: one row, their mean
        self.values = {p: _value_column(study, self.trials, p, bins) for p in study.scientific()}
        for p in free:
            if p not in self.values:
                self.values[p] = _value_column(study, self.trials, p, bins)
        self.reference = reference if reference is not None else reference_trial(study, free[0] if free else None)
        self.fixed: dict[str, object] = {}
        self.untied: list[str] = []
        for q in study.scientific():
            if q in free:
                continue
            ref = None if self.reference is None else self.values[q].get(self.reference.name)
            if self.reference is None or _missing(ref):
                self.untied.append(q)
            else:
                self.fixed[q] = ref

    def mask(self) -> pd.Series:
        keep = pd.Series(True, index=self.trials.index)
        for q, ref in self.fixed.items():
            v = self.values[q]
            keep &= v.map(_missing) | (v == ref)
        return keep

    def describe(self) -> str:
        """`model = cnn, optimizer = adamw` (with conditional parameters marked), for notes and titles."""
        specs = self.study.specs
        return ", ".join(f"{q} = {format_value(v)}" + (" where it applies" if (specs.get(q) or {}).get("when") else "")
                         for q, v in self.fixed.items()) or "all trials"

    def sentence(self) -> str:
        """Which slice, from which trial, and what is left free: the opening of a table's note."""
        held = bool(self.fixed or self.untied)
        return words(TEMPLATE, "slice", held=held, within=self.describe(), untied=self.untied,
                     trial=self.reference["trial_id"] if held else None)


def ablation_table(study: Study, param: str, bins: int = 4) -> pd.DataFrame:
    """One row per value (bucket) of `param`, the other scientific parameters held at the reference configuration
    (the validation-best trial), the nuisance parameters tuned away: the row's best trial, its counts, and the
    test accuracy of its selected configuration (reported, never used to choose)."""
    sl = Slice(study, [param], bins)
    t = sl.trials
    value = sl.values[param]
    in_slice = sl.mask()
    g = first_rung(study)
    at_rung = val_at_epoch(study, g)
    finals = _finals_by_trial(study)
    rows = []
    for v in _arm_values(study, value, param):
        at_value = t[value == v]
        grp = at_value[in_slice[at_value.index]]
        full = grp[grp["status"] == "completed"]
        rung_vals = at_rung.reindex(grp["trial_id"])
        mean, half, n, test_trial = selected_test(full, finals)
        rows.append({
            param: v, "trials_at_value": len(at_value), "trials": len(grp), "full_budget": len(full),
            "early_stopped": int((grp["status"] == "early_stopped").sum()),
            "diverged": int((grp["status"] == "diverged").sum()),
            "best_val_full": full["last_val_acc"].max() if len(full) else math.nan,
            "best_trial": full.loc[full["last_val_acc"].idxmax(), "trial_id"] if len(full) else None,
            f"best_val_at_epoch_{g}": rung_vals.max() if rung_vals.notna().any() else math.nan,
            f"best_trial_at_epoch_{g}": rung_vals.idxmax() if rung_vals.notna().any() else None,
            "test_mean": mean, "test_ci95": half, "test_n": n, "test_trial": test_trial,
        })
    out = pd.DataFrame(rows)
    ref = sl.reference
    where = sl.sentence()
    # Said only where it holds: a space without nuisance parameters tunes nothing per value, and a FIFO study
    # stops no trial early.
    isolation, stopped = bool(study.nuisance()), stopped_early(study)
    out.attrs.update(title=f"Ablation: {param}", param=param, rung=g, fixed=dict(sl.fixed),
                     selected=selected_by_rank(study, out["best_trial"]) if len(out) else None,
                     reference=None if ref is None else ref["trial_id"], where=where, isolation=isolation,
                     stopped=stopped, rows_note=words(TEMPLATE, "ablation_rows", isolation=isolation,
                                                      stopped=stopped, rung=g, max_epochs=study.max_epochs))
    out.attrs["note"] = where + " " + out.attrs["rows_note"]
    return out


def cross_table(study: Study, param: str, other: str, bins: int = 4) -> pd.DataFrame:
    """Best full-budget validation accuracy in each cell of `param` x `other` (every pair of values, empty cells
    kept), the remaining scientific parameters held at the reference configuration. Long form, one row a cell."""
    sl = Slice(study, [param, other], bins)
    t = sl.trials[sl.mask()]
    vp, vq = sl.values[param][t.index], sl.values[other][t.index]
    q_values = _arm_values(study, sl.values[other], other)
    if vq.map(_missing).any():  # `other` does not apply to some trials (e.g. cnn.width for an MLP)
        q_values.append("n/a")
        vq = vq.map(lambda v: "n/a" if _missing(v) else v)
    rows = []
    for a in _arm_values(study, sl.values[param], param):
        for b in q_values:
            cell = t[(vp == a) & (vq == b)]
            full = cell[cell["status"] == "completed"]
            rows.append({param: a, other: b, "trials": len(cell), "full_budget": len(full),
                         "best_val_full": full["last_val_acc"].max() if len(full) else math.nan,
                         "best_trial": full.loc[full["last_val_acc"].idxmax(), "trial_id"] if len(full) else None})
    out = pd.DataFrame(rows)
    out.attrs.update(title=f"{param} x {other}", param=param, other=other,
                     selected=selected_by_rank(study, out["best_trial"]) if len(out) else None,
                     note=words(TEMPLATE, "cross", slice=sl.sentence(), other=other))
    return out


def expected_max(values, n: int) -> float:
    """Expected best of n trials drawn with replacement from the observed values (Dodge et al. 2019, "Show Your
    Work", closed form): with v_1 <= ... <= v_N sorted, P(max <= v_i) = (i/N)^n, so
    E[max] = sum_i v_i ((i/N)^n - ((i-1)/N)^n)."""
    v = np.sort(np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float))
    if not len(v) or n < 1:
        return math.nan
    i = np.arange(1, len(v) + 1)
    return float((v * ((i / len(v)) ** n - ((i - 1) / len(v)) ** n)).sum())


def _powers_of_two(limit: int) -> list[int]:
    out, n = [], 1
    while n <= limit:
        out.append(n)
        n *= 2
    return out


def evp_draws(study: Study, param: str, scope: str = "slice", basis: str = "auto",
              bins: int = 4) -> tuple[dict, str, str, Slice]:
    """Per value of `param`, the validation accuracies that count as draws, and the resolved basis and scope."""
    if scope not in ("slice", "all"):
        raise ValueError(f"scope must be 'slice' or 'all', not {scope!r}")
    if basis == "auto":  # ASHA's survivors are not random draws: compare every trial at the first rung instead
        basis = "rung" if (study.trials["status"] == "early_stopped").any() else "full"
    if basis not in ("full", "rung"):
        raise ValueError(f"basis must be 'auto', 'full' or 'rung', not {basis!r}")
    sl = Slice(study, [param], bins)
    t = sl.trials[sl.mask()] if scope == "slice" else sl.trials
    value = sl.values[param][t.index]
    g = first_rung(study)
    at_rung = val_at_epoch(study, g)
    draws = {}
    for v in _arm_values(study, sl.values[param], param):
        grp = t[value == v]
        if basis == "full":
            draws[v] = grp[grp["status"] == "completed"]["last_val_acc"].dropna().tolist()
        else:
            draws[v] = at_rung.reindex(grp["trial_id"]).dropna().tolist()
    return draws, basis, scope, sl


def expected_best_table(study: Study, param: str, scope: str = "slice", basis: str = "auto",
                        bins: int = 4) -> pd.DataFrame:
    """Expected best validation accuracy of n trials, per value (arm) of `param`, n = 1, 2, 4, ... up to the arm's
    trial count: arms searched with unequal numbers of trials compared at equal n (Dodge et al. 2019)."""
    draws, basis, scope, sl = evp_draws(study, param, scope, basis, bins)
    grid = _powers_of_two(max([len(d) for d in draws.values()] + [0]))
    rows = []
    for v, d in draws.items():
        row = {param: v, "trials": len(d), "best_draw": max(d) if d else math.nan}
        row.update({f"n={n}": expected_max(d, n) if n <= len(d) else math.nan for n in grid})
        rows.append(row)
    out = pd.DataFrame(rows)
    g = first_rung(study)
    in_slice = scope == "slice" and (sl.fixed or sl.untied)
    out.attrs.update(title=f"Expected best validation accuracy: {param}", param=param, basis=basis, scope=scope,
                     percent=[c for c in out.columns if c.startswith("n=") or c == "best_draw"],
                     note=words(TEMPLATE, "expected_best", param=param, basis=basis, max_epochs=study.max_epochs,
                                rung=g, slice=sl.sentence() if in_slice else ""))
    return out


def leaderboard(study: Study, k: int = 10) -> pd.DataFrame:
    """Top-k trials on validation: full-budget trials first, then by validation accuracy."""
    t = ranked(study).head(k)
    finals = _finals_by_trial(study)
    cols = [p for p in study.params if study.roles.get(p) in ("scientific", "nuisance")]
    rows = []
    for rank, (_, r) in enumerate(t.iterrows(), 1):
        mean, half, n = mean_ci(finals[finals["trial_id"] == r["trial_id"]]["test_acc"]) if len(finals) else \
            (math.nan, math.nan, 0)
        rows.append({"rank": rank, "trial": r["trial_id"], "status": r["status"], "epochs": int(r["epochs"] or 0),
                     "val_acc": r["last_val_acc"], "test_mean": mean, "test_ci95": half, "test_n": n,
                     **{p: r["p:" + p] for p in cols}})
    out = pd.DataFrame(rows)
    out.attrs.update(selected=0 if len(out) else None, title=f"Top {k} configurations",
                     note=words(TEMPLATE, "leaderboard"))
    return out


def model_family(row: pd.Series) -> str:
    """`cnn`, `resnet`, ... for deep trials; `hog + svm_rbf` style for classical pipelines."""
    cfg = row.get("config") or {}
    params = row.get("params") or {}
    merged = {**cfg, **params}
    if "classifier" in merged:
        return f"{merged.get('features', 'pixels')} + {merged['classifier']}"
    return str(merged.get("model", "?"))


def comparison_groups(study: Study) -> pd.DataFrame:
    """Full-budget trials with their main-comparison row: `family` and `augmentation` (with / without / n/a)."""
    t = pool_repeats(study.trials[study.trials["status"] == "completed"])
    if not len(t):
        return t.assign(family=[], augmentation=[])
    fixed = (study.meta.get("search") or {}).get("fixed") or {}
    t["family"] = [model_family({**r, "config": {**fixed, **(r["config"] or {})}}) for _, r in t.iterrows()]
    if "p:aug_strength" in t or "aug_strength" in fixed:
        strength = pd.to_numeric(t.get("p:aug_strength", pd.Series(fixed.get("aug_strength"), index=t.index)))
        t["augmentation"] = np.where(strength.fillna(1.0) > 0, "with", "without")
    else:
        t["augmentation"] = "n/a"
    return t


def main_comparison(study: Study) -> pd.DataFrame:
    """Each model family with and without augmentation: best full-budget validation and final test accuracy."""
    t = comparison_groups(study)
    if not len(t):
        return pd.DataFrame()
    finals = _finals_by_trial(study)
    order = ranked(study)["trial_id"]
    rows = []
    for (family, aug), grp in t.groupby(["family", "augmentation"]):
        mean, half, n, test_trial = selected_test(grp, finals)
        rows.append({"model": family, "augmentation": aug, "trials": len(grp),
                     "best_val_full": grp["last_val_acc"].max(),
                     "best_trial": best_ranked(order, grp),
                     "test_mean": mean, "test_ci95": half, "test_n": n, "test_trial": test_trial,
                     "params_median": float(grp["param_count"].median()) if grp["param_count"].notna().any()
                     else math.nan})
    out = pd.DataFrame(rows).sort_values(["model", "augmentation"]).reset_index(drop=True)
    out.attrs["selected"] = selected_by_rank(study, out["best_trial"])
    out.attrs.update(title="Main comparison", note=words(TEMPLATE, "main_comparison"))
    return out


VAL_SELECTION = ("best_val_full", "val_acc")  # the column that selects a row, in order of preference


def selected_row(df: pd.DataFrame) -> int | None:
    """Index of the row validation selects: best full-budget validation accuracy (leaderboard: best val_acc),
    else best at the first rung. Never a test column."""
    cols = [c for c in VAL_SELECTION if c in df] + [c for c in df if c.startswith("best_val_at_epoch_")]
    for c in cols:
        if df[c].notna().any():
            return int(df[c].idxmax())
    return None

