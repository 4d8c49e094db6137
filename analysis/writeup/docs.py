"""The experiments write-up across studies (docs/experiments.md): classical vs deep with and without augmentation,
the ablations, the scaling fits and the system scaling, each generated from the trial databases it names, with
the commands and budgets that produced them. Figures are small PNGs.

Every number in the text comes from a database or from the budget presets (tuning/budgets.py); none is typed here.
Tables never mix budgets: each names its data fraction and epochs, and studies of different data fractions or
epoch limits go to different tables.
"""
from __future__ import annotations

import datetime
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tuning.budgets import BUDGETS
from tuning.command import portable_command

from ..load import Study, load_confirmation
from ..present import figures as F
from ..present.figures import cross_plot, headline_plot, scaling_plot
from ..present.tables import format_cross, format_paired, formatted, formatted_headline, formatted_scaling, to_markdown
from ..present.text import fmt_pct, point_text
from ..stats.cross import AUG_BY_SIZE, ablation_as_row, confirmed_cross, cross_params
from ..stats.headline import HeadlineError, configuration_tables, headline_table
from ..stats.intervals import mean_ci
from ..stats.paired import MIN_SEEDS_FOR_INTERVAL, confirmed_tables
from ..stats.scaling import scaling_table, system_scaling, train_size
from ..stats.search import ablation_table, main_comparison, selected_row, stopped_early
from .literature import reference_table
from .sentences import scaling_sentences
from .terms import terms_section

ONE_FIT = "one fit per trial"


@dataclass(frozen=True)
class StudyBudget:
    """What a study's trials trained on: the share of the training split (None: a scientific parameter that varies
    per trial) and the epoch limit (None: classical, one fit per trial)."""
    fraction: float | None
    max_epochs: int | None
    val_size: int | None

    @property
    def fraction_text(self) -> str:
        if self.fraction is None:
            return "varied"
        images = train_size({"data_fraction": self.fraction, **({"val_size": self.val_size} if self.val_size else {})})
        return f"{self.fraction:g} ({images:,} training images)"

    @property
    def epochs_text(self) -> str:
        """`one fit per trial` or `up to 8 epochs`."""
        return ONE_FIT if self.max_epochs is None else f"up to {self.max_epochs} epochs"


def is_classical(s: Study) -> bool:
    return s.meta.get("kind") == "classical"


def study_budget(s: Study) -> StudyBudget:
    b = s.meta.get("budget") or {}
    fraction = None if "data_fraction" in s.scientific() else float(b.get("data_fraction", 1.0))
    return StudyBudget(fraction, None if is_classical(s) else s.max_epochs, b.get("val_size"))


def caption(fraction: str, epochs: str) -> str:
    """The budget line under a table's heading; the tests read the data fraction from it."""
    return f"_Budget: data fraction {fraction}; epochs: {epochs}._"


def _study_fractions(s: Study) -> str:
    """A study whose data fraction is scientific: the range its trials used, and the space's values where the
    trials drew only some of them (a search that only picks a reference among confirmed cells)."""
    values = [c.get("data_fraction") for c in s.trials["config"] if isinstance(c, dict) and c.get("data_fraction")]
    if not values:
        return "varied per trial"
    spec = s.specs.get("data_fraction") or {}
    space = [float(v) for v in spec.get("choices") or [] if isinstance(v, (int, float))]
    drawn = f"{min(values):g}" if min(values) == max(values) else f"{min(values):g} to {max(values):g}"
    if space and (min(space), max(space)) != (min(values), max(values)):
        return (f"varied per trial (a scientific parameter: {', '.join(f'{v:g}' for v in space)} in the space; "
                f"its {len(values)} trial{'s' if len(values) > 1 else ''} drew {drawn})")
    return f"varied per trial ({drawn}, a scientific parameter)"


