"""The experiments write-up across studies: docs/experiments.md (and .html, .tex, tables/, figures/). The findings
first, the methods once, one section per study question with its forest plot of differences before the levels, and
an appendix: runs and plan, power analysis, lengths and grids, per-seed values, the search's view, configurations.

Every number comes from a database or from the budget presets (tuning/budgets.py); the words come from
analysis/templates. Tables never mix budgets: each names its data fraction and epochs in its section's budget line.
"""
from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ganrator.data import COUNTS

from ..load import Study, load_confirmation
from ..present.figures import confirmed_plot, cross_plot, headline_plot, scaling_plot
from ..present.figures.forest import forest_plot
from ..present.figures.search import ablation_plot
from ..present.tables import (cross_levels, format_cross, format_paired, formatted, formatted_headline,
                              formatted_scaling, headline_levels, paired_levels, power_table, scaling_levels,
                              space_table)
from ..present.text import point_text
from ..stats import comparisons as C
from ..stats.cross import AUG_BY_SIZE, ablation_as_row, confirmed_cross, cross_params
from ..stats.headline import BASELINE, HeadlineError, configuration_tables, headline_table
from ..stats.intervals import FITTED
from ..stats.paired import MIN_SEEDS_FOR_INTERVAL, confirmed_tables
from ..stats.scaling import scaling_table, system_scaling, train_size
from ..stats.search import ablation_table, stopped_early
from .augmentation import augmentation_methods
from .literature import reference_table
from .runs import (ONE_FIT, StudyBudget, _budget_line, _study_fractions, _trial_counts, _trial_length,  # noqa: F401
                   _training_length, budget_groups, budget_paragraph, caption, is_classical, study_budget)
from .search_view import (SECTIONS, _best_classical_at, _comparison_heading, comparison_tables,  # noqa: F401
                          overturned_reference)
from .sentences import scaling_sentences
from .files import Writer, write_document
from .templating import Item, Section, render, say
from .terms import terms_text


@dataclass
class Confirmed:
    """One study's confirmation, read once: its one-parameter tables and its crosses (with reused rows)."""
    study: Study
    tables: dict[str, pd.DataFrame]
    crosses: dict[str, pd.DataFrame]


@dataclass
class Headline:
    study: Study
    classical: Study | None
    table: pd.DataFrame | None
    error: str = ""


def _headlines(studies: list[Study]) -> list[Headline]:
    out = []
    for deep in (s for s in studies if s.meta.get("space") == "headline"):
        try:
            alone = headline_table(deep, None)
            classical = _best_classical_at(studies, alone.attrs["images"])
            out.append(Headline(deep, classical, headline_table(deep, classical) if classical is not None else alone))
        except HeadlineError as e:
            out.append(Headline(deep, None, None, str(e)))
    return out


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


def _confirmed(studies: list[Study]) -> list[Confirmed]:
    out = []
    for s in studies:
        arms, runs = load_confirmation(s)
        crosses = {p: confirmed_cross(*_with_reused_rows(s, studies, arms, runs, p), p) for p in cross_params(arms)}
        out.append(Confirmed(s, confirmed_tables(arms, runs, rungs=stopped_early(s)), crosses))
    return out


def comparisons_of(headlines: list[Headline], confirmed: list[Confirmed]) -> list[C.Comparison]:
    """Every confirmed comparison, headlines first, then each study's tables and crosses; primaries chosen."""
    out = []
    for h in headlines:
        if h.table is not None:
            out += C.from_headline(h.table, h.study.name)
    for c in confirmed:
        arms, runs = load_confirmation(c.study)
        val_size = int((c.study.meta.get("budget") or {}).get("val_size") or 5000)
        out += C.from_confirmed(c.study.name, c.tables, arms, runs, val_size)
        for df in c.crosses.values():
            out += C.from_cross(df, c.study.name)
    out = C.distinct(out)
    C.choose_primaries(out)
    return out


# ------------------------------------------------------------------ methods


