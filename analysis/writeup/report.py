"""The experiments report: `reports/<name>/` with tables/ (md, tex, csv), figures/ (png, pdf), experiments.md and
experiments.html. Every number comes from the database through the table and figure functions."""
from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ganrator.data import COUNTS
from tuning.command import portable_command

from ..load import Study, load_confirmation
from ..present import figures as F
from ..present.figures import cross_plot
from ..present.tables import cross_view, format_cross, format_paired, formatted, to_latex, to_markdown
from ..present.text import format_value, pct_text, point_text
from ..stats.checks import study_warnings
from ..stats.cross import AUG_BY_SIZE, confirmed_cross, cross_params
from ..stats.fidelity import fidelity_warnings, rung_correlation, rung_decisions
from ..stats.importance import param_importance
from ..stats.intervals import mean_ci
from ..stats.paired import confirmed_tables
from ..stats.scaling import train_size
from ..stats.search import (ablation_table, cross_table, expected_best_table, leaderboard, main_comparison, ranked,
                            stopped_early)


@dataclass
class Report:
    out: Path
    tables: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    markdown: Path | None = None
    html: Path | None = None


def _write_table(df: pd.DataFrame, out: Path, stem: str, view: pd.DataFrame | None = None) -> Path:
    """The numbers as CSV, the formatted `view` (default: `formatted(df)`) as Markdown and LaTeX."""
    tdir = out / "tables"
    tdir.mkdir(parents=True, exist_ok=True)
    df.to_csv(tdir / f"{stem}.csv", index=False)
    f = formatted(df) if view is None else view
    (tdir / f"{stem}.tex").write_text(to_latex(f))
    (tdir / f"{stem}.md").write_text(to_markdown(f))
    return tdir / f"{stem}.md"


def _setup_text(study: Study) -> str:
    m, b = study.meta, study.meta.get("budget") or {}
    s, hw, v = m.get("search") or {}, m.get("hardware") or {}, m.get("versions") or {}
    frac = b.get("data_fraction", 1.0)
    n_train = train_size(b)
    sched = (f"ASHA (grace period {b.get('grace_period')} epoch(s), reduction factor {b.get('reduction_factor')}, "
             f"at most {b.get('max_epochs')} epochs)" if s.get("scheduler") == "asha"
             else "FIFO (one fit per trial)" if m.get("kind") == "classical"
             else f"FIFO (every trial runs its fixed {(s.get('fixed') or {})['steps']:,} optimizer steps, epochs "
                  f"varying with its training-set size)" if (s.get("fixed") or {}).get("steps")
             else f"FIFO (every trial runs its full budget of {b.get('max_epochs')} epoch(s))")
    val_size = b.get("val_size")
    split = (f"{COUNTS['train'] - val_size:,} for training and {val_size:,} for validation" if val_size is not None
             else "training and validation parts")
    return "\n".join([
        f"- **Data**: Fashion-MNIST. A stratified, seeded split of the {COUNTS['train']:,} official training images "
        f"into {split}; trials train on a stratified {frac:g} of the training part ({n_train:,} images). The "
        f"{COUNTS['test']:,} test images are read only after the search (confirmation, final evaluation), never "
        f"for selection.",
        f"- **Search space**: `{m.get('space')}` — {m.get('description')}",
        f"- **Budget**: `{b.get('name')}`: {b.get('num_samples')} trials"
        + (f", at most {b.get('time_budget_s'):.0f} s of search" if b.get("time_budget_s") else "") + ".",
        f"- **Search algorithm**: Optuna {s.get('sampler', '?').upper()} sampler (seed {s.get('seed')}) through Ray "
        f"Tune, {s.get('max_concurrent')} trials at once; scheduler: {sched}.",
        f"- **Hardware**: {hw.get('nodes', '?')} Ray node(s), {hw.get('cpus', 0):g} CPUs, {hw.get('gpus', 0):g} GPUs "
        f"({hw.get('platform', '?')}); {s.get('cpus_per_trial')} CPU and {s.get('gpus_per_trial')} GPU per trial.",
        "- **Software**: " + ", ".join(f"{k} {val}" for k, val in v.items()) +
        f"; git commit `{(m.get('git_commit') or 'unknown')[:10]}`.",
        f"- **Command**: `{portable_command(m.get('command'))}`",
    ])