def _trial_counts(s: Study) -> str:
    t = s.trials
    by = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in t["status"].value_counts().items())
    text = f"{len(t)} trials run" + (f" ({by})" if by else "")
    if not is_classical(s) and len(t) and t["epochs"].notna().any():
        text += f", the longest {int(t['epochs'].max())} epochs"
    f = s.finals
    if len(f) and f["test_acc"].notna().any():
        done = f[f["test_acc"].notna()]
        text += (f"; final evaluation of {done['trial_id'].nunique()} configuration(s) over "
                 f"{done.groupby('trial_id')['seed'].nunique().max()} seed(s)")
    _, runs = load_confirmation(s)
    done = runs[runs["test_acc"].notna()] if len(runs) else runs
    if len(done):  # the stage that decides trains at its own budget, not the search's
        by_fraction = {float(c.get("data_fraction", 1.0)): c for c in done["config"] if isinstance(c, dict)}
        fractions = sorted(by_fraction)
        images = ", ".join(f"{train_size(by_fraction[f]):,}" for f in fractions)
        # epochs in the order of the fractions they belong to (a step budget gives a small set many epochs)
        per = {f: sorted({int(e) for c, e in zip(done["config"], done["epochs"]) if isinstance(c, dict)
                          and float(c.get("data_fraction", 1.0)) == f and pd.notna(e)}) for f in fractions}
        epochs = "/".join(" or ".join(map(str, per[f])) or "?" for f in fractions)
        text += (f"; confirmation: {done['arm_key'].nunique()} configuration(s) x "
                 f"{done.groupby('arm_key')['seed'].nunique().max()} fresh seed(s), each trained without early "
                 f"stopping on data fraction {'/'.join(f'{x:g}' for x in fractions)} ({images} training images) "
                 f"for {epochs} epochs" + (", respectively" if len(fractions) > 1 else ""))
    return text


def _trial_length(s: Study, sb: StudyBudget, per: str = "trial", epochs_vary: bool = False) -> str:
    """How long each trial (or run) of the study trains: its step budget, or the budget's epochs."""
    steps = _trial_steps(s) if not is_classical(s) else []
    if not (steps and steps[0] > 0):
        return sb.epochs_text
    return (f"{' or '.join(f'{n:,}' for n in steps)} optimizer steps per {per}"
            + (", epochs varying with the training-set size" if epochs_vary else ""))


def _budget_line(s: Study) -> str:
    b = s.meta.get("budget") or {}
    sb = study_budget(s)
    fraction = _study_fractions(s) if sb.fraction is None else sb.fraction_text
    return (f"`{s.name}`: space `{s.meta.get('space')}`, budget `{b.get('name')}` ({b.get('num_samples')} trials "
            f"asked, data fraction {fraction}, {_trial_length(s, sb)}); "
            f"{_trial_counts(s)}; command: `{portable_command(s.meta.get('command'))}`")


def budget_groups(studies: list[Study]) -> dict[tuple, list[Study]]:
    """Studies by (data fraction, epoch limit), in the order given; a study with a varied fraction stands alone."""
    groups: dict[tuple, list[Study]] = {}
    for s in studies:
        sb = study_budget(s)
        key = (sb.fraction, sb.max_epochs) if sb.fraction is not None else ("varied", s.name)
        groups.setdefault(key, []).append(s)
    return groups


def budget_paragraph(studies: list[Study]) -> str:
    """What the runs above trained on, group by group, and the full preset for comparison: read from the stored
    budgets and from BUDGETS, never typed."""
    parts = []
    for members in budget_groups(studies).values():
        names = ", ".join(f"`{s.name}`" for s in members)
        sb = study_budget(members[0])
        fraction = _study_fractions(members[0]) if sb.fraction is None else sb.fraction_text
        parts.append(f"{names}: data fraction {fraction}, {_trial_length(members[0], sb)}")
    text = ("The runs above fall into these budgets: " + "; ".join(parts) + ". Results of different budgets are "
            "shown in different tables below, each table naming its data fraction and epochs.") if parts else ""
    full = BUDGETS["full"]
    images = train_size({"data_fraction": full.data_fraction, "val_size": full.val_size})
    text += (f" The `full` preset (`--budget full`) asks for {full.num_samples} trials on a data fraction of "
             f"{full.data_fraction:g} ({images:,} training images), up to {full.max_epochs} epochs each (ASHA grace "
             f"period {full.grace_period}, reduction factor {full.reduction_factor}), and retrains each final "
             f"configuration for {full.final_epochs} epochs over {full.final_seeds} seeds.")
    at_full = [s for s in studies if (s.meta.get("budget") or {}).get("name") == "full"]
    if at_full:
        used = []
        for st in at_full:
            b = st.meta["budget"]
            # what the command line changed: a study is reported with the budget it ran, not the preset's
            changed = [f"{b[k]} {label} instead of {getattr(full, k)}"
                       for k, label in (("num_samples", "trials"), ("final_seeds", "final seeds"),
                                        ("max_epochs", "epochs at most"))
                       if k in b and b[k] != getattr(full, k) and not (k == "max_epochs" and is_classical(st))]
            used.append(f"`{st.name}`" + (f" (with {', '.join(changed)})" if changed else ""))
        text += " Studies here that used it: " + ", ".join(used) + "."
    if all(is_classical(st) for st in at_full):
        text += (" No deep study here ran it: deep results longer than the epochs their tables name are untested, "
                 "and every table holds for its own budget only.")
    return text


