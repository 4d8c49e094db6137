"""The report of a plain Optuna study (see analysis.optuna_study): what its trials support without our
provenance: the best trials, isolation of the parameters marked scientific, importance, optimization history,
intermediate values, slices and parallel coordinates.

A separate, smaller report rather than the ganrator one: that one speaks of validation accuracy, full budgets,
test seeds and always ranks by the largest value; here the objective is whatever the study optimized, ranked in
the study's own direction, and only COMPLETE trials are ranked (a pruned trial's last value is not final).
"""
from __future__ import annotations

import datetime
import math
from pathlib import Path

import numpy as np
import pandas as pd

from . import figures as F
from .figures import plt
from .importance import importance_of
from .load import Study
from .report import Report, _figure, _finish
from .stats import bucketize, sort_key
from .tables import format_value, to_latex, to_markdown


def _minimize(study: Study) -> bool:
    return study.meta.get("direction") == "minimize"


def _metric(study: Study) -> str:
    return study.meta.get("metric") or "objective"


def _fmt(v) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4g}"


def ranked(study: Study) -> pd.DataFrame:
    """Completed trials, best first in the study's direction (ties: the earlier trial)."""
    done = study.trials[(study.trials["status"] == "completed") & study.trials["value"].notna()]
    return done.sort_values(["value", "number"], ascending=[_minimize(study), True], kind="stable")


def best_trials(study: Study, k: int = 10) -> pd.DataFrame:
    top = ranked(study).head(k)
    out = pd.DataFrame({"rank": range(1, len(top) + 1), "trial": top["number"].to_numpy(),
                        _metric(study): top["value"].to_numpy()})
    for p in study.params:
        out[p] = top["p:" + p].to_numpy()
    out.attrs["best"] = [(0, _metric(study))] if len(out) else []
    return out


def isolation_table(study: Study, param: str, bins: int = 4) -> pd.DataFrame:
    """One row per value (bucket) of `param`: the best completed trial over all the other parameters."""
    t = study.trials[study.trials["p:" + param].notna()].copy()
    t["bucket"] = bucketize(t["p:" + param], study.specs.get(param), bins) if len(t) else []
    rows = []
    for value, grp in t.groupby("bucket", sort=False):
        done = grp[(grp["status"] == "completed") & grp["value"].notna()]
        best = done.sort_values("value", ascending=_minimize(study)).iloc[0] if len(done) else None
        rows.append({param: value, "trials": len(grp), "completed": len(done),
                     "pruned": int((grp["status"] == "early_stopped").sum()),
                     "failed": int((grp["status"] == "errored").sum()),
                     f"best {_metric(study)}": best["value"] if best is not None else math.nan,
                     "best trial": int(best["number"]) if best is not None else None})
    out = pd.DataFrame(rows, columns=[param, "trials", "completed", "pruned", "failed", f"best {_metric(study)}",
                                      "best trial"])
    out = out.sort_values(param, key=lambda s: s.map(sort_key)).reset_index(drop=True)
    col = out[f"best {_metric(study)}"]
    if col.notna().any():
        out.attrs["best"] = [(int(col.idxmin() if _minimize(study) else col.idxmax()), col.name)]
    return out


def importance(study: Study) -> pd.DataFrame:
    """PED-ANOVA and fANOVA (Optuna's evaluators, normalized) over the completed trials, in the study's direction,
    for the parameters every completed trial has and that varied."""
    return importance_of(study, ranked(study), "value", study.meta.get("direction", "maximize"))


# ------------------------------------------------------------------ figures


def _positions(study: Study, p: str, values: pd.Series) -> tuple[pd.Series, list | None]:
    """Numeric x for a parameter's values; categorical ones become their index among the choices."""
    spec = study.specs.get(p, {})
    if spec.get("kind") != "categorical":
        return pd.to_numeric(values, errors="coerce"), None
    choices = spec.get("choices") or sorted(values.dropna().unique(), key=sort_key)
    return values.map({c: i for i, c in enumerate(choices)}), choices


def history_plot(study: Study):
    done = study.trials[(study.trials["status"] == "completed") & study.trials["value"].notna()]
    if not len(done):
        return None
    F.style()
    done = done.sort_values("number")
    best = done["value"].cummin() if _minimize(study) else done["value"].cummax()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.scatter(done["number"], done["value"], s=16, color=F.STATUS_COLORS["completed"], label="completed trial")
    ax.step(done["number"], best, where="post", color="#d55e00", lw=2, label="best so far")
    ax.set_xlabel("trial number")
    ax.set_ylabel(_metric(study))
    ax.set_title(f"Optimization history ({study.meta.get('direction')})")
    ax.legend(fontsize=8)
    return fig


