"""The experiments write-up across studies (docs/experiments.md): classical vs deep with and without augmentation,
the augmentation and optimizer ablations, the scaling fits and the system scaling, each generated from the
trial databases it names, with the commands and budgets that produced them. Figures are small PNGs."""
from __future__ import annotations

import datetime
import math
from pathlib import Path

import pandas as pd

from . import figures as F
from .literature import reference_table
from .load import Study
from .scaling import scaling_plot, scaling_table, system_scaling
from .tables import ablation_table, formatted, main_comparison, to_markdown


def comparison_across(studies: list[Study]) -> pd.DataFrame:
    """The main comparison of every study stacked: one row per model family and augmentation setting."""
    parts = []
    for s in studies:
        df = main_comparison(s)
        if len(df):
            parts.append(df.assign(study=s.name, kind=s.meta.get("kind", "deep")))
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    out["augmentation"] = out["augmentation"].where(out["kind"] == "deep", "n/a (classical)")
    out = out.sort_values(["kind", "best_val_full"], ascending=[True, False]).reset_index(drop=True)
    cols = ["model", "augmentation", "study", "trials", "best_val_full", "best_trial", "test_mean", "test_ci95",
            "test_n"]
    result = out[cols].copy()
    result.attrs.update(note="Ours, from the databases named below. Best full-budget validation accuracy over each "
                        "row's trials; test: the row's best final-evaluated configuration, mean ± 95% CI over seeds.")
    return result


def _budget_line(s: Study) -> str:
    b = s.meta.get("budget") or {}
    length = "one fit per trial" if s.meta.get("kind") == "classical" else f"up to {b.get('max_epochs')} epochs"
    return (f"`{s.name}`: space `{s.meta.get('space')}`, budget `{b.get('name')}` ({b.get('num_samples')} trials, "
            f"data fraction {b.get('data_fraction')}, {length}); command: `{s.meta.get('command')}`")


def _small_png(md: list[str], fig, out: Path, stem: str, caption: str) -> None:
    """A PNG (docs stay small in git: no PDF), at the resolution of the report's figures."""
    if fig is None:
        return
    png, pdf = F.save_figure(fig, out / "figures" / stem, dpi=150)
    pdf.unlink()
    md += ["", f"![{caption}](figures/{png.name})"]


def write_docs(studies: list[Study], out: str | Path, system: list[Study] | None = None) -> Path:
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    md = ["# Experiments", "",
          f"_Generated {datetime.datetime.now():%Y-%m-%d} by `python -m analysis docs`. Every number in the tables "
          "and text below is read from the trial databases listed under Runs; nothing is typed in by hand. The "
          "literature rows are cited from the sources named and never mixed with ours._", "",
          "## Runs", ""]
    md += [f"- {_budget_line(s)}" for s in studies]
    md += ["", "All runs above used the **laptop** budgets on a 2-core CPU (see each line): 10% to 25% of the "
           "training set and at most 8 epochs. A full GPU budget (`--budget full`: all 55,000 training images, up to "
           "40 epochs, 200 trials) is expected to raise every deep model's accuracy substantially, to favour larger "
           "models and stronger augmentation (whose benefit grows with training length), and to narrow the run-to-run "
           "spread; the classical pipelines gain less, since they are already fitted to convergence.", ""]

    comp = comparison_across([s for s in studies if s.meta.get("space") == "cnn_aug"
                              or s.meta.get("kind") == "classical"] or studies)
    md += ["## Classical computer vision against deep learning", "", comp.attrs.get("note", ""), "",
           "Rows differ in budget (see Runs): compare rows of equal data fraction. The deep recipe on all the "
           "training data is measured in `benchmarks/README.md` (`python -m ganrator.train --epochs 10 --test`).", ""]
    md += [to_markdown(formatted(comp)) if len(comp) else "(no completed trials)", "",
           "Reference results from the literature (not ours; for orientation only):", "",
           to_markdown(reference_table())]

    # Each study's own sections, in the order given (two studies of one space, e.g. TPE and QMC, both appear).
    sections = {"cnn_aug": [("aug_strength", "Augmentation ablation"), ("model", "Architecture ablation"),
                            ("optimizer", "Optimizer comparison")],
                "augment": [(None, "Per-operation augmentation ablation")],
                "optimizers": [("optimizer", "Optimizer comparison")]}
    for s in studies:
        for param, title in sections.get(s.meta.get("space"), []):
            params = [param] if param else s.scientific()
            md += ["", f"## {title} (`{s.name}`)"]
            for p in params:
                table = ablation_table(s, p)
                if not len(table):
                    continue
                md += ["", table.attrs["note"], "", to_markdown(formatted(table))]
                fig = F.ablation_plot(s, p)
                _small_png(md, fig, out, f"{s.name}_{p}", f"{title}: {p}")
        if s.meta.get("space") == "scaling":
            table = scaling_table(s)
            shown = table.assign(b=[f"{b:.3f} [{lo:.3f}, {hi:.3f}]" if math.isfinite(b) else "—"
                                    for b, lo, hi in zip(table["b"], table["b_ci_low"], table["b_ci_high"])],
                                 a=table["a"].map("{:.3g}".format), c=table["c"].map("{:.4f}".format))
            budget = s.meta.get("budget") or {}
            md += ["", f"## Scaling (`{s.name}`)", "", table.attrs["note"], "",
                   to_markdown(shown[["axis", "points", "metric", "a", "b", "c"]]), "",
                   f"Every trial trained for {budget.get('max_epochs')} epochs, so the smallest training sets got "
                   "only a few optimizer steps: at this budget their errors partly measure under-training, and the "
                   "exponents are laptop-budget figures, not estimates of the converged scaling law."]
            _small_png(md, scaling_plot(s), out, f"{s.name}_scaling", "Scaling fits")
    if system:
        sys_table = system_scaling(system)
        md += ["", "## System scaling", "", "The same study on clusters of different size (from "
               "`benchmarks/search.py --out`): trials per hour and accelerator-hours against the number of workers.", "",
               to_markdown(sys_table.assign(**{c: sys_table[c].map("{:.3g}".format) for c in
                                               ("hours", "trials_per_hour", "accelerator_hours", "speedup")
                                               if c in sys_table}))]
    path = out / "experiments.md"
    path.write_text("\n".join(md) + "\n")
    return path
