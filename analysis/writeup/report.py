"""The experiments report of one study: `reports/<name>/` with experiments.md, .html and .tex, tables/ (each table
as md, tex and csv) and figures/ (png, pdf). The findings first, the methods once, the confirmed results (forest
plots of differences before the levels), the warnings, then the search's view in the appendix. Every number comes
from the database through the statistics and table functions; the words come from analysis/templates."""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ganrator.data import COUNTS
from tuning.command import portable_command

from ..load import Study, load_confirmation
from ..present import figures as F
from ..present.figures import confirmed_plot, cross_plot, save_figure
from ..present.figures.forest import forest_plot
from ..present.tables import (cross_levels, cross_view, format_cross, format_paired, formatted, formatted_scaling,
                              paired_levels, power_table, scaling_levels, space_table)
from ..present.text import format_value, pct_text
from ..stats import comparisons as C
from ..stats.checks import study_warnings
from ..stats.cross import AUG_BY_SIZE, confirmed_cross, cross_params
from ..stats.fidelity import fidelity_warnings, rung_correlation, rung_decisions
from ..stats.importance import param_importance
from ..stats.intervals import mean_ci
from ..stats.paired import confirmed_tables
from ..stats.scaling import train_size
from ..stats.search import (ablation_table, cross_table, expected_best_table, leaderboard, main_comparison, ranked,
                            stopped_early)
from .files import Writer, finish_document
from .templating import Section, Table, render, say

TITLES = {"family": "Classical or deep", "augmentation": "Augmentation strengths, paired by seed",
          "size": "More training images against fewer", "other": "Other confirmed comparisons"}


@dataclass
class Report:
    out: Path
    tables: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    markdown: Path | None = None
    html: Path | None = None
    tex: Path | None = None
    written: list[Table] = field(default_factory=list)  # the tables in the order they appear, for the LaTeX


def setup_data(study: Study) -> dict:
    """What the set-up bullets say, from the study's stored definition (setup.md.j2 words it)."""
    m, b = study.meta, study.meta.get("budget") or {}
    s, hw = m.get("search") or {}, m.get("hardware") or {}
    return {"train": COUNTS["train"], "test": COUNTS["test"], "val_size": b.get("val_size"),
            "fraction": f"{b.get('data_fraction', 1.0):g}", "n_train": train_size(b), "space": m.get("space"),
            "description": m.get("description"), "budget": b.get("name"), "num_samples": b.get("num_samples"),
            "time_budget": b.get("time_budget_s"), "sampler": s.get("sampler", "?"), "seed": s.get("seed"),
            "max_concurrent": s.get("max_concurrent"), "scheduler": s.get("scheduler"),
            "grace_period": b.get("grace_period"), "reduction_factor": b.get("reduction_factor"),
            "max_epochs": b.get("max_epochs"), "classical": m.get("kind") == "classical",
            "steps": int((s.get("fixed") or {}).get("steps") or 0), "nodes": hw.get("nodes", "?"),
            "cpus": hw.get("cpus", 0), "gpus": hw.get("gpus", 0), "platform": hw.get("platform", "?"),
            "cpus_per_trial": s.get("cpus_per_trial"), "gpus_per_trial": s.get("gpus_per_trial"),
            "versions": [f"{k} {v}" for k, v in (m.get("versions") or {}).items()],
            "commit": (m.get("git_commit") or "unknown")[:10], "command": portable_command(m.get("command"))}


def _setup_text(study: Study) -> str:
    return render("setup.md.j2", s=setup_data(study))


def _confirmation_data(study: Study) -> dict | None:
    b = study.meta.get("budget") or {}
    if not b.get("confirm"):
        return None
    fixed = (study.meta.get("search") or {}).get("fixed") or {}
    length = (f"the space's {int(fixed['steps']):,} optimizer steps" if int(fixed.get("steps") or 0) > 0
              else f"{b.get('confirm_epochs')} epochs")
    fraction = ("each arm's data fraction" if "data_fraction" in study.scientific()
                else f"{b.get('confirm_data_fraction')} of the training split")
    return {"length": length, "fraction": fraction, "seeds": b.get("confirm_seeds")}