def _comparison_rows(s: Study) -> pd.DataFrame:
    df = main_comparison(s)
    if not len(df):
        return df
    sb = study_budget(s)
    out = df.assign(study=s.name, kind=s.meta.get("kind", "deep"), epochs=sb.epochs_text.replace(" per trial", ""))
    out["augmentation"] = out["augmentation"].where(out["kind"] == "deep", "n/a (classical)")
    return out


def comparison_tables(studies: list[Study]) -> list[tuple[StudyBudget, StudyBudget | None, pd.DataFrame]]:
    """The main comparison, one table per budget: per data fraction, the classical studies (one fit) beside the deep
    studies of one epoch limit. Studies whose data fraction varies per trial (scaling) are left out. A pipeline
    searched by several studies of one budget appears once: the study whose best full-budget validation accuracy
    is highest (validation chooses, never test). A headline study's search is left out: the headline reports it."""
    # A headline study's search only proposes (a few short trials on part of the data); its table is the headline.
    eligible = [s for s in studies if study_budget(s).fraction is not None and s.meta.get("space") != "headline"]
    fractions = list(dict.fromkeys(study_budget(s).fraction for s in eligible))
    tables = []
    for fraction in fractions:
        at = [s for s in eligible if study_budget(s).fraction == fraction]
        classical = [s for s in at if is_classical(s)]
        epoch_limits = list(dict.fromkeys(study_budget(s).max_epochs for s in at if not is_classical(s)))
        for limit in epoch_limits or [None]:
            members = classical + [s for s in at if not is_classical(s) and study_budget(s).max_epochs == limit]
            parts = [p for p in (_comparison_rows(s) for s in members) if len(p)]
            if not parts:
                continue
            rows = pd.concat(parts, ignore_index=True)
            rows = (rows.sort_values("best_val_full", ascending=False, kind="stable")
                    .drop_duplicates(["model", "augmentation"], keep="first")
                    .sort_values(["kind", "best_val_full"], ascending=[True, False], kind="stable")
                    .reset_index(drop=True))
            cols = ["model", "augmentation", "study", "epochs", "trials", "best_val_full", "best_trial", "test_mean",
                    "test_ci95", "test_n"]
            table = rows[cols].copy()
            # Validation's choice in this table (the stale `selected` of one study's frame indexes other rows).
            table.attrs["selected"] = selected_row(table)
            table.attrs.update(note="Ours, from the databases named under Runs. Best full-budget validation accuracy "
                               "over each row's trials (`trial`: one search run, the validation a search ranks by; "
                               "a mean over the final evaluation's seeds, as in the headline, can differ from it); "
                               "`trials` counts the row's trials that ran their full budget. A pipeline searched by "
                               "several studies of this budget appears once, from the study that is best on "
                               "validation. Test: the row's best final-evaluated configuration on validation, "
                               "mean ± 95% CI over seeds (n); reported, never used to choose.")
            pointer = _confirmed_pointer([s for s in members if not is_classical(s)], fraction, limit)
            if pointer:
                table.attrs["note"] += (" " + pointer + " No row is bold: the deep rows are proposals that their "
                                        "confirmation decides, so this table crowns no pipeline.")
                table.attrs["no_bold"] = True
            deep = StudyBudget(fraction, limit, study_budget(at[0]).val_size) if limit is not None else None
            tables.append((study_budget(classical[0]) if classical else None, deep, table))
    return tables


