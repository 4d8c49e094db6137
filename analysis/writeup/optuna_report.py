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
from .templating import Table


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
          f"_Generated {datetime.datetime.now():%Y-%m-%d %H:%M} from `{study.source}` by `python -m analysis "
          f"report`. A plain Optuna study: every number below is read from its trials._", "",
          "## Findings", "", _finding(study), "",
          "## Setup", "",
          f"- **Objective**: `{metric}`, to {direction} ({'lower' if _minimize(study) else 'higher'} is better).",
          f"- **Trials**: {len(t)}: " + (", ".join(f"{n} {s}" for s, n in counts.items()) or "none") + ".",
          "- **Ranking**: completed trials only; a pruned trial stopped before its final value.",
          "- **Parameters** (scientific: chosen with `--scientific`; the others are tuned away as nuisance):", "",
          ]
    _table(rep, md, specs, "parameters", specs.astype(str))
    md += ["", "## Results"]
    top = best_trials(study)
    if not len(top):
        md += ["", "**No trial has completed yet**, so there is nothing to rank. Run the study longer and generate "
               "this report again."]
        rep.warnings = []
        return _finish(rep, md)
    best = ranked(study).iloc[0]
    md += ["", f"The best completed trial, number {int(best['number'])}, reached {metric} = {objective_text(best['value'])} "
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
                   f"{objective_text(table.loc[i, f'best {metric}'])} (trial {table.loc[i, 'best trial']}, "
                   f"{table.loc[i, 'completed']} completed trial(s) at that value)."]
        _figure(rep, md, isolation_plot(study, p, table), f"isolation_{p}", f"Isolation of {p}")

    imp = importance(study)
    if len(imp):
        md += ["", "### Parameter importance", "",
               "PED-ANOVA and fANOVA (Optuna's evaluators) over the completed trials, in the study's direction, "
               "normalized to sum to 1.", ""]
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
        return "- No trial has completed yet: there is no finding."
    best = done.iloc[0]
    return (f"- **Best completed trial.** Number {int(best['number'])} reached {_metric(study)} = "
            f"{objective_text(best['value'])}, the best of {len(done)} completed trials; a plain Optuna study has no "
            f"confirmation on fresh seeds, so this is the search's choice, not a confirmed comparison.")


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

