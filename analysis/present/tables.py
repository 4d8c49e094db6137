"""Tables as strings for publication: accuracies in percent with their interval, validation's choice in bold, and
the Markdown and LaTeX (booktabs) exports."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..stats.headline import BASELINE
from ..stats.paired import MIN_SEEDS_FOR_INTERVAL, after_holm
from ..stats.scaling import C_PROFILE
from ..stats.search import VAL_SELECTION, selected_row
from .text import fmt_pct, format_value, p_text, point_text, points_text


def cross_view(cross: pd.DataFrame) -> pd.DataFrame:
    """The cross table as strings, `param` down and `other` across; the validation-best cell in bold."""
    if not len(cross):
        return pd.DataFrame({"": ["(no rows)"]})
    p, q = cross.attrs["param"], cross.attrs["other"]

    def cell(r) -> str:
        if not r["trials"]:
            return "no trial"
        n = f"n={int(r['full_budget'])}" + (f" of {int(r['trials'])}" if r["full_budget"] != r["trials"] else "")
        return f"{fmt_pct(r['best_val_full'])} ({n})"

    rows_p = list(dict.fromkeys(cross[p]))
    cols_q = list(dict.fromkeys(cross[q]))
    out = pd.DataFrame({p: [format_value(v) for v in rows_p]})
    for b in cols_q:
        out[f"{q} = {format_value(b)}"] = [cell(cross[(cross[p] == a) & (cross[q] == b)].iloc[0]) for a in rows_p]
    bold = []
    if cross.attrs.get("selected") is not None:  # the cell of the best full-budget trial on validation
        best = cross.loc[cross.attrs["selected"]]
        bold = [(rows_p.index(best[p]), f"{q} = {format_value(best[q])}")]
    out.attrs.update(cross.attrs, bold=bold)
    return out


TRIAL_COLUMNS = {"best_trial": "trial", "test_trial": "test trial", "trials_at_value": "trials (all slices)"}


def formatted(df: pd.DataFrame) -> pd.DataFrame:
    """Strings for publication: accuracies in percent with their CI. Bold marks validation's choice: the best
    cell of each validation column and the label of the row validation selects. Test cells are never bold."""
    if not len(df):
        return pd.DataFrame({"": ["(no rows)"]})
    out = pd.DataFrame(index=df.index)
    bold: list[tuple[int, str]] = []
    percent = set(df.attrs.get("percent", []))
    # the leaderboard's choice is its rank 1 (a full-budget trial), not the highest val_acc of any status
    chosen = None if percent else df.attrs.get("selected", selected_row(df))
    if chosen is not None and not any(c in df and pd.notna(df.loc[chosen, c]) for c in VAL_SELECTION):
        chosen = None  # a table whose only validation column is the first rung: bold its best cell alone
    for col in df.columns:
        if col in ("test_ci95", "test_n"):
            continue
        if col == "test_mean":
            out["test acc (%)"] = [fmt_pct(m, h, int(n)) if n else "—"
                                   for m, h, n in zip(df["test_mean"], df["test_ci95"], df["test_n"])]
        elif col.startswith("best_val") or col == "val_acc":
            name = {"best_val_full": "best val (full) (%)", "val_acc": "val acc (%)", "best_val": "best val (%)"}.get(
                col, col.replace("best_val_at_epoch_", "best val @ epoch ") + " (%)")
            out[name] = [fmt_pct(v) for v in df[col]]
            if col in VAL_SELECTION and chosen is not None:
                bold.append((chosen, name))
            elif df[col].notna().any() and col not in percent:  # a tie goes to validation's chosen row
                tied = df.index[df[col] == df[col].max()]
                bold.append((chosen if chosen in tied else int(tied[0]), name))
        elif col in percent:
            out[col + " (%)"] = [fmt_pct(v) for v in df[col]]
        elif col.startswith("best_trial_at_epoch_"):
            out[col.replace("best_trial_at_epoch_", "trial @ epoch ")] = [format_value(v) for v in df[col]]
        elif col in TRIAL_COLUMNS:
            out[TRIAL_COLUMNS[col]] = [format_value(v) for v in df[col]]
        elif col == "params_median":
            out["params"] = [f"{v / 1e6:.2f}M" if np.isfinite(v) else "—" for v in df[col]]
        else:  # a conditional parameter that does not apply to a trial is missing, shown as a dash
            out[col] = [format_value(v) for v in df[col]]
    if chosen is not None:
        bold.append((chosen, out.columns[0]))
    # a table whose rows are not one kind of evidence (search proposals beside full fits) crowns no row
    out.attrs.update(df.attrs, bold=[] if df.attrs.get("no_bold") else bold)
    return out


def to_markdown(table: pd.DataFrame) -> str:
    bold = set(table.attrs.get("bold", []))
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for i, row in table.iterrows():
        cells = [f"**{row[c]}**" if (i, c) in bold else str(row[c]) for c in cols]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs tabular, validation's choice in bold, long columns wrapping to the line (analysis.present.latex):
    a file a paper can \\input alone."""
    from .latex import tabular

    return tabular(table)