def methods_data(studies: list[Study], confirmed: list[Confirmed], w: Writer, owner: str) -> dict:
    val_sizes = sorted({int((s.meta.get("budget") or {}).get("val_size") or 5000) for s in studies})
    seeds, families = [], []
    for c in confirmed:
        _, runs = load_confirmation(c.study)
        done = runs[runs["test_acc"].notna()] if len(runs) else runs
        if len(done):
            seeds.append({"study": c.study.name, "arms": int(done["arm_key"].nunique()),
                          "seeds": sorted(int(x) for x in done["seed"].unique())})
        if c.tables:
            families.append({"study": c.study.name,
                             "size": int(next(iter(c.tables.values())).attrs.get("holm_family", 0))})
    classical_seeds = []
    for s in studies:
        f = s.finals[s.finals["test_acc"].notna()] if len(s.finals) else s.finals
        if is_classical(s) and len(f):
            classical_seeds.append({"study": s.name, "n": int(f.groupby("trial_id")["seed"].nunique().max())})
    effort = [{"study": s.name, "family": "classical" if is_classical(s) else "deep", "trials": len(s.trials),
               "scientific": s.scientific(), "nuisance": s.nuisance()} for s in studies]
    augment, settings = augmentation_methods(studies)
    grid = w.figure(_augmentation_grid(settings), f"augmentation_grid_{owner}", "augmentation_grid") \
        if settings else None
    return {"val_sizes": val_sizes, "train": COUNTS["train"], "test": COUNTS["test"],
            "train_images": [f"{train_size({'data_fraction': 1.0, 'val_size': v}):,}" for v in val_sizes],
            "seeds": seeds, "classical_seeds": classical_seeds, "families": families, "fitted": f"{100 * FITTED:g}",
            "effort": effort, "augment": augment, "grid": grid}


def _augmentation_grid(settings: list[tuple[str, dict]]):
    """The augmentation grid on the first training image of each of 8 classes; None without the data files (the
    Methods then say the operations in words only)."""
    from ganrator import data as data_lib

    try:
        files = data_lib.find_files()
        images = data_lib.read_idx(files["train_images"], data_lib.IMAGE_MAGIC, None, (28, 28))
        labels = data_lib.read_idx(files["train_labels"], data_lib.LABEL_MAGIC, None)
    except (data_lib.DataError, KeyError):
        return None
    first = [int((labels == k).argmax()) for k in range(8)]
    from ..present.figures.augment_grid import augmentation_grid

    return augmentation_grid(images[first], settings)


# ------------------------------------------------------------------ the three questions


def _forest(w: Writer, comps: list[C.Comparison], key: str, title: str) -> Item | None:
    comps = sorted(comps, key=lambda c: not c.primary)  # the primary comparison on top
    return w.figure(forest_plot(comps, title), f"forest_{key}", "forest", question=key) if comps else None


def _headline_sections(w: Writer, headlines: list[Headline]) -> list[Section]:
    out = []
    for h in headlines:
        if h.table is None:
            out.append(Section(f"Headline (`{h.study.name}`)", lead=say("no_headline", error=h.error)))
            continue
        t = h.table
        epochs = f"deep {t.attrs['epochs']}" + (f"; classical {ONE_FIT}" if h.classical is not None else "")
        items = [w.table(f"{h.study.name}_headline", headline_levels(t), "headline", data=_csv(t),
                         baseline=BASELINE),
                 w.figure(headline_plot(t), f"{h.study.name}_headline", "headline_levels")]
        out.append(Section(f"{t.attrs['images']:,} training images (`{h.study.name}`)",
                           caption(f"{t.attrs['fraction']:g} ({t.attrs['images']:,} training images)", epochs),
                           items=[i for i in items if i is not None]))
    return out


def _csv(df: pd.DataFrame) -> pd.DataFrame:
    """A table's numbers for its CSV: list cells as text."""
    return df.assign(**{c: df[c].map(lambda v: v if not isinstance(v, (list, dict)) else str(v))
                        for c in df.columns})


def _confirmed_caption(s: Study, df: pd.DataFrame) -> str:
    """The budget line of a study's confirmed table: the runs' own data fractions and length."""
    budget = s.meta.get("budget") or {}
    val_size = budget.get("val_size") or 5000
    fractions = df.attrs.get("fractions") or [float(budget.get("confirm_data_fraction") or 1.0)]
    return caption(", ".join(f"{f:g} ({train_size({'data_fraction': f, 'val_size': val_size}):,} training images)"
                             for f in fractions), f"{df.attrs.get('length', '?')}, every run (no early stopping)")


def _cross_caption(s: Study, df: pd.DataFrame) -> str:
    sb, row = study_budget(s), df.attrs["row"]
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
    return caption(fraction, length)


def _names(df: pd.DataFrame, s: Study) -> str:
    return ", ".join(f"`{x}`" for x in df.attrs.get("studies") or [s.name])


def _reference(df: pd.DataFrame) -> str:
    refs = df[df["reference"].astype(bool)]
    return point_text(refs[df.attrs["param"]].iloc[0]) if len(refs) else "?"


