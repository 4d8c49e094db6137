"""Confirmed crosses (a space's `confirm: {cross: [P, Q]}`, tuning/confirm.py): for every value of P, each value of
Q paired seed by seed against Q's baseline, its first feasible point, at the same P. With P = data_fraction and
Q = aug_strength this is the aug_by_size table: does augmentation help at this training-set size?

A cross is read from the confirmation tables alone: its arms carry a mapping {P: p, Q: q} as their point, and every
arm ran on the same fresh seeds, so seed k of two cells shares its initialisation and data order.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from ganrator.recipe import TrainConfig

from ..present.text import format_value, point_text
from ..present.words import words
from .intervals import FITTED, mean_ci
from .paired import (MIN_SEEDS_FOR_INTERVAL, _runs_by_seed, confirmed_tables, fit_accuracies, holm, paired_p,
                     trained_settings)
from .scaling import train_size


AUG_BY_SIZE = "data_fraction x aug_strength"


def cross_params(arms: pd.DataFrame) -> list[str]:
    """The stored parameter names of the crosses among the arms, in the order they were stored."""
    if not len(arms) or "point" not in arms:
        return []
    return list(dict.fromkeys(p for p, point in zip(arms["param"], arms["point"]) if isinstance(point, dict)))


def _same_value(v) -> str:
    """One text for equal values, whether held as numbers or as a table's labels: 0, 0.0 and "0.0" are "0"."""
    try:
        return f"{float(v):g}"
    except (TypeError, ValueError):
        return str(v)


def _verdict(low: float, high: float, col: str, base) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"fewer than {MIN_SEEDS_FOR_INTERVAL} paired seeds: no interval"
    if low <= 0 <= high:
        return "inconclusive"
    return f"{'better' if low > 0 else 'worse'} than {col} = {point_text(base)}"