def format_paired(df: pd.DataFrame) -> pd.DataFrame:
    """Strings for the report. Nothing is bolded: a verdict is in words, not in a marked cell."""
    if not len(df):
        return pd.DataFrame({"": ["(no arms)"]})
    param = df.attrs["param"]
    rows = []
    for _, r in df.iterrows():
        if r["seeds"] >= MIN_SEEDS_FOR_INTERVAL:
            test = fmt_pct(r["test_mean"], r["test_ci95"], int(r["seeds"]))
        else:
            test = f"per seed: {points_text(r['test_per_seed'])} (n={int(r['seeds'])})"
        if r["reference"]:
            diff = "—"
        elif np.isfinite(r["diff_low"]):
            diff = f"{100 * r['diff_mean']:+.2f} [{100 * r['diff_low']:+.2f}, {100 * r['diff_high']:+.2f}]"
        else:
            diff = f"per seed: {points_text(r['diff_per_seed'], signed=True)}"
        ps = list(r["mcnemar_p"])
        mcn = "—" if r["reference"] or not ps else \
            "p per seed: " + ", ".join(p_text(p) for p in ps)
        val = fmt_pct(r["val_mean"], r["val_ci95"] if np.isfinite(r["val_ci95"]) else None)
        settings = {"settings": r["settings"]} if df.attrs.get("settings_differ") else {}
        rows.append({param: r[param], "source": r["source"], **settings, "seeds": int(r["seeds"]), "val acc (%)": val,
                     "test acc (%)": test,
                     "difference to reference (points)": diff,
                     "verdict": after_holm(r["verdict"], r["p_holm"]) if "p_holm" in r else r["verdict"],
                     "Holm p": "—" if r["reference"] or "p_holm" not in r else p_text(r["p_holm"]),
                     "McNemar": mcn})
    out = pd.DataFrame(rows)
    out.attrs.update({k: v for k, v in df.attrs.items() if k != "bold"})
    return out



def _diff_text(r: dict) -> str:
    if np.isfinite(r["diff_low"]):
        family = f" in `{r['study']}`" if r.get("reused") else ""
        holm_p = f"; Holm p {p_text(r['p_holm'])}{family}" if np.isfinite(r.get("p_holm", math.nan)) else ""
        return (f"{100 * r['diff_mean']:+.2f} [{100 * r['diff_low']:+.2f}, {100 * r['diff_high']:+.2f}], "
                f"{after_holm(r['verdict'], r.get('p_holm', math.nan))} (n={r['n']}{holm_p})")
    if r["diff_per_seed"]:
        return f"per seed: {', '.join(f'{100 * d:+.2f}' for d in r['diff_per_seed'])}; {r['verdict']} (n={r['n']})"
    return r["verdict"] or "—"