def _figure(rep: Report, md: list[str], fig, stem: str, caption: str) -> None:
    """A figure as PNG and PDF, and its Markdown (image, then its caption): for reports written line by line."""
    if fig is None:
        return
    png, _pdf = save_figure(fig, rep.out / "figures" / stem)
    rep.figures[stem] = png
    md += ["", f"![{caption}](figures/{png.name})", "", f"_{caption}._"]


def _finish(rep: Report, md: list[str]) -> Report:
    """A report written line by line: its warnings, then the Markdown, the HTML page and the LaTeX document."""
    md += ["", "## Warnings", ""]
    md += [f"- {w}" for w in rep.warnings] or ["- none"]
    return _write(rep, "\n".join(md) + "\n")


def _write(rep: Report, text: str) -> Report:
    rep.markdown = rep.out / "experiments.md"
    rep.markdown.write_text(text)
    (rep.out / "warnings.txt").write_text("\n".join(rep.warnings) + ("\n" if rep.warnings else ""))
    rep.html, rep.tex = finish_document(rep.markdown, text, rep.written)
    return rep


class _ReportWriter(Writer):
    """The report's figures as PNG and PDF, and every table and figure recorded by stem on the Report."""

    def __init__(self, rep: Report):
        super().__init__(rep.out, pdf=True)
        self.rep = rep

    def figure(self, fig, stem, kind, **data):
        item = super().figure(fig, stem, kind, **data)
        if item is not None:
            self.rep.figures[stem] = self.out / item.figure
        return item

    def table(self, stem, view, kind="note", data=None, **caption_data):
        item = super().table(stem, view, kind, data, **caption_data)
        self.rep.tables[item.table.stem] = self.out / "tables" / f"{item.table.stem}.md"
        self.rep.written = self.tables
        return item