def intermediate_plot(study: Study):
    e = study.epochs.merge(study.trials[["trial_id", "status"]], on="trial_id")
    if not len(e):
        return None
    F.style()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for (_, status), grp in e.groupby(["trial_id", "status"]):
        ax.plot(grp["epoch"], grp["val_acc"], "o-", ms=3, lw=1.1, alpha=0.7, color=F.STATUS_COLORS.get(status, "0.5"))
    for status in e["status"].unique():
        ax.plot([], [], color=F.STATUS_COLORS.get(status, "0.5"), label=status.replace("early_stopped", "pruned"))
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel(f"intermediate {_metric(study)}")
    ax.set_title("Intermediate values")
    ax.legend(fontsize=8)
    return fig


def slice_plot(study: Study):
    done = study.trials[(study.trials["status"] == "completed") & study.trials["value"].notna()]
    params = [p for p in study.params if done["p:" + p].notna().any()]
    if not len(done) or not params:
        return None
    F.style()
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False, sharey=True)
    for ax, p in zip(axes.flat, params):
        x, choices = _positions(study, p, done["p:" + p])
        sc = ax.scatter(x, done["value"], c=done["number"], cmap="viridis", s=16)
        if choices is not None:
            ax.set_xticks(range(len(choices)), [str(c) for c in choices])
        elif study.specs.get(p, {}).get("log"):
            ax.set_xscale("log")
        ax.set_xlabel(f"{p} ({study.roles.get(p, 'nuisance')})")
    for ax in axes[:, 0]:
        ax.set_ylabel(_metric(study))
    for ax in list(axes.flat)[len(params):]:
        ax.axis("off")
    fig.colorbar(sc, ax=axes, label="trial number", shrink=0.8)
    fig.suptitle("Slices: the objective against each parameter (completed trials)")
    return fig


def parallel_plot(study: Study, k: int = 10):
    top = ranked(study).head(k)
    params = [p for p in study.params if top["p:" + p].notna().any()]
    if len(top) < 2 or not params:
        return None
    F.style()
    fig, ax = plt.subplots(figsize=(1.4 * len(params) + 2.5, 3.8))
    cmap = plt.get_cmap("viridis_r" if _minimize(study) else "viridis")
    lo, hi = top["value"].min(), top["value"].max()
    for _, r in top.iterrows():
        ys = []
        for p in params:
            v, spec = r["p:" + p], study.specs.get(p, {})
            if v is None or (isinstance(v, float) and math.isnan(v)):
                ys.append(np.nan)
            elif spec.get("kind") == "categorical":
                ys.append(spec["choices"].index(v) / max(1, len(spec["choices"]) - 1))
            elif spec.get("log"):
                ys.append((math.log(v) - math.log(spec["low"])) / ((math.log(spec["high"]) - math.log(spec["low"])) or 1))
            else:
                ys.append((v - spec["low"]) / ((spec["high"] - spec["low"]) or 1))
        ax.plot(range(len(params)), ys, "o-", alpha=0.8, color=cmap((r["value"] - lo) / ((hi - lo) or 1)))
    ax.set_xticks(range(len(params)), params, rotation=20)
    ax.set_ylabel("position in searched range")
    ax.set_title(f"Top {len(top)} trials (colour: {_metric(study)} {_fmt(lo)} to {_fmt(hi)})")
    return fig


def isolation_plot(study: Study, param: str, table: pd.DataFrame):
    col = f"best {_metric(study)}"
    if not len(table) or table[col].isna().all():
        return None
    F.style()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    labels = [str(v) for v in table[param]]
    where = {v: i for i, v in enumerate(labels)}
    done = study.trials[(study.trials["status"] == "completed") & study.trials["p:" + param].notna()]
    buckets = bucketize(done["p:" + param], study.specs.get(param)).astype(str)
    ax.scatter([where.get(b, np.nan) for b in buckets], done["value"], color="0.6", s=14, alpha=0.6,
               label="completed trials")
    ax.plot(range(len(labels)), table[col], "o-", color=F.STATUS_COLORS["completed"], lw=2, ms=7,
            label="best over the other parameters")
    ax.set_xticks(range(len(labels)), labels, rotation=20 if max(map(len, labels)) > 6 else 0)
    ax.set_xlabel(param)
    ax.set_ylabel(_metric(study))
    ax.set_title(f"Isolation: {param} ({'lower' if _minimize(study) else 'higher'} is better)")
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------ the report


def _text_table(df: pd.DataFrame) -> pd.DataFrame:
    """Cells as text (objective values to 4 significant digits), the best cell bold."""
    out = pd.DataFrame({c: [_fmt(v) if isinstance(v, float) and c != df.columns[0] else format_value(v)
                            for v in df[c]] for c in df.columns}, index=df.index)
    out.attrs["bold"] = df.attrs.get("best", [])
    return out


def _table(rep: Report, md: list[str], df: pd.DataFrame, stem: str) -> None:
    tdir = rep.out / "tables"
    tdir.mkdir(parents=True, exist_ok=True)
    df.to_csv(tdir / f"{stem}.csv", index=False)
    text = _text_table(df)
    (tdir / f"{stem}.tex").write_text(to_latex(text))
    (tdir / f"{stem}.md").write_text(to_markdown(text))
    rep.tables[stem] = tdir / f"{stem}.md"
    md += ["", to_markdown(text)]