def _question_sections(w: Writer, confirmed: list[Confirmed], param: str) -> list[Section]:
    """The levels of each study's confirmed `param` table, compactly, one section (one budget line) each."""
    out = []
    for c in confirmed:
        df = c.tables.get(param)
        if df is None or not len(df):
            continue
        out.append(Section(f"`{param}` confirmed (`{c.study.name}`)", _confirmed_caption(c.study, df), items=[
            w.table(f"{c.study.name}_{param}_levels", paired_levels(df), "paired", data=_csv(df), param=param,
                    reference=_reference(df))]))
    return out


def _cross_sections(w: Writer, confirmed: list[Confirmed], col: str) -> list[Section]:
    out = []
    for c in confirmed:
        for df in c.crosses.values():
            if df.attrs["col"] != col or not len(df):
                continue
            row = df.attrs["row"]
            out.append(Section(f"`{col}` at each `{row}` ({_names(df, c.study)})", _cross_caption(c.study, df),
                               items=[w.table(f"{c.study.name}_{row}_x_{col}_levels", cross_levels(df), "cross",
                                              data=_csv(df), row=row, col=col, base=point_text(df.attrs["baseline"]))]))
    return out


def _scaling_sections(w: Writer, studies: list[Study]) -> list[Section]:
    out = []
    for s in studies:
        if s.meta.get("space") != "scaling":
            continue
        table = scaling_table(s)
        sb = study_budget(s)
        items = [w.figure(scaling_plot(s), f"{s.name}_scaling", "scaling_figure")]
        levels = scaling_levels(table)
        if len(levels):
            items.insert(0, w.table(f"{s.name}_scaling_fits", levels, "scaling_fits", data=_csv(table)))
        out.append(Section(f"Scaling fits (`{s.name}`)", caption(_study_fractions(s) if sb.fraction is None
                                                                  else sb.fraction_text,
                                                                  _trial_length(s, sb, epochs_vary=True)),
                           items=[i for i in items if i is not None]))
    return out


# ------------------------------------------------------------------ the appendix


def _appendix(w: Writer, studies: list[Study], system: list[Study], headlines: list[Headline],
              confirmed: list[Confirmed]) -> list[Section]:
    out = [Section("A. Runs and plan", level=3, lead="\n".join(f"- {_budget_line(s)}" for s in studies)
                   + "\n\n" + budget_paragraph(studies))]
    for members in budget_groups(system).values() if system else []:
        sb = study_budget(members[0])
        fraction = _study_fractions(members[0]) if sb.fraction is None else sb.fraction_text
        table = system_scaling(members)
        shown = table.assign(**{c: table[c].map("{:.3g}".format) for c in
                                ("hours", "trials_per_hour", "accelerator_hours", "speedup") if c in table})
        out.append(Section(f"System scaling: data fraction {fraction}, {sb.epochs_text}", caption(fraction, sb.epochs_text),
                           lead=say("system_scaling"), level=4,
                           items=[w.table(f"system_{members[0].name}", shown)]))
    out.append(Section("B. Power analysis", level=3))
    for h in headlines:
        own = C.from_headline(h.table, h.study.name) if h.table is not None else []
        if own:
            out.append(Section(f"Headline (`{h.study.name}`)", _headline_caption(h), level=4, items=[
                w.table(f"{h.study.name}_headline_power", power_table(own), "power", study=h.study.name)]))
    for c in confirmed:
        arms, runs = load_confirmation(c.study)
        val_size = int((c.study.meta.get("budget") or {}).get("val_size") or 5000)
        for param, df in c.tables.items():
            own = C.from_confirmed(c.study.name, {param: df}, arms, runs, val_size)
            if own:
                out.append(Section(f"`{param}` (`{c.study.name}`)", _confirmed_caption(c.study, df), level=4, items=[
                    w.table(f"{c.study.name}_{param}_power", power_table(own), "power", study=c.study.name)]))
        for df in c.crosses.values():
            own = C.from_cross(df, c.study.name)
            if own:
                out.append(Section(f"`{df.attrs['param']}` ({_names(df, c.study)})", _cross_caption(c.study, df),
                                   level=4, items=[w.table(f"{c.study.name}_cross_power", power_table(own), "power",
                                                           study=c.study.name)]))
    out.append(Section("C. Training lengths and tuning grids", level=3))
    for s in studies:
        sb = study_budget(s)
        fraction = _study_fractions(s) if sb.fraction is None else sb.fraction_text
        lead = _trial_counts(s) + "."
        if s.meta.get("space") == "scaling" or any((c.get("steps") or 0) for c in s.trials["config"]
                                                   if isinstance(c, dict)):
            lead += " " + _training_length(s, sb)
        view = space_table(s)
        out.append(Section(f"`{s.name}`", caption(fraction, _trial_length(s, sb)), lead=lead, level=4,
                           items=[w.table(f"{s.name}_space", view, "space", study=s.name)] if len(view) else []))
    out.append(Section("D. Per-seed values and McNemar's tests", level=3))
    for h in headlines:
        if h.table is not None:
            t = h.table
            out.append(Section(f"Headline (`{h.study.name}`)", _headline_caption(h), level=4,
                               lead=t.attrs["note"] + ("\n\n" + t.attrs["reading"] if t.attrs.get("reading") else ""),
                               items=[w.table(f"{h.study.name}_headline_full", formatted_headline(t))]))
    for c in confirmed:
        out += _confirmed_appendix(w, c)
    out.append(Section("E. The search's view", level=3, lead=say("search_view")))
    out += _search_view(w, studies, confirmed)
    configs = [(h, configuration_tables(h.table)) for h in headlines if h.table is not None]
    configs = [(h, tables) for h, tables in configs if tables]
    if configs:
        out.append(Section("F. Configurations", level=3))
        for h, tables in configs:
            out.append(Section(f"Configurations of `{h.study.name}`", _headline_caption(h), level=4,
                               lead=say("configurations"),
                               items=[w.table(f"{h.study.name}_configuration_{i}", t) for i, t in enumerate(tables)]))
    out.append(Section("G. Terms", level=3, lead=terms_text(studies).strip()))
    return out