def _csv(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(**{c: df[c].map(lambda v: v if not isinstance(v, (list, dict)) else str(v)) for c in df.columns})


def cross_stem(param: str) -> str:
    """The file name of a cross's table and figure: `aug_by_size` for data size x augmentation."""
    return "aug_by_size" if param == AUG_BY_SIZE else "cross_" + "_x_".join(param.split(" x "))


def _results(w: _ReportWriter, study: Study, tables: dict, crosses: dict, comps: list) -> list[Section]:
    out = []
    if tables:
        forests = [w.figure(forest_plot([c for c in comps if c.question == q], TITLES[q]), f"forest_{q}", "forest",
                            question=q) for q in (*C.QUESTIONS, "other") if any(c.question == q for c in comps)]
        fallback = [f"{param} = {r[param]}" for param, df in tables.items() for r in df.to_dict("records")
                    if str(r.get("source") or "").startswith("reference with")]
        lead = say("confirmed_ablations") + (" " + say("fallback_arms", values=fallback) if fallback else "")
        out.append(Section("Confirmed ablations", lead=lead, items=[f for f in forests if f is not None]))
        for param, df in tables.items():
            items = [w.table(f"confirmed_{param}", paired_levels(df), "paired", data=_csv(df), param=param,
                             reference=_reference(df)),
                     w.figure(confirmed_plot(df), f"confirmed_{param}", "confirmed_figure", param=param)]
            out.append(Section(f"{param} (confirmed)", level=4, items=[i for i in items if i is not None]))
    for param, df in crosses.items():
        stem = cross_stem(param)
        items = [w.table(stem, cross_levels(df), "cross", data=_csv(df), row=df.attrs["row"], col=df.attrs["col"],
                         base=format_value(df.attrs["baseline"])),
                 w.figure(cross_plot(df), stem, "cross_figure", row=df.attrs["row"], col=df.attrs["col"])]
        if not tables:
            forest = w.figure(forest_plot(comps, TITLES.get(C.QUESTION_OF.get(df.attrs["col"], "other"),
                                                            TITLES["other"])), "forest_cross", "forest",
                              question=C.QUESTION_OF.get(df.attrs["col"], "other"))
            items.insert(0, forest) if forest is not None else None
        out.append(Section(f"{df.attrs['title']} (`{stem}`)", items=[i for i in items if i is not None]))
    if _scaling(study, crosses):
        from ..present.figures import scaling_plot
        from ..stats.scaling import scaling_table

        table = scaling_table(study)
        levels = scaling_levels(table)
        items = [w.table("scaling_fits", levels, "scaling_fits")] if len(levels) else []
        items.append(w.figure(scaling_plot(study), "scaling", "scaling_figure"))
        out.append(Section("Scaling", lead="" if len(levels) else say("no_confirmed_fit"),
                           items=[i for i in items if i is not None]))
    return out


def _scaling(study: Study, crosses: dict) -> bool:
    """A data fraction crossed with another parameter is read from the cross's table, not as a scaling law."""
    return "data_fraction" in study.scientific() and not any("data_fraction" in p.split(" x ") for p in crosses)


def _reference(df: pd.DataFrame) -> str:
    refs = df[df["reference"].astype(bool)]
    return format_value(refs[df.attrs["param"]].iloc[0]) if len(refs) else "?"


def _appendix(w: _ReportWriter, study: Study, tables: dict, crosses: dict, fidelity: pd.DataFrame) -> list[Section]:
    out = []
    for stem, df, title in (("main_comparison", main_comparison(study), "Main comparison"),
                            ("leaderboard", leaderboard(study), "Leaderboard")):
        if len(df):
            items = [w.table(stem, formatted(df), data=df, text=df.attrs.get("note", ""))]
            if stem == "main_comparison":
                items.append(w.figure(F.main_comparison_plot(study), stem, "main_comparison_figure"))
            out.append(Section(title, items=[i for i in items if i is not None]))
    out += _search_ablations(w, study, fidelity)
    imp = param_importance(study)
    full = study.trials[study.trials["status"] == "completed"]
    if len(imp):
        shown = imp.assign(ped_anova=imp["ped_anova"].map("{:.3f}".format), fanova=imp["fanova"].map("{:.3f}".format))
        items = [w.table("importance", shown, data=imp),
                 w.figure(F.importance_plot(imp), "importance", "search_figure", title="Hyperparameter importance")]
        out.append(Section("Hyperparameter importance", lead=say("importance", trials=len(full)),
                           items=[i for i in items if i is not None]))
    out += _behaviour(w, study, fidelity)
    if tables or crosses:
        out.append(Section("Per-seed values and McNemar's tests", lead=next(iter(tables.values())).attrs["protocol"]
                           if tables else ""))
        for param, df in tables.items():
            lead = "\n\n".join(df.attrs[k] for k in ("settings_note", "fit_note") if df.attrs.get(k))
            out.append(Section(f"{param}, per seed", level=4, lead=lead,
                               items=[w.table(f"confirmed_{param}_per_seed", format_paired(df), data=_csv(df))]))
        for param, df in crosses.items():
            out.append(Section(f"{df.attrs['title']}, per seed", level=4, lead=df.attrs["note"],
                               items=[w.table(f"{cross_stem(param)}_per_seed", format_cross(df), data=_csv(df))]))
        arms, runs = load_confirmation(study)
        val_size = int((study.meta.get("budget") or {}).get("val_size") or 5000)
        own = C.from_confirmed(study.name, tables, arms, runs, val_size) + \
            [c for df in crosses.values() for c in C.from_cross(df, study.name)]
        if own:
            out.append(Section("Power analysis", items=[w.table("power", power_table(own), "power",
                                                                study=study.name)]))
    if _scaling(study, crosses):
        from .sentences import scaling_sentences
        from ..stats.scaling import scaling_table

        sc = scaling_table(study)
        out.append(Section("Scaling: every fit", lead=say("scaling_lead", note=sc.attrs["note"],
                                                          readings=scaling_sentences(sc),
                                                          sources=sc.attrs.get("sources")),
            items=[w.table("scaling", formatted_scaling(sc), data=_csv(sc))]))  # every number, for a notebook
    return out


def _search_ablations(w: _ReportWriter, study: Study, fidelity: pd.DataFrame) -> list[Section]:
    scientific = study.scientific()
    out = [Section("Ablations of the scientific hyperparameters", lead=say("search_view", plural=False))]
    # The first rung's accuracies stand in for unfinished trials only where they rank trials as the last epoch does.
    evp_basis = "auto" if len(fidelity) and not fidelity_warnings(fidelity.head(1)) else "full"
    for i, p in enumerate(scientific):
        df = ablation_table(study, p)
        if not len(df):
            continue
        best_row = df.loc[df.attrs["selected"]] if df.attrs.get("selected") is not None else None
        best = say("search_best", param=p, value=format_value(best_row[p]), val=pct_text(best_row["best_val_full"]),
                   trial=best_row["best_trial"], full_budget=int(best_row["full_budget"])) if best_row is not None \
            else ""
        items = [w.table(f"ablation_{p}", formatted(df), data=df, text=df.attrs["note"]),
                 w.figure(F.ablation_plot(study, p), f"isolation_{p}", "search_figure",
                          title=f"Ablation of {p} within the reference slice")]
        out.append(Section(p, level=4, lead=best, items=[i for i in items if i is not None]))
        for q in scientific[i + 1:]:  # the second view: every pair of values, not only the reference slice
            cross = cross_table(study, p, q)
            if len(cross):
                out.append(Section(f"{p} x {q}", level=5, items=[
                    w.table(f"cross_{p}_{q}", cross_view(cross), data=cross, text=cross.attrs["note"])]))
        evp = expected_best_table(study, p, basis=evp_basis)
        if len(evp) and evp["trials"].any():
            items = [w.table(f"expected_best_{p}", formatted(evp), data=evp, text=evp.attrs["note"]),
                     w.figure(F.evp_plot(study, p, basis=evp_basis), f"expected_best_{p}", "search_figure",
                              title=f"Expected best validation accuracy against the number of trials, per value of {p}")]
            out.append(Section(f"Expected best of n trials: {p}", level=5, items=[i for i in items if i is not None]))
    return out


def _behaviour(w: _ReportWriter, study: Study, fidelity: pd.DataFrame) -> list[Section]:
    items = []
    if "aug_strength" not in study.scientific():  # a scientific aug_strength has its ablation figure above
        items.append(w.figure(F.strength_plot(study), "aug_strength", "search_figure",
                              title="Accuracy against augmentation strength"))
    out = [Section("Search behaviour", items=[i for i in items if i is not None])]
    if len(fidelity):
        view = pd.DataFrame({
            "rung (epoch)": fidelity["rung"], "against epoch": fidelity["last_epoch"],
            "calibration trials": fidelity["calibration_trials"],
            "Spearman (95% CI)": [f"{r:.2f} [{lo:.2f}, {hi:.2f}]" if pd.notna(r) and pd.notna(lo) else
                                  (f"{r:.2f}" if pd.notna(r) else "—")
                                  for r, lo, hi in zip(fidelity["spearman"], fidelity["ci_low"], fidelity["ci_high"])],
            "bootstrap resamples kept": [f"{k} of {n}" for k, n in zip(fidelity["bootstrap_kept"],
                                                                        fidelity["bootstrap_total"])]})
        out.append(Section("Fidelity of early stopping", level=4,
                           items=[w.table("fidelity", view, data=fidelity, text=fidelity.attrs["note"])]))
    decisions = rung_decisions(study)
    if len(decisions):
        from tuning.fidelity import RULE

        view = pd.DataFrame({
            "model": decisions["model"], "rung (epoch)": decisions["rung"],
            "calibration trials": decisions["calibration_trials"],
            "Spearman (95% CI)": [f"{r:.2f} [{lo:.2f}, {hi:.2f}]" if pd.notna(lo) else
                                  (f"{r:.2f}" if pd.notna(r) else "—") for r, lo, hi in
                                  zip(decisions["spearman"], decisions["ci_low"], decisions["ci_high"])],
            "stops trials": ["yes" if s else "no: every trial promoted" for s in decisions["stops"]],
            "why": decisions["reason"]})
        out.append(Section("Early stopping's decisions", level=4,
                           items=[w.table("rung_decisions", view, data=decisions,
                                          text=say("rung_decisions", rule=RULE))]))
    figures = [w.figure(F.learning_curves(study), "learning_curves", "search_figure",
                        title="Learning curves, ASHA rungs dotted"),
               w.figure(F.search_efficiency(study), "search_efficiency", "search_figure",
                        title="Best so far against time and epochs"),
               w.figure(F.axis_plots(study), "axis_plots", "search_figure", title="Hyperparameter axis plots"),
               w.figure(F.parallel_coordinates(study), "parallel_coordinates", "search_figure",
                        title="Parallel coordinates of the top trials")]
    out.append(Section("Learning curves and search efficiency", level=4, items=[f for f in figures if f is not None]))
    return out


def build_report(study: Study, out: str | Path) -> Report:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep = Report(out)
    w = _ReportWriter(rep)
    t = study.trials
    counts = {s: int((t["status"] == s).sum()) for s in ("completed", "early_stopped", "diverged", "errored",
                                                         "cut", "interrupted", "running")}
    from .docs import Confirmed, methods_data

    arms, runs = load_confirmation(study)  # read once: the findings, the methods and the tables use it
    tables = confirmed_tables(arms, runs, rungs=stopped_early(study))
    crosses = {param: confirmed_cross(arms, runs, param) for param in cross_params(arms)}
    val_size = int((study.meta.get("budget") or {}).get("val_size") or 5000)
    comps = C.distinct(C.from_confirmed(study.name, tables, arms, runs, val_size)
                       + [c for df in crosses.values() for c in C.from_cross(df, study.name)])
    C.choose_primaries(comps)
    m = methods_data([study], [Confirmed(study, tables, crosses)], w, "report")
    m["split"] = False  # the set-up's data line says it for this study
    space = space_table(study)
    full = t[t["status"] == "completed"]
    context = {"name": study.name, "date": f"{datetime.datetime.now():%Y-%m-%d %H:%M}", "source": study.source,
               "findings": C.findings(comps), "confirmed": bool(tables or crosses), "s": setup_data(study), "m": m,
               "space": w.table("space", space, "space", study=study.name) if len(space) else None,
               "confirmation": _confirmation_data(study), "trials": len(t),
               "counts": [f"{n} {s.replace('_', ' ')}" for s, n in counts.items() if n], "best": None,
               "early_stopping": [], "results": [], "appendix": []}
    if not len(full):
        rep.warnings = study_warnings(study)
        return _write(rep, render("report.md.j2", warnings=rep.warnings, **context))
    best = ranked(study).iloc[0]  # full-budget trials first, as the leaderboard ranks
    finals = study.finals[study.finals["test_acc"].notna()] if len(study.finals) else study.finals
    top = finals[finals["trial_id"] == best["trial_id"]]["test_acc"] if len(finals) else finals
    context["best"] = {"full": len(full), "trial": best["trial_id"], "val": pct_text(best["last_val_acc"]),
                       "runs": int(best.get("runs", 1)),
                       "params": ", ".join(f"{p} = {format_value(best['p:' + p])}" for p in study.params
                                           if study.roles.get(p) != "fixed" and format_value(best["p:" + p]) != "—"),
                       "test": pct_text(*mean_ci(top)) if len(top) else "", "test_seeds": len(top)}
    fidelity = rung_correlation(study)
    context["early_stopping"] = fidelity_warnings(fidelity) if len(fidelity) else []
    context["results"] = _results(w, study, tables, crosses, comps)
    context["appendix"] = _appendix(w, study, tables, crosses, fidelity)
    rep.warnings = study_warnings(study) + (fidelity_warnings(fidelity) if len(fidelity) else [])
    return _write(rep, render("report.md.j2", warnings=rep.warnings, **context))

