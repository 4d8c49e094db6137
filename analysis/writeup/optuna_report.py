"""The report of a plain Optuna study (see analysis.load.optuna_study): what its trials support without our
provenance: the best trials, isolation of the parameters marked scientific, importance, optimization history,
intermediate values, slices and parallel coordinates.

A separate, smaller report rather than the ganrator one: that one speaks of validation accuracy, full budgets,
test seeds and always ranks by the largest value; here the objective is whatever the study optimized, ranked in
the study's own direction, and only COMPLETE trials are ranked (a pruned trial's last value is not final).
"""
from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd

from ..load import Study
from ..present import figures as F
from ..present.figures.optuna import history_plot, intermediate_plot, isolation_plot, parallel_plot, slice_plot
from ..present.text import format_value, objective_text
from ..stats.optuna_search import _metric, _minimize, best_trials, importance, isolation_table, ranked
from .report import Report, _figure, _finish
from .templating import Table, words

TEMPLATE = "optuna.md.j2"


def _text_table(df: pd.DataFrame) -> pd.DataFrame:
    """Cells as text (objective values to 4 significant digits), the best cell bold."""
    out = pd.DataFrame({c: [objective_text(v) if isinstance(v, float) and c != df.columns[0] else format_value(v)
                            for v in df[c]] for c in df.columns}, index=df.index)
    out.attrs["bold"] = df.attrs.get("best", [])
    return out


def _table(rep: Report, md: list[str], df: pd.DataFrame, stem: str, view: pd.DataFrame | None = None) -> None:
    """The table's numbers as CSV; its text (`view`, default the objective to 4 digits, the best cell bold) as its own
    Markdown and LaTeX files, registered for the LaTeX document, and into the report."""
    table = Table(stem, _text_table(df) if view is None else view, df)
    rep.written.append(table)
    rep.tables[stem] = rep.out / "tables" / f"{stem}.md"
    md += ["", table.md, ""]


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
          words(TEMPLATE, "generated", date=f"{datetime.datetime.now():%Y-%m-%d %H:%M}", source=study.source), "",
          "## Findings", "", _finding(study), "",
          "## Setup", "",
          words(TEMPLATE, "setup", metric=metric, direction=direction, minimize=_minimize(study), trials=len(t),
                counts=list(counts.items())), "",
          ]
    _table(rep, md, specs, "parameters", specs.astype(str))
    md += ["", "## Results"]
    top = best_trials(study)
    if not len(top):
        md += ["", words(TEMPLATE, "no_trial_completed")]
        rep.warnings = []
        return _finish(rep, md)
    best = ranked(study).iloc[0]
    params = [(p, format_value(best["p:" + p])) for p in study.params if format_value(best["p:" + p]) != "—"]
    md += ["", words(TEMPLATE, "best_trial", number=int(best["number"]), metric=metric,
                     value=objective_text(best["value"]), params=params),
           "", "### Best trials"]
    _table(rep, md, top, "best_trials")

    if study.scientific():
        md += ["", "### Isolation of the scientific parameters", "", words(TEMPLATE, "isolation")]
    for p in study.scientific():
        table = isolation_table(study, p)
        md += ["", f"#### {p}"]
        _table(rep, md, table, f"isolation_{p}")
        if table.attrs.get("best"):
            i = table.attrs["best"][0][0]
            md += [words(TEMPLATE, "isolation_best", param=p, value=format_value(table.loc[i, p]), metric=metric,
                         objective=objective_text(table.loc[i, f"best {metric}"]), trial=table.loc[i, "best trial"],
                         completed=table.loc[i, "completed"])]
        _figure(rep, md, isolation_plot(study, p, table), f"isolation_{p}", f"Isolation of {p}")

    imp = importance(study)
    if len(imp):
        md += ["", "### Parameter importance", "", words(TEMPLATE, "importance"), ""]
        _table(rep, md, imp, "importance", imp.assign(ped_anova=imp["ped_anova"].map("{:.3f}".format),
                                                         fanova=imp["fanova"].map("{:.3f}".format)))
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


def _finding(study: Study) -> str:
    """The one finding a plain Optuna study supports: its best completed trial, from a search with no confirmation."""
    done = ranked(study)
    if not len(done):
        return words(TEMPLATE, "finding")
    best = done.iloc[0]
    return words(TEMPLATE, "finding", number=int(best["number"]), metric=_metric(study),
                 value=objective_text(best["value"]), completed=len(done))


def _describe(spec: dict) -> str:
    if spec.get("kind") == "categorical":
        return "one of " + ", ".join(map(str, spec.get("choices") or []))
    return f"{spec.get('kind')} in [{spec.get('low')}, {spec.get('high')}]" + (", log scale" if spec.get("log") else "")


def _warnings(study: Study) -> list[str]:
    out = []
    t = study.trials
    failed = int((t["status"] == "errored").sum())
    if failed:
        out.append(words(TEMPLATE, "failed", failed=failed, trials=len(t)))
    running = int((t["status"] == "running").sum())
    if running:
        out.append(words(TEMPLATE, "running", running=running))
    for p in study.scientific():
        table = isolation_table(study, p)
        thin = table[table["completed"] < 2]
        if len(thin):
            out.append(words(TEMPLATE, "thin", param=p, values=[format_value(v) for v in thin[p]]))
    return out