def _space_text(study: Study) -> list[str]:
    """The searched space as a table (what a reader needs to reproduce it), the fixed settings, and what the
    confirmation stage retrains with, all from the study's stored definition."""
    rows = []
    for name, spec in study.specs.items():
        if spec.get("kind") == "categorical":
            values = ", ".join(format_value(c) for c in spec.get("choices") or [])
        else:
            values = f"[{format_value(spec.get('low'))}, {format_value(spec.get('high'))}]" + \
                     (", log scale" if spec.get("log") else "")
        when = "; ".join(f"{k} in {', '.join(map(str, v))}" for k, v in (spec.get("when") or {}).items()) or "always"
        rows.append(f"| {name} | {spec.get('role', '?')} | {spec.get('kind', '?')} | {values} | {when} |")
    fixed = (study.meta.get("search") or {}).get("fixed") or {}
    out = ["", "| parameter | role | kind | values searched | applies when |", "|---|---|---|---|---|", *rows]
    if fixed:
        out += ["", "Fixed: " + ", ".join(f"{k} = {format_value(v)}" for k, v in fixed.items()) +
                "; every other training setting takes `ganrator.train.TrainConfig`'s default, stored per trial in "
                "`ganrator_trials.config`."]
    b = study.meta.get("budget") or {}
    if b.get("confirm"):
        length = (f"the space's {int(fixed['steps']):,} optimizer steps" if int(fixed.get("steps") or 0) > 0
                  else f"{b.get('confirm_epochs')} epochs")
        fraction = ("each arm's data fraction" if "data_fraction" in study.scientific()
                    else f"{b.get('confirm_data_fraction')} of the training split")
        out += ["", f"Confirmation stage: each arm retrained for {length} on {fraction} over "
                    f"{b.get('confirm_seeds')} fresh seeds, without early stopping; "
                    f"{b.get('calibration_trials', 0)} calibration trial(s) that ASHA never stops."]
    return out