def confirmed_cross(arms: pd.DataFrame, runs: pd.DataFrame, param: str = AUG_BY_SIZE) -> pd.DataFrame:
    """One row per cell of the cross `param` ("P x Q"): its test mean (95% t-interval over seeds), its training
    accuracy per seed (on its own training images, unaugmented: whether the run fitted its set), its epochs, and
    the test accuracy paired by seed against the baseline cell (Q's first value) at the same P, with its 95% paired
    t-interval, a verdict in words and n, the number of paired seeds."""
    a = arms[arms["param"] == param].sort_values("position")
    row_name, col_name = param.split(" x ")[:2]
    points = [p for p in a["point"]]
    cols = list(dict.fromkeys(p[col_name] for p in points))
    base = cols[0] if cols else None
    runs_by_key = {k: _runs_by_seed(runs, k) for k in a["arm_key"]}  # each cell's runs by seed, read once
    out = []
    for (_, arm), point in zip(a.iterrows(), points):
        mine = runs_by_key[arm["arm_key"]]
        mean, half, n = mean_ci(mine["test_acc"])
        base_key = next((k for k, p in zip(a["arm_key"], points)
                         if p[row_name] == point[row_name] and p[col_name] == base), None)
        configs = [c for c in mine["config"] if isinstance(c, dict)] if "config" in mine else []
        train_acc = fit_accuracies(mine)
        row = {row_name: point[row_name], col_name: point[col_name], "baseline": point[col_name] == base,
               "fraction": configs[0].get("data_fraction", 1.0) if configs else math.nan,  # of the 60k split's rest
               "images": train_size(configs[0]) if configs else math.nan,
               "epochs": sorted({int(e) for e in mine["epochs"].dropna()}) if len(mine) else [],
               "steps": sorted({int(c.get("steps") or 0) for c in configs}),
               "seeds": n, "val_mean": mean_ci(mine["val_acc"])[0] if "val_acc" in mine else math.nan,
               "test_mean": mean, "test_ci95": half if n >= MIN_SEEDS_FOR_INTERVAL else math.nan,
               "test_per_seed": list(mine["test_acc"]), "train_acc_per_seed": train_acc,
               "train_acc_mean": float(np.mean(train_acc)) if train_acc else math.nan,
               "diff_mean": math.nan, "diff_low": math.nan, "diff_high": math.nan, "diff_per_seed": [], "n": 0,
               "verdict": "", "source": arm["source"], "study": arm.get("study") or "", "arm_key": arm["arm_key"],
               "settings": {k: v for k, v in (arm.get("config") if isinstance(arm.get("config"), dict) else {}).items()
                            if k not in (row_name, col_name)},
               "model": configs[0].get("model") if configs else None,
               # what the cell's runs trained with, sampled or not (a space with no nuisance parameter has none)
               "trained": trained_settings(mine),
               "batch_size": int(configs[0].get("batch_size") or TrainConfig.batch_size) if configs else None}
        if row["baseline"]:
            row["verdict"] = f"baseline ({col_name} = {point_text(base)})"
        elif base_key is None:
            row["verdict"] = f"no {col_name} = {point_text(base)} cell at this {row_name}"
        else:
            ref = runs_by_key[base_key]
            common = mine.index.intersection(ref.index)
            diffs = (mine.loc[common, "test_acc"] - ref.loc[common, "test_acc"]).to_numpy(dtype=float)
            d_mean, d_half, d_n = mean_ci(diffs)
            row.update(diff_mean=d_mean, diff_per_seed=list(diffs), n=d_n)
            if d_n >= MIN_SEEDS_FOR_INTERVAL:
                row.update(diff_low=d_mean - d_half, diff_high=d_mean + d_half)
            row["verdict"] = _verdict(row["diff_low"], row["diff_high"], col_name, base) if d_n else "no paired seed"
        out.append(row)
    df = pd.DataFrame(out)
    if len(df):  # a difference between cells at different settings is not the column parameter's effect
        mixed = df[row_name].isin(_rows_with_differing_settings(df, row_name)) & ~df["baseline"]
        df.loc[mixed, "verdict"] = [f"{v}, cells at different settings" if v.startswith(("better", "worse")) else v
                                    for v in df.loc[mixed, "verdict"]]
        df["mixed_settings"] = mixed
    studies = list(dict.fromkeys(df["study"])) if len(df) else []
    # Each cell's difference of the crossing study is one comparison of the table's family: its paired p,
    # Holm-adjusted over those. A row reused from another study belongs to that study's family: it shows the Holm
    # p that study's own table reports (one comparison, one adjusted p wherever it is shown).
    df["p"] = [paired_p(d) if not b else math.nan for d, b in zip(df["diff_per_seed"], df["baseline"])] \
        if len(df) else []
    own = (df["study"] == studies[0]).to_numpy() if len(studies) > 1 else np.ones(len(df), dtype=bool)
    df["reused"] = ~own
    df["p_holm"] = math.nan
    if own.any():
        df.loc[own, "p_holm"] = holm(list(df.loc[own, "p"]))
    for i in np.flatnonzero(~own & ~df["baseline"].to_numpy(dtype=bool)):
        # that study compared each arm with its reference: the same pair as this cell's (either way round, the
        # paired t-test's p is the same) when the reference is this row's baseline or this cell itself
        arm = a[a["arm_key"] == df.at[i, "arm_key"]].iloc[0]
        value, ref = _same_value(df.at[i, col_name]), arm.get("holm_reference")
        base_arm = a[[p[row_name] == df.at[i, row_name] and _same_value(p[col_name]) == _same_value(base)
                      for p in a["point"]]]
        if ref == _same_value(base):
            df.at[i, "p_holm"] = arm.get("holm_p", math.nan)
        elif ref == value and len(base_arm):
            df.at[i, "p_holm"] = base_arm["holm_p"].iloc[0]
    family = int(np.isfinite(df.loc[own, "p"]).sum()) if len(df) else 0
    seeds = sorted(int(s) for s in runs["seed"].dropna().unique()) if len(runs) else []
    reused = ""
    if len(studies) > 1:
        others = df[df["study"] != studies[0]]
        rows = ", ".join(dict.fromkeys(point_text(v) for v in others[row_name]))
        reused = " " + words(TEMPLATE, "reused", row=row_name, rows=rows, studies=studies[1:])
    df.attrs.update(
        title=f"Confirmed cross: {row_name} x {col_name}", param=param, row=row_name, col=col_name, baseline=base,
        fit=_fit_sentence(df, row_name, col_name),
        note=(words(TEMPLATE, "note", row=row_name, col=col_name, seeds=seeds, base=point_text(base), family=family,
                    several=len(studies) > 1) + f"{reused} {_fit_sentence(df, row_name, col_name)} "
              f"{_settings_sentence(df, row_name, col_name)} "
              f"{_interaction_sentence(df, studies[:1], runs_by_key, row_name, col_name, base)}").strip(),
        studies=studies if len(studies) > 1 else [])
    return df


TEMPLATE = "cross.md.j2"  # the words of the table's note


def _fit_sentence(df: pd.DataFrame, row_name: str, col_name: str) -> str:
    """Which cells' runs ended still learning (mean training accuracy below FITTED), from the table itself."""
    recorded = bool(len(df)) and bool(np.isfinite(df["train_acc_mean"]).any())
    short = df[np.isfinite(df["train_acc_mean"]) & (df["train_acc_mean"] < FITTED)] if recorded else df.iloc[:0]
    return words(TEMPLATE, "fit", recorded=recorded, threshold=100 * FITTED, row=row_name, col=col_name,
                 cells=[(point_text(r[row_name]), point_text(r[col_name]), 100 * r["train_acc_mean"])
                        for r in short.to_dict("records")])