def format_cross(df: pd.DataFrame) -> pd.DataFrame:
    """One row per value of the cross's first parameter: the baseline's test accuracy, each other value's paired
    difference to it, and every cell's training accuracy and epochs."""
    if not len(df):
        return pd.DataFrame({"": ["(no cells)"]})
    row_name, col_name, base = df.attrs["row"], df.attrs["col"], df.attrs["baseline"]
    rows = []
    for value, cells in df.groupby(row_name, sort=False):
        cells = cells.to_dict("records")
        first = cells[0]
        out = {row_name: point_text(value),
               "training images": f"{int(first['images']):,}" if np.isfinite(first["images"]) else "—"}
        if df.attrs.get("studies"):  # rows reused from other studies name where they come from
            out["study"] = first.get("study") or df.attrs["studies"][0]
        steps = sorted({s for c in cells for s in c["steps"]})
        epochs = sorted({e for c in cells for e in c["epochs"]})
        if epochs and not (steps and steps[0]) and np.isfinite(first["images"]) and first.get("batch_size"):
            # an epoch budget, in the steps it made (the trainer drops the ragged last batch), to compare with a
            # step budget's rows
            per_epoch = int(first["images"]) // min(int(first["batch_size"]), int(first["images"]))
            out["training length"] = "/".join(f"{e} epochs = {e * per_epoch:,} steps" for e in epochs)
        else:
            out["training length"] = (f"{'/'.join(f'{s:,}' for s in steps)} steps = " if steps and steps[0]
                                      else "") + (f"{'/'.join(map(str, epochs))} epochs" if epochs else "—")
        for c in cells:
            label = f"{col_name} = {point_text(c[col_name])}"
            if c["baseline"]:
                test = fmt_pct(c["test_mean"], c["test_ci95"] if np.isfinite(c["test_ci95"]) else None, c["seeds"])
                out[f"{label}: test acc (%)"] = test
            else:
                out[f"{label} minus {point_text(base)} (points)"] = _diff_text(c)
        out["train acc (%)"] = "; ".join(
            f"{point_text(c[col_name])}: " + (f"{100 * c['train_acc_mean']:.1f}" if np.isfinite(c["train_acc_mean"])
                                        else "not recorded") for c in cells)
        rows.append(out)
    out = pd.DataFrame(rows)
    out.attrs.update(df.attrs)
    return out



def formatted_headline(table: pd.DataFrame) -> pd.DataFrame:
    def diff(r) -> str:
        if r.get("unpaired") is True and np.isfinite(r["diff_low"]):
            return f"{100 * r['diff_mean']:+.2f} [{100 * r['diff_low']:+.2f}, {100 * r['diff_high']:+.2f}] unpaired"
        if not r["diff_per_seed"]:
            return "—"
        if not np.isfinite(r["diff_low"]):
            return "per seed " + ", ".join(f"{100 * d:+.2f}" for d in r["diff_per_seed"])
        return f"{100 * r['diff_mean']:+.2f} [{100 * r['diff_low']:+.2f}, {100 * r['diff_high']:+.2f}]"

    return pd.DataFrame({
        "row": table["row"], "configuration": table["configuration"],
        "training images": [f"{n:,}" for n in table["training images"]], "epochs": table["epochs"],
        "val acc (%)": [fmt_pct(m, h) for m, h in zip(table["val_mean"], table["val_ci95"])],
        "test acc (%)": [fmt_pct(m, h, n) for m, h, n in zip(table["test_mean"], table["test_ci95"], table["seeds"])],
        "train acc (%)": [f"{100 * m:.1f}" if np.isfinite(m) else "—" for m in table["train_mean"]]
        if "train_mean" in table else "—",
        "wall time per run (s)": [_wall(w) for w in table["wall"]] if "wall" in table else "—",
        f"difference to {BASELINE} (points)": [diff(r) for r in table.to_dict("records")],
        "verdict": table["verdict"],
        "McNemar p (test images)": [_mcnemar_text(r) for r in table.to_dict("records")]})


def _mcnemar_text(r: dict) -> str:
    ps = r.get("mcnemar_p")
    if not isinstance(ps, list) or not ps:
        return "—"
    counts = r.get("mcnemar_counts") if isinstance(r.get("mcnemar_counts"), list) else [None] * len(ps)
    return ("per seed pair, i-th with i-th: " if r.get("mcnemar_by_order") is True else "per seed: ") + \
        ", ".join(p_text(p) + (f" ({c[0]:,} vs {c[1]:,})" if c else "") for p, c in zip(ps, counts))


def _wall(seconds: list[float]) -> str:
    if not seconds:
        return "—"
    return f"{np.median(seconds):,.0f} [{min(seconds):,.0f}, {max(seconds):,.0f}]"