def _headline_caption(h: Headline) -> str:
    t = h.table
    epochs = f"deep {t.attrs['epochs']}" + (f"; classical {ONE_FIT}" if h.classical is not None else "")
    return caption(f"{t.attrs['fraction']:g} ({t.attrs['images']:,} training images)", epochs)


def _confirmed_appendix(w: Writer, c: Confirmed) -> list[Section]:
    """A study's confirmed tables in full (per-seed values, McNemar, settings), the protocol said once, and its
    crosses with their notes."""
    s, tables, out = c.study, c.tables, []
    if tables:
        seeds = max(int(df["seeds"].max()) if len(df) else 0 for df in tables.values())
        heading = (f"Confirmed comparisons (`{s.name}`)" if seeds >= MIN_SEEDS_FOR_INTERVAL else
                   f"Retrained arms (`{s.name}`, n = {seeds}: descriptive)")
        claim = "" if seeds >= MIN_SEEDS_FOR_INTERVAL else " " + say("descriptive", seeds=seeds,
                                                                      needed=MIN_SEEDS_FOR_INTERVAL)
        out.append(Section(heading, level=4, lead=next(iter(tables.values())).attrs["protocol"] + claim))
        for param, df in tables.items():
            lead = []
            if param == "data_fraction":
                lead.append(say("size_is_a_resource"))
            lead += [df.attrs[k] for k in ("settings_note", "fit_note") if df.attrs.get(k)]
            items = [w.table(f"{s.name}_confirmed_{param}", format_paired(df), data=_csv(df)),
                     w.figure(confirmed_plot(df), f"{s.name}_confirmed_{param}", "confirmed_figure", param=param)]
            out.append(Section(f"{param} (confirmed, `{s.name}`)", _confirmed_caption(s, df), level=5,
                               lead="\n\n".join(lead), items=[i for i in items if i is not None]))
    for df in c.crosses.values():
        row, col = df.attrs["row"], df.attrs["col"]
        title = ("Augmentation against data size" if (row, col) == ("data_fraction", "aug_strength")
                 else f"{col} against {row}")
        if len(df) and df.get("mixed_settings", pd.Series(dtype=bool)).any():
            title += ", cells at their own searched settings"  # not the column parameter's effect alone
        items = [w.table(f"{s.name}_cross_{row}_x_{col}", format_cross(df), data=_csv(df)),
                 w.figure(cross_plot(df), f"{s.name}_cross_{row}_{col}", "cross_figure", row=row, col=col)]
        out.append(Section(f"{title} ({_names(df, s)})", _cross_caption(s, df), level=4,
                           lead=df.attrs["note"] + _search_per_cell(s, df), items=[i for i in items if i is not None]))
    return out


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
    return " " + say("search_per_cell", study=s.name, row=row, col=col, trials=len(configs),
                     cells=[(point_text(a), point_text(b), n) for a, b, n in counts],
                     nuisance=any(s.roles.get(k) == "nuisance" for k in s.specs),
                     unequal=len({n for *_, n in counts}) > 1)