def build_optuna_report(study: Study, out: str | Path) -> Report:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep = Report(out)
    t, metric, direction = study.trials, _metric(study), study.meta.get("direction")
    counts = t["status"].replace({"early_stopped": "pruned", "errored": "failed"}).value_counts()
    specs = pd.DataFrame({"parameter": study.params,
                          "role": [study.roles.get(p, "nuisance") for p in study.params],
                          "distribution": [_describe(study.specs.get(p, {})) for p in study.params]})
    md = [f"# Optuna study: {study.name}", "",
          f"_Generated {datetime.datetime.now():%Y-%m-%d %H:%M} from `{study.source}` by `python -m analysis "
          f"report`. A plain Optuna study: every number below is read from its trials._", "",
          "## Setup", "",
          f"- **Objective**: `{metric}`, to {direction} ({'lower' if _minimize(study) else 'higher'} is better).",
          f"- **Trials**: {len(t)}: " + (", ".join(f"{n} {s}" for s, n in counts.items()) or "none") + ".",
          "- **Ranking**: completed trials only; a pruned trial stopped before its final value.",
          "- **Parameters** (scientific: chosen with `--scientific`; the others are tuned away as nuisance):", "",
          to_markdown(specs.astype(str)), "", "## Results"]
    top = best_trials(study)
    if not len(top):
        md += ["", "**No trial has completed yet**, so there is nothing to rank. Run the study longer and generate "
               "this report again."]
        rep.warnings = []
        return _finish(rep, md)
    best = ranked(study).iloc[0]
    md += ["", f"The best completed trial, number {int(best['number'])}, reached {metric} = {_fmt(best['value'])} "
               f"with " + ", ".join(f"{p} = {format_value(best['p:' + p])}" for p in study.params
                                    if format_value(best["p:" + p]) != "—") + ".",
           "", "### Best trials"]
    _table(rep, md, top, "best_trials")

    if study.scientific():
        md += ["", "### Isolation of the scientific parameters", "",
               "For each value of a scientific parameter (numeric ones in 4 equal bins of the searched range), "
               "the best completed trial over all the other parameters."]
    for p in study.scientific():
        table = isolation_table(study, p)
        md += ["", f"#### {p}"]
        _table(rep, md, table, f"isolation_{p}")
        if table.attrs.get("best"):
            i = table.attrs["best"][0][0]
            md += [f"Best at {p} = {format_value(table.loc[i, p])}: {metric} = "
                   f"{_fmt(table.loc[i, f'best {metric}'])} (trial {table.loc[i, 'best trial']}, "
                   f"{table.loc[i, 'completed']} completed trial(s) at that value)."]
        _figure(rep, md, isolation_plot(study, p, table), f"isolation_{p}", f"Isolation of {p}")

    imp = importance(study)
    if len(imp):
        md += ["", "### Parameter importance", "",
               "PED-ANOVA and fANOVA (Optuna's evaluators) over the completed trials, in the study's direction, "
               "normalized to sum to 1.", ""]
        (rep.out / "tables").mkdir(parents=True, exist_ok=True)
        imp.to_csv(rep.out / "tables" / "importance.csv", index=False)
        rep.tables["importance"] = rep.out / "tables" / "importance.csv"
        md += [to_markdown(imp.assign(ped_anova=imp["ped_anova"].map("{:.3f}".format),
                                      fanova=imp["fanova"].map("{:.3f}".format)))]
        fig = F.importance_plot(imp)
        fig.axes[0].set_title("Parameter importance (completed trials)")
        _figure(rep, md, fig, "importance", "Parameter importance")

    md += ["", "### Search behaviour"]
    _figure(rep, md, history_plot(study), "optimization_history", "Optimization history, best so far")
    _figure(rep, md, intermediate_plot(study), "intermediate_values", "Intermediate values of every trial")
    _figure(rep, md, slice_plot(study), "slices", "The objective against each parameter")
    _figure(rep, md, parallel_plot(study), "parallel_coordinates", "Parallel coordinates of the top trials")
    rep.warnings = _warnings(study)
    return _finish(rep, md)


def _describe(spec: dict) -> str:
    if spec.get("kind") == "categorical":
        return "one of " + ", ".join(map(str, spec.get("choices") or []))
    return f"{spec.get('kind')} in [{spec.get('low')}, {spec.get('high')}]" + (", log scale" if spec.get("log") else "")


def _warnings(study: Study) -> list[str]:
    out = []
    t = study.trials
    failed = int((t["status"] == "errored").sum())
    if failed:
        out.append(f"{failed} of {len(t)} trials failed")
    running = int((t["status"] == "running").sum())
    if running:
        out.append(f"{running} trial(s) still running (or stopped without being marked): the report is partial")
    for p in study.scientific():
        table = isolation_table(study, p)
        thin = table[table["completed"] < 2]
        if len(thin):
            out.append(f"few completed trials for {p} = " + ", ".join(format_value(v) for v in thin[p])
                       + " (fewer than 2): its isolation rows are weak")
    return out