def _interval(v: float, lo: float, hi: float, digits: int = 3) -> str:
    return f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]" if math.isfinite(v) else "—"


def _b_range(profile) -> str:
    """b over the floors of C_PROFILE, low to high: what an unidentified c leaves of b."""
    return (f"{profile[0]:.3f} to {profile[-1]:.3f} for c at {C_PROFILE[0]:.0%} to {C_PROFILE[-1]:.0%} of the "
            f"smallest error")


def formatted_scaling(table: pd.DataFrame) -> pd.DataFrame:
    """scaling_table as strings for the report and the docs; the pure law is shown where c is not identified."""
    rows = []
    for _, r in table.iterrows():
        fitted = math.isfinite(r["b"])
        rows.append({"axis": r["axis"], "points": int(r["points"]), "metric": r["metric"] or "—",
                     "b (95% CI)": _interval(r["b"], r["b_ci_low"], r["b_ci_high"]) if r["c_identified"] or
                     not fitted else f"not identified: {_b_range(r['b_profile'])}",
                     "refits": f"kept {int(r['refits_kept'])}/{int(r['refits_drawn'])}" if fitted else "—",
                     "a": f"{r['a']:.3g}" if fitted else "—",
                     "c (95% CI)": f"{_interval(r['c'], r['c_ci_low'], r['c_ci_high'], 4)}, {r['c_status']}"
                     if fitted else "—",
                     "pure law b, c = 0 (95% CI)": _interval(r["b_pure"], r["b_pure_low"], r["b_pure_high"])
                     if fitted and not r["c_identified"] else "—",
                     "reading": r["reading"]})
    out = pd.DataFrame(rows)
    out.attrs.update(table.attrs)
    return out


# ------------------------------------------------------------------ the main text's compact views


def short_verdict(text: str, p_holm: float = math.nan) -> str:
    """A verdict in one or two words: better, worse, inconclusive, no interval; 'not after Holm' where the family's
    adjustment does not keep it; 'other settings' where the two sides trained at different tuned settings."""
    t = str(text)
    if t.startswith(("reference", "baseline")):
        return t.split(" (")[0]
    word = ("better" if t.startswith("better") else "worse" if t.startswith("worse") else
            "inconclusive" if t.startswith("inconclusive") else "no interval" if t.startswith(("fewer", "its own"))
            else t)
    if word in ("better", "worse") and np.isfinite(p_holm) and p_holm >= 0.05:
        word += ", not after Holm"
    if "different settings" in t:
        word += ", other settings"
    return word


def _difference(mean: float, low: float, high: float, per_seed: list) -> str:
    if np.isfinite(low):
        return f"{100 * mean:+.2f} [{100 * low:+.2f}, {100 * high:+.2f}]"
    return ("per seed " + points_text(per_seed, signed=True)) if per_seed else "—"


def headline_levels(table: pd.DataFrame) -> pd.DataFrame:
    """The headline in four columns: row, test accuracy, difference to the CNN without augmentation, verdict."""
    return pd.DataFrame({
        "row": table["row"],
        "test acc (%)": [fmt_pct(m, h, n) for m, h, n in zip(table["test_mean"], table["test_ci95"], table["seeds"])],
        f"difference to {BASELINE} (points)": [
            "—" if r["row"] == BASELINE else
            _difference(r["diff_mean"], r["diff_low"], r["diff_high"], r["diff_per_seed"])
            + (" unpaired" if r.get("unpaired") is True else "") for r in table.to_dict("records")],
        "verdict": ["baseline" if r["row"] == BASELINE else short_verdict(r["verdict"])
                    for r in table.to_dict("records")]})


