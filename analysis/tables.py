"""Tables for the paper: ablations (Tuning Playbook isolation), the leaderboard and the main comparison.

Builders take a Study and return numeric DataFrames; `formatted` turns one into strings with uncertainties
and marks the best cell; `to_markdown` / `to_latex` (booktabs) export it.

ASHA treatment: a trial stopped early never saw the full budget, so it is never ranked against full-budget
trials. `best val (full)` uses only trials that ran every epoch; `best val @ epoch g` compares every trial
at the first rung g, which all of them reached.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .load import Study
from .stats import bucketize, fmt_pct, mean_ci, sort_key

LIVE = ("completed", "early_stopped", "diverged", "cut", "interrupted", "running")  # have a validation result


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


def selected_test(group: pd.DataFrame, finals: pd.DataFrame) -> tuple[float, float, int]:
    """Test accuracy (mean, 95% CI, n seeds) of the group's selected configuration: the best on validation
    among its trials that went through final evaluation. Seeds of different configurations are never pooled."""
    if not len(finals):
        return math.nan, math.nan, 0
    evaluated = group[group["trial_id"].isin(finals["trial_id"])]
    if not len(evaluated):
        return math.nan, math.nan, 0
    chosen = evaluated.loc[evaluated["last_val_acc"].idxmax(), "trial_id"]
    return mean_ci(finals[finals["trial_id"] == chosen]["test_acc"])


def ablation_table(study: Study, param: str, bins: int = 4) -> pd.DataFrame:
    """One row per value (bucket) of `param`: isolation over the nuisance parameters, counts, test mean ± CI."""
    t = study.trials[study.trials["status"] != "errored"].copy()
    spec = study.specs.get(param)
    t["value"] = bucketize(t["p:" + param], spec, bins) if len(t) else []
    t = t[t["value"].notna()]
    g = first_rung(study)
    at_rung = val_at_epoch(study, g)
    finals = _finals_by_trial(study)
    rows = []
    for value, grp in t.groupby("value", sort=False):
        full = grp[grp["status"] == "completed"]
        mean, half, n = selected_test(full, finals)
        rows.append({
            param: value, "trials": len(grp), "full_budget": len(full),
            "early_stopped": int((grp["status"] == "early_stopped").sum()),
            "diverged": int((grp["status"] == "diverged").sum()),
            "best_val_full": full["last_val_acc"].max() if len(full) else math.nan,
            "best_trial": full.loc[full["last_val_acc"].idxmax(), "trial_id"] if len(full) else None,
            f"best_val_at_epoch_{g}": at_rung.reindex(grp["trial_id"]).max(),
            "test_mean": mean, "test_ci95": half, "test_n": n,
        })
    out = pd.DataFrame(rows)
    if len(out):
        out = out.sort_values(param, key=lambda s: s.map(sort_key)).reset_index(drop=True)
    out.attrs.update(title=f"Ablation: {param}", param=param, rung=g, note=(
        f"Best validation accuracy after tuning the nuisance parameters away (isolation). 'full' ranks only trials "
        f"that ran all {study.max_epochs} epochs; ASHA-stopped trials are compared with all others at epoch {g}, "
        f"the first rung, which every trial reached. Test: the value's best final-evaluated configuration, "
        f"mean ± 95% CI over its seeds (n)."))
    return out


def leaderboard(study: Study, k: int = 10) -> pd.DataFrame:
    """Top-k trials on validation: full-budget trials first, then by validation accuracy."""
    t = study.trials[study.trials["status"].isin(LIVE) & study.trials["last_val_acc"].notna()].copy()
    t["_full"] = t["status"] == "completed"
    t = t.sort_values(["_full", "last_val_acc"], ascending=[False, False]).head(k)
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
    out.attrs.update(title=f"Top {k} configurations", note="Selected on validation accuracy; full-budget trials "
                     "rank above early-stopped ones. Test accuracy only for final-evaluation runs.")
    return out


def model_family(row: pd.Series) -> str:
    """`cnn`, `resnet`, ... for deep trials; `hog + svm_rbf` style for classical pipelines."""
    cfg = row.get("config") or {}
    params = row.get("params") or {}
    merged = {**cfg, **params}
    if "classifier" in merged:
        return f"{merged.get('features', 'pixels')} + {merged['classifier']}"
    return str(merged.get("model", "?"))


def main_comparison(study: Study) -> pd.DataFrame:
    """Each model family with and without augmentation: best full-budget validation and final test accuracy."""
    t = study.trials[study.trials["status"] == "completed"].copy()
    if not len(t):
        return pd.DataFrame()
    fixed = (study.meta.get("search") or {}).get("fixed") or {}
    t["family"] = [model_family({**r, "config": {**fixed, **(r["config"] or {})}}) for _, r in t.iterrows()]
    if "p:aug_strength" in t or "aug_strength" in fixed:
        strength = pd.to_numeric(t.get("p:aug_strength", pd.Series(fixed.get("aug_strength"), index=t.index)))
        t["augmentation"] = np.where(strength.fillna(1.0) > 0, "with", "without")
    else:
        t["augmentation"] = "n/a"
    finals = _finals_by_trial(study)
    rows = []
    for (family, aug), grp in t.groupby(["family", "augmentation"]):
        mean, half, n = selected_test(grp, finals)
        rows.append({"model": family, "augmentation": aug, "trials": len(grp),
                     "best_val_full": grp["last_val_acc"].max(), "test_mean": mean, "test_ci95": half, "test_n": n,
                     "params_median": float(grp["param_count"].median()) if grp["param_count"].notna().any()
                     else math.nan})
    out = pd.DataFrame(rows).sort_values(["model", "augmentation"]).reset_index(drop=True)
    out.attrs.update(title="Main comparison", note="Full-budget trials only. 'with' = augmentation strength > 0. "
                     "Test: the row's best final-evaluated configuration, mean ± 95% CI over its seeds (n).")
    return out


# ------------------------------------------------------------------ formatting and export


def format_value(v) -> str:
    """A parameter value: a dash when it does not apply (NaN), whole numbers as integers (NaN makes pandas
    store an integer column as float), other floats to 3 significant digits."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e9 else f"{v:.3g}"
    return str(v)