def build_report(study: Study, out: str | Path) -> Report:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep = Report(out)
    t = study.trials
    counts = {s: int((t["status"] == s).sum()) for s in ("completed", "early_stopped", "diverged", "errored",
                                                         "cut", "interrupted", "running")}
    md = [f"# Experiments: {study.name}", "",
          f"_Generated {datetime.datetime.now():%Y-%m-%d %H:%M} from `{study.source}` by "
          f"`python -m analysis report`. Every number below is read from that database._", "",
          "## Setup", "", _setup_text(study), *_space_text(study), "",
          "## Results", "",
          f"The study ran {len(t)} trials: " + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items() if n)
          + "."]
    full = t[t["status"] == "completed"]
    if not len(full):
        md += ["", "**No trial has completed its full budget yet**, so there is nothing to compare. "
               "Run the study longer (or resume it) and generate this report again."]
        rep.warnings = study_warnings(study)
        return _finish(rep, md)

    best = ranked(study).iloc[0]  # full-budget trials first, as the leaderboard ranks
    params = ", ".join(f"{p} = {format_value(best['p:' + p])}" for p in study.params
                       if study.roles.get(p) != "fixed" and format_value(best["p:" + p]) != "—")
    md += ["", f"The search's best full-budget trial on validation (the best found, one of "
               f"{len(full)} that ran every epoch), `{best['trial_id']}`, reached {pct_text(best['last_val_acc'])} "
               f"validation accuracy with {params}."]
    fidelity = rung_correlation(study)
    for w in fidelity_warnings(fidelity) if len(fidelity) else []:
        md += ["", f"**Early stopping:** {w}."]
    arms, runs = load_confirmation(study)  # read once: the findings and the tables use it
    confirmed = confirmed_tables(arms, runs, rungs=stopped_early(study))
    md += _confirmed_findings(study, confirmed)
    finals = study.finals[study.finals["test_acc"].notna()] if len(study.finals) else study.finals
    if len(finals):
        top = finals[finals["trial_id"] == best["trial_id"]]["test_acc"]
        if len(top):
            md += [f"Retrained over {top.size} seed(s), it scores {pct_text(*mean_ci(top))} on the test set "
                   f"(mean ± 95% CI)."]

    sections = [("main_comparison", main_comparison(study), "Main comparison"),
                ("leaderboard", leaderboard(study), "Leaderboard")]
    for stem, df, title in sections:
        if len(df):
            rep.tables[stem] = _write_table(df, out, stem)
            md += ["", f"### {title}", "", df.attrs.get("note", ""), "", to_markdown(formatted(df))]
            if stem == "main_comparison":
                _figure(rep, md, F.main_comparison_plot(study), "main_comparison",
                        "Main comparison: validation accuracy of every full-budget trial, the one selected on "
                        "validation, and its test over seeds where it was retrained")

    _confirmed_ablations(rep, md, confirmed)
    crosses = cross_params(arms)
    _confirmed_crosses(rep, md, {param: confirmed_cross(arms, runs, param) for param in crosses})
    md += ["", "### Ablations of the scientific hyperparameters"]
    scientific = study.scientific()
    # The first rung's accuracies stand in for unfinished trials only where they rank trials as the last epoch does.
    evp_basis = "auto" if len(fidelity) and not fidelity_warnings(fidelity.head(1)) else "full"
    for i, p in enumerate(scientific):
        df = ablation_table(study, p)
        if not len(df):
            continue
        rep.tables[f"ablation_{p}"] = _write_table(df, out, f"ablation_{p}")
        md += ["", f"#### {p}", "", df.attrs["note"], "", to_markdown(formatted(df))]
        best_row = df.loc[df.attrs["selected"]] if df.attrs.get("selected") is not None else None
        if best_row is not None:
            md += [f"Best at {p} = {format_value(best_row[p])}: {pct_text(best_row['best_val_full'])} validation "
                   f"accuracy, trial `{best_row['best_trial']}` ({int(best_row['full_budget'])} full-budget trial(s) "
                   f"at that value in this slice)."]
        _figure(rep, md, F.ablation_plot(study, p), f"isolation_{p}", f"Ablation of {p} within the reference slice")
        for q in scientific[i + 1:]:  # the second view: every pair of values, not only the reference slice
            cross = cross_table(study, p, q)
            if len(cross):
                view = cross_view(cross)
                rep.tables[f"cross_{p}_{q}"] = _write_table(cross, out, f"cross_{p}_{q}", view)
                md += ["", f"##### {p} x {q}", "", cross.attrs["note"], "", to_markdown(view)]
        evp = expected_best_table(study, p, basis=evp_basis)
        if len(evp) and evp["trials"].any():
            rep.tables[f"expected_best_{p}"] = _write_table(evp, out, f"expected_best_{p}")
            md += ["", f"##### Expected best of n trials: {p}", "", evp.attrs["note"], "", to_markdown(formatted(evp))]
            _figure(rep, md, F.evp_plot(study, p, basis=evp_basis), f"expected_best_{p}",
                    f"Expected best validation accuracy against the number of trials, per value of {p}")

    imp = param_importance(study)
    if len(imp):
        rep.tables["importance"] = _write_table(imp, out, "importance")
        md += ["", "### Hyperparameter importance", "",
               f"PED-ANOVA and fANOVA (Optuna's evaluators) over the {len(full)} full-budget trials, normalized to "
               "sum to 1; parameters that some of those trials lack (conditional ones) are left out. Those trials "
               "are the ones early stopping let through, not a random sample, the two methods measure different "
               "things and can disagree, and neither has an interval: read this as where the search found "
               "variation, not as an effect size.", "",
               to_markdown(imp.assign(ped_anova=imp["ped_anova"].map("{:.3f}".format),
                                      fanova=imp["fanova"].map("{:.3f}".format)))]
        _figure(rep, md, F.importance_plot(imp), "importance", "Hyperparameter importance")

    # A data fraction crossed with another parameter is read from the cross's table, not as a scaling law.
    if "data_fraction" in study.scientific() and not any("data_fraction" in p.split(" x ") for p in crosses):
        from ..present.figures import scaling_plot
        from ..present.tables import formatted_scaling
        from ..stats.scaling import scaling_table
        from .sentences import scaling_sentences

        sc = scaling_table(study)
        rep.tables["scaling"] = _write_table(sc, out, "scaling")  # every number, for a notebook
        # shown as the docs show it: no b interval where c is not identified
        md += ["", "### Scaling", "", sc.attrs["note"], "", to_markdown(formatted_scaling(sc)), "",
               " ".join(scaling_sentences(sc) + ([sc.attrs["sources"]] if sc.attrs.get("sources") else []))]
        _figure(rep, md, scaling_plot(study), "scaling", "Error against training images, parameters and FLOPs")

    md += ["", "### Search behaviour"]
    if "aug_strength" not in scientific:  # a scientific aug_strength has its ablation figure above
        _figure(rep, md, F.strength_plot(study), "aug_strength", "Accuracy against augmentation strength")
    if len(fidelity):
        view = pd.DataFrame({
            "rung (epoch)": fidelity["rung"], "against epoch": fidelity["last_epoch"],
            "calibration trials": fidelity["calibration_trials"],
            "Spearman (95% CI)": [f"{r:.2f} [{lo:.2f}, {hi:.2f}]" if pd.notna(r) and pd.notna(lo) else
                                  (f"{r:.2f}" if pd.notna(r) else "—")
                                  for r, lo, hi in zip(fidelity["spearman"], fidelity["ci_low"], fidelity["ci_high"])],
            "bootstrap resamples kept": [f"{k} of {n}" for k, n in zip(fidelity["bootstrap_kept"],
                                                                        fidelity["bootstrap_total"])]})
        rep.tables["fidelity"] = _write_table(fidelity, out, "fidelity", view)
        md += ["", "#### Fidelity of early stopping", "", fidelity.attrs["note"], "", to_markdown(view)]
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
        rep.tables["rung_decisions"] = _write_table(decisions, out, "rung_decisions", view)
        md += ["", "#### Early stopping's decisions", "", f"Within each model, decided once the calibration trials "
               f"had ended: {RULE}.", "", to_markdown(view)]
    _figure(rep, md, F.learning_curves(study), "learning_curves", "Learning curves, ASHA rungs dotted")
    _figure(rep, md, F.search_efficiency(study), "search_efficiency", "Best so far against time and epochs")
    _figure(rep, md, F.axis_plots(study), "axis_plots", "Hyperparameter axis plots")
    _figure(rep, md, F.parallel_coordinates(study), "parallel_coordinates", "Parallel coordinates of the top trials")
    rep.warnings = study_warnings(study) + (fidelity_warnings(fidelity) if len(fidelity) else [])
    return _finish(rep, md)