def _rows_with_differing_settings(df: pd.DataFrame, row_name: str) -> list:
    """The values of the cross's first parameter whose cells trained at different settings (the cells' own searched
    lr, weight decay, ...): there a cell's difference is not the second parameter's alone."""
    return [v for v, cells in df.groupby(row_name, sort=False)
            if len({json.dumps({**t, **c}, sort_keys=True, default=str)
                    for t, c in zip(cells["trained"], cells["settings"])}) > 1]


def _settings_sentence(df: pd.DataFrame, row_name: str, col_name: str) -> str:
    """Each cell's settings besides the cross: where it came from and its tuned (nuisance) values, which differ
    between the cells of a row when the search found each cell's best separately."""
    models = sorted({m for m in df["model"] if isinstance(m, str)})  # a cell with no run yet has none
    cells = [(point_text(r[row_name]), point_text(r[col_name]), r["source"],
              ", ".join(f"{k} {format_value(v)}" for k, v in sorted({**r["trained"], **r["settings"]}.items())))
             for r in df.to_dict("records")]
    return words(TEMPLATE, "settings", models=models, row=row_name, col=col_name, cells=cells,
                 differ=[point_text(v) for v in _rows_with_differing_settings(df, row_name)])


def _interaction_sentence(df: pd.DataFrame, own_study: list[str], runs_by_key: dict, row_name: str, col_name: str,
                          base) -> str:
    """The interaction as a number: for consecutive rows of the crossing study itself, each value's gain over the
    baseline at one row minus its gain at the next, paired by seed (the same seeds in every cell)."""
    own = df[df["study"].isin(own_study)] if own_study else df  # the reused rows ran another protocol
    rows = sorted(dict.fromkeys(own[row_name]), key=float)
    out = []
    for lo, hi in zip(rows, rows[1:]):
        for v in dict.fromkeys(own[col_name]):
            if v == base:
                continue
            gains = []
            for r in (lo, hi):
                cell = own[(own[row_name] == r) & (own[col_name] == v)]
                ref = own[(own[row_name] == r) & (own[col_name] == base)]
                if not len(cell) or not len(ref):
                    break
                gains.append(runs_by_key[cell["arm_key"].iloc[0]]["test_acc"] -
                             runs_by_key[ref["arm_key"].iloc[0]]["test_acc"])
            if len(gains) != 2:
                continue
            d = (gains[0] - gains[1]).dropna()
            if d.empty:  # no seed has run in all four cells yet
                continue
            mean, half, n = mean_ci(d.to_numpy(dtype=float))
            out.append({"value": point_text(v), "lo": point_text(lo), "hi": point_text(hi), "mean": mean,
                        "low": mean - half, "high": mean + half, "n": n, "interval": n >= MIN_SEEDS_FOR_INTERVAL})
    if not out:
        return ""
    mixed = bool(own["mixed_settings"].any()) if "mixed_settings" in own else False
    return words(TEMPLATE, "interaction", row=row_name, col=col_name, gains=out, mixed=mixed)


def ablation_as_row(arms: pd.DataFrame, runs: pd.DataFrame, param: str, row_name: str, study: str,
                    cross: str = AUG_BY_SIZE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Another study's confirmed ablation of `param` as one more row of the cross `row_name x param`, when all its
    arms trained at one value of `row_name` (the headline's augmentation arms, all on the full training split):
    the same runs, paired seed by seed within the row as before, so the cross reuses runs already made instead of
    training them again. Empty frames when that study has no such ablation."""
    a = arms[arms["param"] == param] if len(arms) else arms
    mine = runs[runs["arm_key"].isin(a["arm_key"])] if len(a) else runs.iloc[:0]
    configs = [c for c in mine["config"] if isinstance(c, dict)] if len(mine) else []
    values = {float(c.get(row_name, 1.0)) for c in configs}
    if len(values) != 1:
        return arms.iloc[:0], runs.iloc[:0]
    value = values.pop()
    # The Holm p each arm has in its own study's family, and the arm it was compared with there (the reference)
    table = confirmed_tables(arms, runs).get(param)
    key = _same_value  # the table labels its values as text ("0.0"), the arms hold them as numbers (0)
    reference = key(table.loc[table["reference"], param].iloc[0]) if table is not None and \
        table["reference"].any() else None
    holm_p = {key(v): p for v, p in zip(table[param], table["p_holm"])} if table is not None else {}
    row = a.assign(param=cross, point=[{row_name: value, param: p} for p in a["point"]],
                   source=[f"study `{study}`, {src}" for src in a["source"]], position=a["position"] + 1_000,
                   holm_p=[holm_p.get(key(p), math.nan) for p in a["point"]], holm_reference=reference)
    return row, mine