def _confirmed_pointer(deep: list[Study], fraction: float, epochs: int | None) -> str:
    """The deep rows of a comparison are search trials, which propose; a deep study that confirmed its proposals at
    this very budget (data fraction and epochs) is named with its best confirmed configuration on validation."""
    out = []
    for s in deep:
        _, runs = load_confirmation(s)
        done = runs[runs["test_acc"].notna() & (runs["status"] != "errored")] if len(runs) else runs
        same = [k for k, g in done.groupby("arm_key", sort=False)
                if all(isinstance(c, dict) and float(c.get("data_fraction", 1.0)) == fraction
                       and c.get("epochs") == epochs and not c.get("steps") for c in g["config"])]
        if not same:
            continue
        arms = done[done["arm_key"].isin(same)]
        best_key = arms.groupby("arm_key")["val_acc"].mean().idxmax()
        best = arms[arms["arm_key"] == best_key]
        cfg = best["config"].iloc[0]
        val, test = mean_ci(best["val_acc"]), mean_ci(best["test_acc"])
        out.append(f"`{s.name}` retrained its proposals at this budget without early stopping on "
                   f"{best['seed'].nunique()} fresh seeds (Confirmed ablations (`{s.name}`) below); its best "
                   f"confirmed configuration on validation, model {cfg.get('model')} with aug_strength "
                   f"{float(cfg.get('aug_strength', 0.0)):g}, reaches validation {fmt_pct(val[0], val[1])} and test "
                   f"{fmt_pct(*test)}.")
    return ("Deep rows here are search trials, which propose. " + " ".join(out)) if out else ""


def _best_classical_at(studies: list[Study], images: int) -> Study | None:
    """Of the classical studies trained on `images` images, the one whose best pipeline is best on validation."""
    at = [s for s in studies if is_classical(s) and train_size((s.meta.get("budget") or {})) == images]
    tables = [main_comparison(s) for s in at]
    scored = [(t["best_val_full"].max(), i) for i, t in enumerate(tables) if len(t)]
    return at[max(scored)[1]] if scored else None


def headline_sections(studies: list[Study], out: Path, appendix: list[str] | None = None) -> list[str]:
    """The equal-data headline of each `headline` study, beside the classical study of the same training-set size
    that is best on validation (analysis.headline). `appendix` gets every stored setting of each row's runs."""
    md: list[str] = []
    for deep in (s for s in studies if s.meta.get("space") == "headline"):
        try:
            alone = headline_table(deep, None)
            classical = _best_classical_at(studies, alone.attrs["images"])
            table = headline_table(deep, classical) if classical is not None else alone
        except HeadlineError as e:
            md += ["", f"### Headline (`{deep.name}`)", "", f"No headline table: {e}."]
            continue
        epochs = f"deep {table.attrs['epochs']}" + (f"; classical {ONE_FIT}" if classical is not None else "")
        budget = caption(f"{table.attrs['fraction']:g} ({table.attrs['images']:,} training images)", epochs)
        title = f"Headline: classical against deep on {table.attrs['images']:,} training images (`{deep.name}`)"
        md += ["", f"### {title}", "", budget, "", table.attrs["note"], "", to_markdown(formatted_headline(table)),
               "", table.attrs["reading"]]
        configs = configuration_tables(table)
        if configs and appendix is not None:
            md += ["", f"Every setting of each row's runs: the appendix, configurations of `{deep.name}`."]
            appendix += ["", f"### Configurations of `{deep.name}`", "", budget, "",
                         "Each row's stored configuration, the same for all its seeds (the seed aside). `—`: not "
                         "stored (a run made before that setting existed). A classical row lists only its own "
                         "classifier's settings; a deep row, its model's arguments with the registry's defaults."]
            for c in configs:
                appendix += ["", to_markdown(c)]
        _small_png(md, headline_plot(table), out, f"{deep.name}_headline", "Headline: test accuracy per row",
                   budget)
    return md