def _confirmed_findings(study: Study, tables: dict[str, pd.DataFrame]) -> list[str]:
    """The claims the study supports, in words: each confirmed arm against the reference, with its paired interval,
    n and budget; and where the confirmation overturns the search's choice, that it does."""
    if not tables:
        return ["", "The study ran no confirmation stage: the tables below show how the search saw each value, at "
                    "its low fidelity, and support no claim of an effect."]
    first = next(iter(tables.values())).attrs  # from the runs' configs, not the budget: a step budget or a
    fractions = "/".join(f"{f:g}" for f in first.get("fractions") or []) or "?"  # crossed data fraction differ
    out = ["", f"**Confirmed findings** (each value retrained without early stopping for "
               f"{first.get('length', '?')} on data fraction {fractions} of the "
               f"training split, fresh seeds shared by all arms; test accuracy, seed-paired difference to the "
               f"validation-selected reference with its 95% t-interval):", ""]
    for param, df in tables.items():
        ref = df[df["reference"]]
        ref_value = ref[param].iloc[0] if len(ref) else "?"
        for r in df[~df["reference"]].to_dict("records"):
            if np.isfinite(r["diff_low"]):
                diff = (f"{100 * r['diff_mean']:+.2f} points [{100 * r['diff_low']:+.2f}, "
                        f"{100 * r['diff_high']:+.2f}]")
            else:
                diff = "per seed " + ", ".join(f"{100 * d:+.2f}" for d in r["diff_per_seed"]) + " points"
            holm = r.get("p_holm", math.nan)
            holm_text = (f"; Holm-adjusted p {_p_holm(holm)} over {df.attrs.get('holm_family', '?')} comparisons"
                         if np.isfinite(holm) else "")
            out.append(f"- {param} = {r[param]} against {ref_value}: {diff}, n = {int(r['seeds'])} seeds: "
                       f"{r['verdict']}{holm_text}.")
        ref_val = ref["val_mean"].iloc[0] if len(ref) else math.nan
        for r in df.to_dict("records"):
            if r["verdict"] != "better than the reference":
                continue
            source = str(r["source"])
            if source.startswith("reference with"):
                why = (f"the search never ran {param} = {r[param]} beside the reference's other scientific values; "
                       f"this arm is the reference with only {param} changed, its other settings tuned for "
                       f"{ref_value}")
            elif "stopped early" in source:
                why = "the search stopped this arm's trials early, so its low-fidelity ranking did not hold"
            else:
                why = "the search ranked it below the reference, on its own budget and seed"
            val = (f" Validation agrees: {pct_text(r['val_mean'])} against {pct_text(ref_val)} on the confirmation "
                   f"runs; a choice of configuration reads that, not the test difference."
                   if np.isfinite(r["val_mean"]) and np.isfinite(ref_val) and r["val_mean"] > ref_val else
                   " Validation does not agree on the confirmation runs, so nothing here re-selects the "
                   "configuration.")
            out.append(f"- On fresh seeds, {param} = {r[param]} did better than the search's choice ({ref_value}): "
                       f"{why}.{val}")
    return out


