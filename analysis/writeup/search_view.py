"""The search's view across studies, for the appendix: the comparison of families per budget (search trials, which
propose), the classical study matching a headline's training-set size, and the warning that a confirmation
contradicts the search's reference."""
from __future__ import annotations

import pandas as pd

from ..load import Study, load_confirmation
from ..present.text import fmt_pct
from ..stats.intervals import mean_ci
from ..stats.scaling import train_size
from ..stats.search import main_comparison, selected_row
from .runs import ONE_FIT, StudyBudget, caption, is_classical, study_budget
from .templating import words

TEMPLATE = "search_view.md.j2"


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
            confirmed = _confirmed_at([s for s in members if not is_classical(s)], fraction, limit)
            table.attrs.update(note=words(TEMPLATE, "comparison", confirmed=confirmed), confirmed=confirmed)
            if confirmed:  # the deep rows are proposals that their confirmation decides: no row is bold
                table.attrs["no_bold"] = True
            deep = StudyBudget(fraction, limit, study_budget(at[0]).val_size) if limit is not None else None
            tables.append((study_budget(classical[0]) if classical else None, deep, table))
    return tables


def _confirmed_at(deep: list[Study], fraction: float, epochs: int | None) -> list[dict]:
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
        out.append({"study": s.name, "seeds": best["seed"].nunique(), "model": cfg.get("model"),
                    "aug_strength": float(cfg.get("aug_strength", 0.0)), "val": fmt_pct(val[0], val[1]),
                    "test": fmt_pct(*test)})
    return out


def _best_classical_at(studies: list[Study], images: int) -> Study | None:
    """Of the classical studies trained on `images` images, the one whose best pipeline is best on validation."""
    at = [s for s in studies if is_classical(s) and train_size((s.meta.get("budget") or {})) == images]
    tables = [main_comparison(s) for s in at]
    scored = [(t["best_val_full"].max(), i) for i, t in enumerate(tables) if len(t)]
    return at[max(scored)[1]] if scored else None


def _comparison_heading(classical: StudyBudget | None, deep: StudyBudget | None) -> tuple[str, str]:
    shown = deep or classical
    kinds = []
    if deep is not None:
        kinds.append(f"deep {deep.epochs_text}")
    if classical is not None:
        kinds.append(f"classical {ONE_FIT}")
    epochs = "; ".join(kinds)
    return f"### Data fraction {shown.fraction_text}, {epochs}", caption(shown.fraction_text, epochs)


SECTIONS = {"cnn_aug": [("aug_strength", "Augmentation ablation"), ("model", "Architecture ablation"),
                        ("optimizer", "Optimizer comparison")],
            "augment": [(None, "Per-operation augmentation ablation")],
            "optimizers": [("optimizer", "Optimizer comparison")]}


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
            out.append(words(TEMPLATE, "overturned", param=param, value=r[param], reference=ref[param],
                             diff=r["diff_mean"], low=r["diff_low"], high=r["diff_high"], seeds=int(r["seeds"]),
                             val=r["val_mean"], ref_val=ref["val_mean"]))
    return out

