"""docs/experiments.md of a planned study (results/plan.yaml): findings first, methods once, one section per study
question with its differences before its levels, then the appendix; every number read from the study's committed
database (and the transcribed history in results/history.yaml), none typed. The words are templates/plan.md.j2."""
from __future__ import annotations

import datetime
import math
from pathlib import Path

import numpy as np
import pandas as pd

from tuning.plan import Plan

from ..load.history import History
from ..present.figures.curves import curves_plot
from ..present.figures.forest import forest_plot
from ..stats import comparisons as C
from ..stats import curves as S
from ..stats.power import paired_detectable
from .files import Writer, write_document
from .templating import Section, render

FAMILY_NAMES = {"cnn": "CNN", "classical": "classical pipeline"}


def _pct(mean: float, low: float, high: float, n: int) -> str:
    if not np.isfinite(mean):
        return "—"
    if not np.isfinite(low):
        return f"{100 * mean:.2f} (n = {n})"
    return f"{100 * mean:.2f} ± {100 * (high - low) / 2:.2f} (n = {n})"


def _pts(d: float, lo: float, hi: float) -> str:
    if not np.isfinite(d):
        return "—"
    return f"{100 * d:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]" if np.isfinite(lo) else f"{100 * d:+.2f}"


def _by_seed(pt) -> dict[int, float]:
    return {int(r["seed"]): float(r["test_acc"]) for r in pt.runs if r.get("test_acc") is not None}


def family_comparisons(plan: Plan, state, diffs: pd.DataFrame, recipe: str) -> list[C.Comparison]:
    """CNN minus classical at each size: the full size's is the family question's primary comparison."""
    out = []
    for r in diffs.to_dict("records"):
        d, c = state.points[("cnn", r["size"])], state.points[("classical", r["size"])]
        a, b = _by_seed(d), _by_seed(c)
        if r["how"] == "paired":
            per_seed = [a[s] - b[s] for s in sorted(set(a) & set(b))]
            se, dof = C._paired_se(per_seed)
        else:
            per_seed = []
            se, dof = C.welch(list(a.values()), list(b.values()))
        full = r["size"] == plan.full_size
        out.append(C.Comparison(
            question="family" if full else "size", study=plan.name, param="family", arm=f"CNN ({recipe})",
            base="classical pipeline", diff=r["diff"], low=r["low"], high=r["high"], n=int(r["n"]), se=se, dof=dof,
            paired=r["how"] == "paired", p_holm=r["p_holm"], images=f"{r['size']:,}",
            length=f"each family tuned, the CNN for {d.length:,} optimizer steps",
            candidate=1 if full else 0, primary=full, per_seed=per_seed))
    return out


def augmentation_comparisons(plan: Plan, state, aug: dict, sec: pd.DataFrame) -> list[C.Comparison]:
    out = []
    cand = plan.augmentation.candidate_name
    if aug and aug["n"]:
        base, arm = state.points[("cnn", plan.augmentation.size)], state.points[(cand, plan.augmentation.size)]
        a, b = _by_seed(base), _by_seed(arm)
        per_seed = [b[s] - a[s] for s in sorted(set(a) & set(b))]
        se, dof = C._paired_se(per_seed)
        out.append(C.Comparison(
            question="augmentation", study=plan.name, param="augmentation", arm=cand, base="no augmentation",
            diff=aug["diff"], low=aug["low"], high=aug["high"], n=aug["n"], se=se, dof=dof, paired=True,
            images=f"{plan.augmentation.size:,}", primary=True, candidate=1, per_seed=per_seed,
            length=f"each arm tuned, for {arm.length:,} and {base.length:,} optimizer steps"))
    for r in sec.to_dict("records") if len(sec) else []:
        out.append(C.Comparison(
            question="other", study=plan.name, param=f"secondary {r['arm']}", arm=f"{r['arm']} (exploratory)",
            base="no augmentation", diff=r["diff"], low=r["low"], high=r["high"], n=int(r["n"]),
            se=(r["high"] - r["low"]) / 2 / max(1e-12, _t(r["n"])) if np.isfinite(r["low"]) else math.nan,
            dof=float(r["n"] - 1), paired=True, p_holm=r["p_holm"], images=f"{plan.augmentation.secondary.size:,}",
            length=f"{r['steps']:,} optimizer steps"))
    return out


def _t(n: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1)) if n >= 2 else math.nan