def paired_levels(df: pd.DataFrame) -> pd.DataFrame:
    """A confirmed table in six columns: value, seeds, validation, test, difference to the reference, verdict."""
    if not len(df):
        return pd.DataFrame({"": ["(no arms)"]})
    param = df.attrs["param"]
    rows = []
    for r in df.to_dict("records"):
        enough = r["seeds"] >= MIN_SEEDS_FOR_INTERVAL
        rows.append({param: format_value(r[param]) + (" (reference)" if r["reference"] else ""),
                     "seeds": int(r["seeds"]),
                     "val acc (%)": fmt_pct(r["val_mean"], r["val_ci95"] if enough else None),
                     "test acc (%)": fmt_pct(r["test_mean"], r["test_ci95"] if enough else None),
                     "difference to reference (points)": "—" if r["reference"] else
                     _difference(r["diff_mean"], r["diff_low"], r["diff_high"], r["diff_per_seed"]),
                     "verdict": "reference" if r["reference"] else short_verdict(r["verdict"], r.get("p_holm",
                                                                                                        math.nan))})
    out = pd.DataFrame(rows)
    out.attrs.update(param=param)
    return out


def cross_levels(df: pd.DataFrame) -> pd.DataFrame:
    """A confirmed cross, one row per value of its first parameter: the baseline's test accuracy and each other
    value's paired difference to it, with a short verdict."""
    if not len(df):
        return pd.DataFrame({"": ["(no cells)"]})
    row_name, col_name, base = df.attrs["row"], df.attrs["col"], df.attrs["baseline"]
    rows = []
    for value, cells in df.groupby(row_name, sort=False):
        out = {row_name: point_text(value)}
        first = cells.iloc[0]
        out["training images"] = f"{int(first['images']):,}" if np.isfinite(first["images"]) else "—"
        for c in cells.to_dict("records"):
            label = f"{col_name} = {point_text(c[col_name])}"
            if c["baseline"]:
                out[f"{label}: test acc (%)"] = fmt_pct(c["test_mean"], c["test_ci95"] if np.isfinite(c["test_ci95"])
                                                        else None, c["seeds"])
            else:
                out[f"{label} minus {point_text(base)} (points)"] = (
                    _difference(c["diff_mean"], c["diff_low"], c["diff_high"], c["diff_per_seed"])
                    + f", {short_verdict(c['verdict'], c.get('p_holm', math.nan))}")
        rows.append(out)
    return pd.DataFrame(rows)


def scaling_levels(table: pd.DataFrame) -> pd.DataFrame:
    """The confirmed rows of the scaling table: axis, points, b (only where c is identified), c's status, reading."""
    shown = formatted_scaling(table)
    keep = shown[shown["axis"].str.contains("confirmed")] if len(shown) else shown
    return keep[["axis", "points", "b (95% CI)", "c (95% CI)", "reading"]].reset_index(drop=True) if len(keep) \
        else keep


def power_table(comparisons: list) -> pd.DataFrame:
    """Each comparison's n, the spread of its paired differences, and the smallest effect its design detects
    (analysis.stats.power), beside its difference and verdict."""
    return pd.DataFrame([{
        "comparison": f"{c.arm} − {c.base}" + (f" ({c.images} images)" if c.images else ""),
        "n": c.n if c.paired else f"{c.n} a side",
        "difference (points)": _difference(c.diff, c.low, c.high, c.per_seed) if np.isfinite(c.diff) else "—",
        "s_d (points)": f"{100 * c.sd:.2f}" if np.isfinite(c.sd) else "— (unpaired)",
        "detectable (points)": f"{100 * c.detectable:.2f}" if np.isfinite(c.detectable) else "—",
        "verdict": short_verdict(c.verdict, c.p_holm)} for c in comparisons])


def space_table(study) -> pd.DataFrame:
    """The searched space from the study's stored definition: each parameter's role, kind, values and when it
    applies (what a reader needs to reproduce the search)."""
    rows = []
    for name, spec in study.specs.items():
        if spec.get("kind") == "categorical":
            values = ", ".join(format_value(c) for c in spec.get("choices") or [])
        else:
            values = f"[{format_value(spec.get('low'))}, {format_value(spec.get('high'))}]" + \
                     (", log scale" if spec.get("log") else "")
        when = "; ".join(f"{k} in {', '.join(map(str, v))}" for k, v in (spec.get("when") or {}).items()) or "always"
        rows.append({"parameter": name, "role": spec.get("role", "?"), "kind": spec.get("kind", "?"),
                     "values searched": values, "applies when": when})
    return pd.DataFrame(rows, columns=["parameter", "role", "kind", "values searched", "applies when"])