def _search_view(w: Writer, studies: list[Study], confirmed: list[Confirmed]) -> list[Section]:
    out = []
    tables = comparison_tables(studies)
    for classical, deep, table in tables:
        heading, budget = _comparison_heading(classical, deep)
        out.append(Section(heading.removeprefix("### ").replace("Data fraction", "Families at data fraction"),
                           budget, lead=table.attrs["note"], level=4,
                           items=[w.table(f"comparison_{len(out)}", formatted(table), data=table)]))
    out.append(Section("Reference results from the literature", say("budget_literature"), level=4,
                       lead=say("literature"),
                       items=[w.table("literature", reference_table())]))
    for c in confirmed:
        s = c.study
        sb = study_budget(s)
        space = s.meta.get("space")
        sections = SECTIONS.get(space)
        if sections is None and not is_classical(s) and space != "scaling" and not c.crosses \
                and "data_fraction" not in s.scientific():
            sections = [(p, f"Ablation of {p}") for p in s.scientific() if p != "data_fraction"]
        warnings = overturned_reference(c.tables)
        said: set[str] = set()  # how the study's search-based rows read, said once
        for param, title in sections or []:
            for p in [param] if param else s.scientific():
                table = ablation_table(s, p)
                if not len(table):
                    continue
                rows_note = table.attrs.get("rows_note")
                note = (say("rows_as_above", where=table.attrs["where"], study=s.name)
                        if rows_note in said else table.attrs["note"])
                said.add(rows_note)
                lead = "\n\n".join(warnings + [note])
                warnings = []  # said before the first table that rests on the reference
                items = [w.table(f"{s.name}_ablation_{p}", formatted(table), data=table),
                         w.figure(ablation_plot(s, p), f"{s.name}_{p}", "search_figure",
                                  title=title if p in title else f"{title}: {p}")]
                out.append(Section(f"{title if p in title else f'{title}: {p}'} (`{s.name}`)",
                                   caption(sb.fraction_text, sb.epochs_text), lead=lead, level=4,
                                   items=[i for i in items if i is not None]))
        if space == "scaling":
            table = scaling_table(s)
            lead = say("scaling_lead", note=table.attrs["note"], readings=scaling_sentences(table),
                       sources=table.attrs.get("sources"))
            out.append(Section(f"Scaling (`{s.name}`)", caption(_study_fractions(s) if sb.fraction is None else
                                                                 sb.fraction_text,
                                                                 _trial_length(s, sb, epochs_vary=True)),
                               lead=lead, level=4,
                               items=[w.table(f"{s.name}_scaling", formatted_scaling(table), data=_csv(table))]))
    return out


# ------------------------------------------------------------------ the document


def write_docs(studies: list[Study], out: str | Path, system: list[Study] | None = None) -> Path:
    """docs/experiments.md (+ .html and .tex, each table under tables/, figures as PNG) from the studies."""
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    w = Writer(out)
    headlines, confirmed = _headlines(studies), _confirmed(studies)
    comps = comparisons_of(headlines, confirmed)
    by = {q: [c for c in comps if c.question == q] for q in (*C.QUESTIONS, "other")}
    questions = [
        {"key": "family", "forest": _forest(w, [c for c in comps if c.source == "headline"], "family",
                                            "Classical and deep rows against the CNN without augmentation"),
         "sections": _headline_sections(w, headlines)},
        {"key": "augmentation", "forest": _forest(w, by["augmentation"], "augmentation",
                                                  "Augmentation against none, paired by seed"),
         "sections": _question_sections(w, confirmed, "aug_strength") + _cross_sections(w, confirmed, "aug_strength")},
        {"key": "size", "forest": _forest(w, by["size"], "size", "More training images against fewer, paired by seed"),
         "sections": _question_sections(w, confirmed, "data_fraction") + _scaling_sections(w, studies)},
    ]
    other = [c for c in by["other"] if c.source != "headline"]
    if other:
        questions.append({"key": "other", "forest": _forest(w, other, "other", "Other confirmed comparisons"),
                          "sections": []})
    text = render("docs.md.j2", date=f"{datetime.datetime.now():%Y-%m-%d}", findings=C.findings(comps),
                  confirmed=bool(comps) or any(c.tables or c.crosses for c in confirmed),
                  m=methods_data(studies, confirmed, w, "docs"), questions=questions,
                  appendix=_appendix(w, studies, system or [], headlines, confirmed))
    return write_document(out / "experiments.md", text, w.tables)