def _comparison_heading(classical: StudyBudget | None, deep: StudyBudget | None) -> tuple[str, str]:
    shown = deep or classical
    kinds = []
    if deep is not None:
        kinds.append(f"deep {deep.epochs_text}")
    if classical is not None:
        kinds.append(f"classical {ONE_FIT}")
    epochs = "; ".join(kinds)
    return f"### Data fraction {shown.fraction_text}, {epochs}", caption(shown.fraction_text, epochs)


def _small_png(md: list[str], fig, out: Path, stem: str, title: str, budget: str) -> None:
    """A PNG (docs stay small in git: no PDF) that states its budget in the image and in its caption."""
    if fig is None:
        return
    # wrapped to the figure's width: a long budget line would otherwise widen the saved image around a small plot
    width = max(40, int(fig.get_figwidth() * 72 / 7 * 1.6))  # characters of 7-pt text across the figure
    fig.text(0.5, -0.02, textwrap.fill(budget.strip("_"), width), ha="center", va="top", fontsize=7)
    # a dotted parameter (cnn.width) would lose its tail to the file suffix
    png, pdf = F.save_figure(fig, out / "figures" / stem.replace(".", "_"), dpi=150)
    pdf.unlink()
    md += ["", f"![{title}](figures/{png.name})", "", f"_{title}._ {budget}"]


SECTIONS = {"cnn_aug": [("aug_strength", "Augmentation ablation"), ("model", "Architecture ablation"),
                        ("optimizer", "Optimizer comparison")],
            "augment": [(None, "Per-operation augmentation ablation")],
            "optimizers": [("optimizer", "Optimizer comparison")]}


def _trial_steps(s: Study) -> list[int]:
    """The step budgets (TrainConfig.steps) the study's trials used; [0] for trials that ran for their epochs."""
    return sorted({int(c.get("steps") or 0) for c in s.trials["config"] if isinstance(c, dict)})