def _p_holm(p: float) -> str:
    return "< 0.001" if p < 1e-3 else f"= {p:.2g}"


def _confirmed_ablations(rep: Report, md: list[str], tables: dict[str, pd.DataFrame]) -> None:
    """The confirmation stage's paired comparisons (analysis/paired.py), when the study ran it."""
    if not tables:
        return
    md += ["", "### Confirmed ablations", "",
           "Each value of each scientific parameter, retrained on fresh seeds and compared with the "
           "validation-selected reference seed by seed. These comparisons, not the search's, carry the ablation "
           "claims; the search-based tables below show how the search saw them."]
    fallback = [f"{param} = {r[param]}" for param, df in tables.items() for r in df.to_dict("records")
                if str(r.get("source") or "").startswith("reference with")]
    if fallback:
        md += ["", "The search's budget left these values without a searched trial in the reference's slice, so each "
                   "arm is the reference with that one value changed, its nuisance parameters tuned for the "
                   "reference's value: " + ", ".join(fallback) + "."]
    for param, df in tables.items():
        f = format_paired(df)
        rep.tables[f"confirmed_{param}"] = _write_table(df, rep.out, f"confirmed_{param}", f)
        md += ["", f"#### {param} (confirmed)", "", df.attrs["note"], "", to_markdown(f)]
        _figure(rep, md, F.confirmed_plot(df), f"confirmed_{param}",
                f"Confirmed arms of {param}: test accuracy per seed, and the seed-paired difference to the reference")


def cross_stem(param: str) -> str:
    """The file name of a cross's table and figure: `aug_by_size` for data size x augmentation."""
    return "aug_by_size" if param == AUG_BY_SIZE else "cross_" + "_x_".join(param.split(" x "))


def _confirmed_crosses(rep: Report, md: list[str], tables: dict[str, pd.DataFrame]) -> None:
    """The confirmation of a space's cross (analysis/cross.py): each row paired against its own baseline."""
    for param, df in tables.items():
        stem, f = cross_stem(param), format_cross(df)
        rep.tables[stem] = _write_table(df, rep.out, stem, f)
        md += ["", f"### {df.attrs['title']} (`{stem}`)", "", df.attrs["note"], "", to_markdown(f)]
        _figure(rep, md, cross_plot(df), stem, f"{df.attrs['col']} against {df.attrs['row']}: seed-paired "
                f"difference to {df.attrs['col']} = {point_text(df.attrs['baseline'])} at each {df.attrs['row']}")


def _figure(rep: Report, md: list[str], fig, stem: str, caption: str) -> None:
    if fig is None:
        return
    png, _pdf = F.save_figure(fig, rep.out / "figures" / stem)
    rep.figures[stem] = png
    md += ["", f"![{caption}](figures/{png.name})", "", f"_{caption}._"]


def _finish(rep: Report, md: list[str]) -> Report:
    md += ["", "## Warnings", ""]
    md += [f"- {w}" for w in rep.warnings] or ["- none"]
    text = "\n".join(md) + "\n"
    rep.markdown = rep.out / "experiments.md"
    rep.markdown.write_text(text)
    (rep.out / "warnings.txt").write_text("\n".join(rep.warnings) + ("\n" if rep.warnings else ""))
    try:
        from .html import render_html
    except ImportError:  # markdown is a dependency, but the .md report stands without the page
        return rep
    rep.html = rep.out / "experiments.html"
    rep.html.write_text(render_html(text))
    return rep