def formatted(df: pd.DataFrame) -> pd.DataFrame:
    """Strings for publication: accuracies in percent with their CI, the best of each accuracy column marked."""
    if not len(df):
        return pd.DataFrame({"": ["(no rows)"]})
    out = pd.DataFrame(index=df.index)
    bold: list[tuple[int, str]] = []
    for col in df.columns:
        if col in ("test_ci95", "test_n", "best_trial"):
            continue
        if col == "test_mean":
            out["test acc (%)"] = [fmt_pct(m, h, int(n)) if n else "—"
                                   for m, h, n in zip(df["test_mean"], df["test_ci95"], df["test_n"])]
            if df["test_mean"].notna().any():
                bold.append((int(df["test_mean"].idxmax()), "test acc (%)"))
        elif col.startswith("best_val") or col == "val_acc":
            name = {"best_val_full": "best val (full) (%)", "val_acc": "val acc (%)"}.get(
                col, col.replace("best_val_at_epoch_", "best val @ epoch ") + " (%)")
            out[name] = [fmt_pct(v) for v in df[col]]
            if df[col].notna().any():
                bold.append((int(df[col].idxmax()), name))
        elif col == "params_median":
            out["params"] = [f"{v / 1e6:.2f}M" if np.isfinite(v) else "—" for v in df[col]]
        else:  # a conditional parameter that does not apply to a trial is missing, shown as a dash
            out[col] = [format_value(v) for v in df[col]]
    out.attrs.update(df.attrs, bold=bold)
    return out


def to_markdown(table: pd.DataFrame) -> str:
    bold = set(table.attrs.get("bold", []))
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for i, row in table.iterrows():
        cells = [f"**{row[c]}**" if (i, c) in bold else str(row[c]) for c in cols]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("±", r"$\pm$"), ("—", "--")):
        text = text.replace(a, b)
    return text


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs tabular, best cells in bold."""
    bold = set(table.attrs.get("bold", []))
    cols = list(table.columns)
    lines = [r"\begin{tabular}{" + "l" * len(cols) + "}", r"\toprule",
             " & ".join(_tex(c) for c in cols) + r" \\", r"\midrule"]
    for i, row in table.iterrows():
        cells = [r"\textbf{" + _tex(str(row[c])) + "}" if (i, c) in bold else _tex(str(row[c])) for c in cols]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