def _with_reused_rows(s: Study, studies: list[Study], arms: pd.DataFrame, runs: pd.DataFrame,
                      param: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Augmentation against data size takes its full-data row from a `headline` study's confirmed augmentation arms
    (the same comparison, already trained) when the crossing study has no row at that data size."""
    if param != AUG_BY_SIZE:
        return arms, runs
    row_name, col = param.split(" x ")
    have = {p[row_name] for p in arms.loc[arms["param"] == param, "point"]}
    for other in studies:
        if other is s or other.meta.get("space") != "headline":
            continue
        row, row_runs = ablation_as_row(*load_confirmation(other), col, row_name, other.name)
        if len(row) and row["point"].iloc[0][row_name] not in have:
            have.add(row["point"].iloc[0][row_name])
            arms, runs = pd.concat([arms, row], ignore_index=True), pd.concat([runs, row_runs], ignore_index=True)
    return arms, runs


def _cross_section(s: Study, sb: StudyBudget, df: pd.DataFrame, out: Path) -> list[str]:
    """A confirmed cross (analysis/cross.py), e.g. augmentation against data size: table, note and figure."""
    row, col = df.attrs["row"], df.attrs["col"]
    title = ("Augmentation against data size" if (row, col) == ("data_fraction", "aug_strength")
             else f"{col} against {row}")
    if len(df) and df.get("mixed_settings", pd.Series(dtype=bool)).any():
        title += ", cells at their own searched settings"  # not the column parameter's effect alone
    length = _trial_length(s, sb, per="run", epochs_vary=True)
    for other in df.attrs.get("studies", [])[1:]:
        cells = df[df["study"] == other]
        epochs = sorted({e for c in cells["epochs"] for e in c})
        length += (f"; the {row} = {', '.join(dict.fromkeys(point_text(v) for v in cells[row]))} row from `{other}`: "
                   f"{'/'.join(map(str, epochs))} epochs")
    sizes = df.dropna(subset=["fraction"]).drop_duplicates("fraction").sort_values("fraction") if len(df) else df
    fraction = ("varied per cell: " + ", ".join(f"{f:g} ({int(n):,} training images)"
                                                for f, n in zip(sizes["fraction"], sizes["images"]))
                if len(sizes) else _study_fractions(s) if sb.fraction is None else sb.fraction_text)
    budget = caption(fraction, length)
    names = ", ".join(f"`{x}`" for x in df.attrs.get("studies") or [s.name])
    md = ["", f"## {title} ({names})", "", budget, "", df.attrs["note"] + _search_per_cell(s, df), "",
          to_markdown(format_cross(df))]
    _small_png(md, cross_plot(df), out, f"{s.name}_cross_{row}_{col}",
               f"{title} (`{s.name}`): seed-paired difference to {col} = {point_text(df.attrs['baseline'])}",
               budget)
    return md


def _search_per_cell(s: Study, df: pd.DataFrame) -> str:
    """How many of the crossing study's search trials fell in each of its cells: a cell's tuned settings are the
    best of that many draws (none: the reference's)."""
    row, col = df.attrs["row"], df.attrs["col"]
    configs = [c for c in s.trials["config"] if isinstance(c, dict)]
    own = df[df["study"] == s.name] if "study" in df else df
    if not configs or not len(own):
        return ""
    counts = [(r[row], r[col], sum(1 for c in configs if float(c.get(row, math.nan)) == float(r[row])
                                   and float(c.get(col, math.nan)) == float(r[col])))
              for r in own.to_dict("records")]
    cells = "; ".join(f"{point_text(a)} / {point_text(b)}: {n}" for a, b, n in counts)
    if not any(s.roles.get(k) == "nuisance" for k in s.specs):
        return (f" `{s.name}` searched no nuisance parameter: its {len(configs)} search trial(s) only picked the "
                f"reference, and every cell trains at the space's fixed settings and the trainer's defaults.")
    unequal = len({n for *_, n in counts}) > 1
    return (f" Search trials per cell of `{s.name}` ({row} / {col}), of {len(configs)} in all: {cells}. A cell's "
            f"tuned settings are the best of that many draws; with 0, the reference's." +
            (" The cells were tuned unequally, so a row's difference also carries how many draws each of its cells "
             "had." if unequal else ""))


def _training_length(s: Study, sb: StudyBudget) -> str:
    """How long each scaling point trained, from the trials' stored configs: a step budget (the same optimizer steps
    at every training-set size) or an epoch limit (fewer steps for smaller sets)."""
    steps = _trial_steps(s)
    budget_name = (s.meta.get("budget") or {}).get("name")
    if steps and steps[0] > 0:
        return (f"Every trial trained for {' or '.join(f'{n:,}' for n in steps)} optimizer steps whatever its "
                f"training-set size (epochs = steps / steps per epoch, rounded up, the last one cut short), so "
                f"each point had the same optimizer steps and the lr schedule ran to its end (training FLOPs still "
                f"differ by model). These are `{budget_name}`-budget exponents at that step count: a size whose "
                f"runs had not fitted their training images at it is limited by the steps, not by the data.")
    return (f"Every trial had the same epoch limit ({sb.epochs_text}) whatever its training-set size, so the "
            f"smallest sets got the fewest optimizer steps. These are `{budget_name}`-budget exponents; whether "
            "they hold for converged training is untested.")


def _study_sections(s: Study, out: Path, studies: list[Study]) -> list[str]:
    md: list[str] = []
    sb = study_budget(s)
    space = s.meta.get("space")
    sections = SECTIONS.get(space)
    arms, runs = load_confirmation(s)
    crosses = cross_params(arms)
    # A study whose data size is crossed (aug_size) gets its cross below: a search-based ablation of its other
    # parameters would pool trials of different data sizes.
    if sections is None and not is_classical(s) and space != "scaling" and not crosses \
            and "data_fraction" not in s.scientific():  # (before its confirmation has crossed it, too)
        sections = [(p, f"Ablation of {p}") for p in s.scientific() if p != "data_fraction"]
    confirmed = confirmed_tables(arms, runs, rungs=stopped_early(s))
    warnings = overturned_reference(confirmed)
    said: set[str] = set()  # how the study's search-based rows read, said once
    for param, title in sections or []:
        params = [param] if param else s.scientific()
        md += ["", f"## {title} (`{s.name}`)"]
        for w in warnings:  # said before the first table that rests on the reference
            md += ["", w]
        warnings = []
        for p in params:
            table = ablation_table(s, p)
            if not len(table):
                continue
            budget = caption(sb.fraction_text, sb.epochs_text)
            rows_note = table.attrs.get("rows_note")
            note = (f"{table.attrs['where']} Rows read as in the first table of `{s.name}` above."
                    if rows_note in said else table.attrs["note"])
            said.add(rows_note)
            md += ["", budget, "", note, "", to_markdown(formatted(table))]
            _small_png(md, F.ablation_plot(s, p), out, f"{s.name}_{p}", title if p in title else f"{title}: {p}",
                       budget)
    for param in crosses:
        md += _cross_section(s, sb, confirmed_cross(*_with_reused_rows(s, studies, arms, runs, param), param), out)
    md += _confirmed_sections(s, out, confirmed, warnings, searched=bool(sections))
    if space == "scaling":
        table = scaling_table(s)
        budget = caption(_study_fractions(s) if sb.fraction is None else sb.fraction_text,
                         _trial_length(s, sb, epochs_vary=True))
        md += ["", f"## Scaling (`{s.name}`)", "", budget, "", table.attrs["note"], "",
               to_markdown(formatted_scaling(table)), "",
               " ".join(scaling_sentences(table) + ([table.attrs["sources"]] if table.attrs.get("sources") else [])),
               "",
               _training_length(s, sb)]
        _small_png(md, scaling_plot(s), out, f"{s.name}_scaling", "Scaling fits", budget)
    return md


def overturned_reference(tables: dict[str, pd.DataFrame]) -> list[str]:
    """A sentence for each confirmed arm better than the study's reference on test and on validation: the search's
    low-fidelity ranking chose a reference its own confirmation contradicts, so the study's other ablations, which
    compare values within the reference's setting, say nothing about the better one. Reported, not acted on.
    tables: the study's confirmed_tables."""
    out = []
    for param, df in tables.items():
        refs = df[df["reference"].astype(bool)]
        if not len(refs):
            continue
        ref = refs.iloc[0]
        better = df[~df["reference"].astype(bool) & (df["verdict"] == "better than the reference")
                    & (df["val_mean"] > ref["val_mean"])]  # validation agrees: the two splits tell one story
        for _, r in better.iterrows():
            out.append(
                f"**The confirmation contradicts this study's reference on {param}.** {param} = {r[param]} is better "
                f"than the reference's {ref[param]} on test, {100 * r['diff_mean']:+.2f} [{100 * r['diff_low']:+.2f}, "
                f"{100 * r['diff_high']:+.2f}] points paired over {int(r['seeds'])} seeds (validation "
                f"{100 * r['val_mean']:.2f}% against {100 * ref['val_mean']:.2f}%). The search's low-fidelity ranking "
                f"chose the reference; every other ablation of this study, search-based or confirmed, compares values "
                f"with {param} = {ref[param]} and says nothing about {param} = {r[param]}.")
    return out


def _confirmed_sections(s: Study, out: Path, tables: dict[str, pd.DataFrame],
                        warnings: list[str], searched: bool = True) -> list[str]:
    """The study's confirmed ablations (analysis.paired, `tables`): each value retrained without early stopping on
    fresh seeds shared by every arm; these, not the search-based tables, carry the ablation claims."""
    if not tables:
        return []
    budget = s.meta.get("budget") or {}
    val_size = budget.get("val_size") or 5000

    def caption_of(df: pd.DataFrame) -> str:  # the runs' own configs: a scientific data fraction varies by arm
        fractions = df.attrs.get("fractions") or [float(budget.get("confirm_data_fraction") or 1.0)]
        return caption(", ".join(f"{f:g} ({train_size({'data_fraction': f, 'val_size': val_size}):,} training "
                                 f"images)" for f in fractions),
                       f"{df.attrs.get('length', '?')}, every run (no early stopping)")

    seeds = max(int(df["seeds"].max()) if len(df) else 0 for df in tables.values())
    if seeds >= MIN_SEEDS_FOR_INTERVAL:
        heading, claim = (f"Confirmed ablations (`{s.name}`)", "These comparisons carry the ablation claims"
                          + ("; the search-based tables above show how the search saw them." if searched else "."))
    else:  # too few seeds for an interval: the retrained arms describe, they decide nothing
        heading, claim = (f"Retrained arms (`{s.name}`, n = {seeds}: descriptive)",
                          f"With {seeds} seed(s) per arm, fewer than the {MIN_SEEDS_FOR_INTERVAL} an interval "
                          f"needs, these comparisons are descriptive: they carry no ablation claim.")
    md = ["", f"## {heading}", "",
          "Each value of each scientific parameter, retrained on fresh seeds and compared with the "
          f"validation-selected reference seed by seed. {claim}", "",
          next(iter(tables.values())).attrs["protocol"], *[x for w in warnings for x in ("", w)]]
    # (the protocol is said once: every table of the study shares it)
    for param, df in tables.items():
        caption_line = caption_of(df)
        md += ["", f"### {param} (confirmed, `{s.name}`)", "", caption_line]
        if param == "data_fraction":  # a resource, not a setting to choose: its reference is only a baseline
            md += ["", "The training-set size is a resource, not a setting to choose: its reference value is only "
                       "the one the search's best trial drew, so each difference reads as the gain or loss of that "
                       "much data against it, not as a choice of size."]
        for key in ("settings_note", "fit_note"):
            if df.attrs.get(key):
                md += ["", df.attrs[key]]
        md += ["", to_markdown(format_paired(df))]
        _small_png(md, F.confirmed_plot(df), out, f"{s.name}_confirmed_{param}",
                   f"Confirmed arms of {param}: test accuracy per seed and the paired difference", caption_line)
    return md


def _system_sections(system: list[Study]) -> list[str]:
    md = ["", "## System scaling", "", "The same study on clusters of different size (from `benchmarks/search.py "
          "--out`): trials per hour and accelerator-hours against the number of workers, one table per budget."]
    for members in budget_groups(system).values():
        sb = study_budget(members[0])
        fraction = _study_fractions(members[0]) if sb.fraction is None else sb.fraction_text
        epochs = sb.epochs_text
        table = system_scaling(members)
        shown = table.assign(**{c: table[c].map("{:.3g}".format) for c in
                                ("hours", "trials_per_hour", "accelerator_hours", "speedup") if c in table})
        md += ["", f"### Data fraction {fraction}, {epochs}", "", caption(fraction, epochs), "", to_markdown(shown)]
    return md


def write_docs(studies: list[Study], out: str | Path, system: list[Study] | None = None) -> Path:
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    md = ["# Experiments", "",
          f"_Generated {datetime.datetime.now():%Y-%m-%d} by `python -m analysis docs`. Every number in the tables "
          "and text below is read from the trial databases listed under Runs or from the budget presets "
          "(`tuning/budgets.py`); nothing is typed in by hand. The literature rows are cited from the sources named "
          "and never mixed with ours._", "",
          "## Runs", ""]
    md += [f"- {_budget_line(s)}" for s in studies]
    md += ["", budget_paragraph(studies)]
    md += terms_section(studies) + [""]

    md += ["## Classical computer vision against deep learning", "",
           "One table per budget: rows of different data fractions or epoch limits are never compared in one table."]
    appendix: list[str] = []
    md += headline_sections(studies, out, appendix)
    tables = comparison_tables(studies)
    for classical, deep, table in tables:
        heading, budget = _comparison_heading(classical, deep)
        md += ["", heading, "", budget, "", table.attrs["note"], "", to_markdown(formatted(table))]
    if not tables:
        md += ["", "(no completed trials)"]
    md += ["", "### Reference results from the literature", "", "_Budget: each source's own (not ours)._", "",
           "Cited, not measured here; for orientation only. These results train on all 60,000 training images "
           "(ours on 55,000, holding 5,000 out for validation), each with its own epochs and tuning.", "",
           to_markdown(reference_table())]

    # Each study's own sections, in the order given (two studies of one space, e.g. TPE and QMC, both appear).
    for s in studies:
        md += _study_sections(s, out, studies)
    if system:
        md += _system_sections(system)
    if appendix:
        md += ["", "## Appendix: configurations"] + appendix
    path = out / "experiments.md"
    text = "\n".join(md) + "\n"
    path.write_text(text)
    # A figure of an earlier write-up that this one does not show (a study no longer listed) goes with it.
    for png in (out / "figures").glob("*.png"):
        if f"(figures/{png.name})" not in text:
            png.unlink()
    return path