def _levels(plan: Plan, table: pd.DataFrame, diffs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for size in plan.sizes:
        d = table[(table["arm"] == "cnn") & (table["size"] == size)]
        c = table[(table["arm"] == "classical") & (table["size"] == size)]
        f = diffs[diffs["size"] == size] if len(diffs) else diffs
        dr = d.iloc[0] if len(d) else None
        cr = c.iloc[0] if len(c) else None
        fr = f.iloc[0] if len(f) else None
        rows.append({
            "training images": f"{size:,}",
            "CNN test %": _pct(dr["test"], dr["test_low"], dr["test_high"], dr["seeds"]) if dr is not None else
            "not yet run",
            "classical test %": _pct(cr["test"], cr["test_low"], cr["test_high"], cr["seeds"]) if cr is not None
            else "not yet run",
            "CNN − classical (points)": _pts(fr["diff"], fr["low"], fr["high"]) if fr is not None else "—",
            "Holm p": ("—" if fr is None or not np.isfinite(fr["p_holm"]) else
                       "< 0.001" if fr["p_holm"] < 0.001 else f"{fr['p_holm']:.3f}"),
            "CNN train %": f"{100 * dr['train']:.1f}" if dr is not None and np.isfinite(dr["train"]) else "—"})
    return pd.DataFrame(rows)


def _fits_view(fits: dict) -> pd.DataFrame:
    rows = []
    for arm, f in fits.items():
        if f is None:
            continue
        rows.append({
            "family": FAMILY_NAMES.get(arm, arm), "sizes fitted": f"{len(f.sizes)}",
            "b [95% CI]": f"{f.b:.3f} [{f.b_low:.3f}, {f.b_high:.3f}]",
            "c (error floor, %)": f"{100 * f.c:.2f} [{100 * f.c_low:.2f}, {100 * f.c_high:.2f}]"
                                  + ("" if f.c_identified else ", not identified"),
            f"predicted error at {f.held_out:,} (%)": f"{100 * f.predicted:.2f} [{100 * f.predicted_low:.2f}, "
                                                      f"{100 * f.predicted_high:.2f}]",
            "measured (%)": _pct(f.measured, f.measured_low, f.measured_high, 0).replace(" (n = 0)", ""),
            "held-out check": "within" if f.held_out_ok else "outside"})
    return pd.DataFrame(rows)


def _ladder_view(state) -> pd.DataFrame:
    rows = []
    for (arm, size), pt in sorted(state.points.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if pt.family != "deep" or not pt.ladder:
            continue
        rows.append({"arm": arm, "training images": f"{size:,}",
                     "validation % at each rung (steps)": ", ".join(f"{s:,}: {100 * v:.2f}"
                                                                     for s, v in sorted(pt.ladder.items())),
                     "chosen": f"{pt.length:,}{' (cap)' if pt.capped else ''}" if pt.length else "pending"})
    return pd.DataFrame(rows)


def _grid_view(state) -> pd.DataFrame:
    rows = []
    for (arm, size), pt in sorted(state.points.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if not pt.grid:
            continue
        (a, av), (b, bv) = pt.axes.items()
        best = max(pt.grid.values())
        rows.append({"arm": arm, "training images": f"{size:,}", "points": len(pt.grid),
                     f"axes": f"{a} {', '.join(f'{v:g}' for v in av)}; {b} {', '.join(f'{v:g}' for v in bv)}",
                     "best validation %": f"{100 * best:.2f}", "chosen": pt.choice_text,
                     "at an edge after extension": ", ".join(pt.edge) or "no"})
    return pd.DataFrame(rows)


def _per_seed_view(state) -> pd.DataFrame:
    rows = []
    for (arm, size), pt in sorted(state.points.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if pt.runs:
            rows.append({"arm": arm, "training images": f"{size:,}",
                         "test % per seed": ", ".join(f"{s}: {100 * v:.2f}" for s, v in sorted(_by_seed(pt).items())),
                         "validation % (mean)": f"{100 * np.mean([r['val_acc'] for r in pt.runs]):.2f}"})
    return pd.DataFrame(rows)


def _effort_view(runs: pd.DataFrame, history: History | None) -> pd.DataFrame:
    eff = S.effort(runs)
    rows = []
    for family in ("deep", "classical"):
        mine = eff.loc[family] if family in eff.index else None
        hist = history.families.get(family) if history else None
        rows.append({
            "family": family,
            "this study: configurations scored on validation": f"{int(mine['configurations']):,}" if mine is not None
            else "0",
            "this study: CPU-hours": f"{mine['cpu_seconds'] / 3600:.2f}" if mine is not None else "0",
            "before it: configurations": _count(hist.totals.configurations) if hist else "—",
            "before it: test reads": _count(hist.totals.test_reads) if hist else "—",
            "before it: core-hours stated": f"{hist.totals.core_seconds / 3600:.2f}" if hist else "—"})
    return pd.DataFrame(rows)


def _count(c) -> str:
    if c.high is None:
        return f"at least {c.low:,}"
    return f"{c.low:,}" if c.low == c.high else f"{c.low:,} to {c.high:,}"


def departures(plan: Plan, state, table: pd.DataFrame, runs: pd.DataFrame, amendments: list[dict]) -> list[str]:
    """Where the results depart from the plan as written, each in a few words (the template says them)."""
    out = [f"amended {datetime.datetime.fromtimestamp(a['first_run_at'], datetime.timezone.utc):%Y-%m-%d}: "
           f"{a['amendment']}" for a in amendments]
    for (arm, size), pt in sorted(state.points.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if pt.capped:
            out.append(f"{arm} at {size:,} images: the ladder's last rung was still gaining, so its length is the "
                       f"cap ({pt.length:,} steps)")
        if pt.edge:
            out.append(f"{arm} at {size:,} images: the choice sits at the edge of {', '.join(pt.edge)} after the "
                       f"grid's extensions")
    if len(table):
        unfit = table[(table["family"] == "deep") & (table["fitted"] == False)]  # noqa: E712
        for r in unfit.to_dict("records"):
            out.append(f"{r['arm']} at {r['size']:,} images ended below {100 * plan.deep.length.fitted:.0f}% "
                       f"training accuracy ({100 * r['train']:.1f}%): not fitted")
    if len(runs):
        errored = runs[runs["status"] == "errored"]
        if len(errored):
            out.append(f"{len(errored)} run(s) errored and are to be retried")
    return out


def write_plan_docs(plan: Plan, url: str, out: str | Path, history: History | None, db_shown: str,
                    command: str) -> Path:
    import sqlalchemy as sa

    from tuning.db import make_engine, plans

    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    w = Writer(out)
    runs = S.load_plan_runs(url, plan.name)
    state = S.decisions(plan, runs)
    table = S.confirmed(plan, runs, state)
    diffs = S.family_differences(plan, state)
    cross = S.crossover(plan, state)
    fits = {arm: S.fit_curve(plan, state, arm) for arm in ("cnn", "classical")}
    aug = S.augmentation(plan, state)
    sec = S.secondary(plan, runs, state)
    engine = make_engine(url)
    with engine.connect() as conn:
        recorded = sorted([dict(r) for r in conn.execute(sa.select(plans).where(plans.c.study == plan.name))
                           .mappings()], key=lambda r: r["first_run_at"] or 0)
    engine.dispose()
    recipe = plan.deep.recipe
    fam = family_comparisons(plan, state, diffs, recipe)
    augc = augmentation_comparisons(plan, state, aug, sec)
    findings = C.findings([c for c in fam + augc if c.primary])
    forest_family = w.figure(forest_plot(list(reversed(fam)), "CNN minus classical pipeline at each training-set "
                                         "size"), "forest_family", "forest", question="family") if fam else None
    forest_aug = w.figure(forest_plot(augc, "Augmentation minus none"), "forest_augmentation", "forest",
                          question="augmentation") if augc else None
    curves = w.figure(curves_plot(table, list(plan.sizes), fits, plan.held_out_size), "learning_curves",
                      "plan_curves") if len(table) else None
    levels = w.table("curves", _levels(plan, table, diffs), "plan_levels")
    fits_view = _fits_view(fits)
    fit_item = w.table("fits", fits_view, "plan_fits") if len(fits_view) else None
    appendix = [
        Section("A. The plan and where the results depart from it", lead=render(
            "plan_appendix.md.j2", plan=plan, recorded=recorded, db=db_shown,
            departures=departures(plan, state, table, runs, recorded[1:])).strip()),
        Section("B. Length ladders", items=[w.table("ladders", _ladder_view(state), "plan_ladders")]),
        Section("C. Tuning grids", items=[w.table("grids", _grid_view(state), "plan_grids")]),
        Section("D. Per-seed values", items=[w.table("per_seed", _per_seed_view(state), "plan_per_seed")]),
        Section("E. Tuning effort, compute and history", lead=render(
            "plan_history.md.j2", history=history).strip(),
            items=[w.table("effort", _effort_view(runs, history), "plan_effort")]),
    ]
    newest = runs["ended_at"].max() if len(runs) else None
    progress = {"points": sum(1 for pt in state.points.values() if pt.runs and len(pt.runs) == len(pt.seeds)),
                "total": len(state.points), "runs": int((runs["status"] == "completed").sum()) if len(runs) else 0,
                "left": len(state.jobs)}
    from ganrator.data import COUNTS
    from ganrator.recipe import TrainConfig
    from tuning.plan import TRAIN_IMAGES

    recipe_cfg = TrainConfig.from_dict({k: v for k, v in plan.deep.fixed.items()})
    numbers = {"train_all": COUNTS["train"], "train": TRAIN_IMAGES, "val": COUNTS["train"] - TRAIN_IMAGES,
               "test": COUNTS["test"], "decades": math.log10(max(plan.sizes) / min(plan.sizes)),
               "grid": math.prod(len(v) for v in plan.deep.grid.values())}
    text = render("plan.md.j2", plan=plan, n=numbers, r=recipe_cfg, command=command, db=db_shown,
                  date=datetime.datetime.fromtimestamp(newest, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                  if newest else "no run yet", progress=progress, findings=findings, fam=fam, aug=aug,
                  augc=augc, cross=cross, fits=fits, table=table, recipe=recipe,
                  forest_family=forest_family, forest_aug=forest_aug, curves=curves, levels=levels,
                  fit_item=fit_item, appendix=appendix, sec=sec,
                  sizes_done=[int(s) for s in sorted(set(table["size"]))] if len(table) else [],
                  detectable=paired_detectable)
    return write_document(out / "experiments.md", text, w.tables)
