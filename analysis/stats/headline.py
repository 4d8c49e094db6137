"""The headline: the best classical pipeline against deep networks with and without augmentation, at equal data.

Deep rows come from a study's confirmation stage (every arm retrained without early stopping on the same fresh
seeds), so they pair seed by seed: each is compared with the CNN without augmentation by its paired t-interval.
The augmented CNN's strength is the one whose confirmed runs are best on validation. The classical row is the
classical study's best configuration on validation, tested over its own final-evaluation seeds; seeds do not
pair across families, so it stands by its own interval. Rows of different training-set sizes never share a table.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from tuning.budgets import BUDGETS
from tuning.db import unpack_mask

from ..load import Study, load_confirmation
from ..present.text import fmt_pct, format_value
from ..present.words import words
from .intervals import FITTED, mean_ci
from .paired import MIN_SEEDS_FOR_INTERVAL, mcnemar_exact, paired_difference
from .scaling import train_size
from .search import main_comparison


BASELINE = "CNN without augmentation"


TEMPLATE = "headline.md.j2"  # the words of the table's note
N_TEST = 10_000  # Fashion-MNIST's test images, in the order every stored correctness mask follows


class HeadlineError(ValueError):
    """The studies cannot give an equal-data headline; the message says why."""


def _deep_configs(study: Study) -> pd.DataFrame:
    """One row per confirmed configuration: its config and its runs by seed."""
    _, runs = load_confirmation(study)
    if not len(runs):
        raise HeadlineError(f"study {study.name!r} has no confirmation runs (run it with --confirm)")
    runs = runs[runs["test_acc"].notna() & (runs["status"] != "errored")]
    rows = []
    for key, grp in runs.groupby("arm_key", sort=False):
        cfg = grp["config"].iloc[0] if isinstance(grp["config"].iloc[0], dict) else {}
        rows.append({"arm_key": key, "model": cfg.get("model"), "aug_strength": float(cfg.get("aug_strength", 0.0)),
                     "epochs": cfg.get("epochs"), "data_fraction": cfg.get("data_fraction"),
                     "val_size": cfg.get("val_size"), "runs": grp.set_index("seed").sort_index()})
    return pd.DataFrame(rows)


def _row(name: str, config: str, images: int, epochs: str, runs: pd.DataFrame, family: str) -> dict:
    test, test_half, n = mean_ci(runs["test_acc"])
    val, val_half, _ = mean_ci(runs["val_acc"])
    train = [float(v) for v in runs["train_acc"].dropna()] if "train_acc" in runs else []
    configs = [c for c in runs["config"] if isinstance(c, dict)] if "config" in runs else []
    return {"row": name, "configuration": config, "family": family, "training images": images, "epochs": epochs,
            "seeds": n, "val_mean": val, "val_ci95": val_half if n >= MIN_SEEDS_FOR_INTERVAL else math.nan,
            "test_mean": test,
            "test_ci95": test_half if n >= MIN_SEEDS_FOR_INTERVAL else math.nan,
            "train_mean": float(np.mean(train)) if train else math.nan,
            "test_per_seed": list(runs["test_acc"]), "diff_mean": math.nan, "diff_low": math.nan,
            "diff_high": math.nan, "diff_per_seed": [], "verdict": "",
            "wall": [float(w) for w in runs.get("wall_time", pd.Series(dtype=float)).dropna()], "mcnemar_p": [],
            "config": _shared_config(configs)}


def _shared_config(configs: list[dict]) -> dict:
    """The runs' common config, the seed aside; a setting that differs between them says so."""
    shared = {k: v for k, v in configs[0].items() if k != "seed"} if configs else {}
    for c in configs[1:]:
        for k, v in shared.items():
            if c.get(k) != v:
                shared[k] = "varies over seeds"
    return shared


def configuration_tables(table: pd.DataFrame) -> list[pd.DataFrame]:
    """Every stored setting of each row's runs (the seed aside), one table per family: settings as rows, the
    headline's rows as columns; a classical row lists only its own classifier's settings."""
    from ganrator.classical import used_settings

    out = []
    for family in dict.fromkeys(table["family"]):
        rows = table[table["family"] == family]
        spell = used_settings if family == "classical" else _with_model_defaults
        configs = {r["row"]: spell(r["config"]) for r in rows.to_dict("records") if r.get("config")}
        if not configs:
            continue
        keys = list(dict.fromkeys(k for c in configs.values() for k in c))
        out.append(pd.DataFrame([{"setting": k, **{name: format_value(c[k]) if k in c else "—"
                                                   for name, c in configs.items()}} for k in keys]))
    return out


def _with_model_defaults(config: dict) -> dict:
    """A deep config with its model's arguments spelled out (`cnn.width`), the registry's defaults filled in: an
    empty model_kwargs would hide the architecture."""
    from ganrator.models import list_models, model_kwargs, settable_kwargs

    model, given = config.get("model"), config.get("model_kwargs") or {}
    if model not in list_models():
        return config
    settable = settable_kwargs(model)  # the registry's rule: all but what the data decides
    args = {f"{model}.{k}": given.get(k, v) for k, v in model_kwargs(model).items() if k in settable}
    at = "model_kwargs" if "model_kwargs" in config else "model"  # where the arguments go: in its place, or next
    out = {}
    for k, v in config.items():
        if k != "model_kwargs":
            out[k] = v
        if k == at:
            out.update(args)
    return out


def _mcnemar(row: dict, runs: pd.DataFrame, base: pd.DataFrame, by_order: bool = False) -> dict:
    """McNemar's exact p between a run of the row and a run of the baseline on the 10,000 test images: seed by
    seed, or (by_order: a classical row, whose seeds do not pair) its i-th seed against the baseline's i-th. Rows
    whose runs stored no per-image correctness get none."""
    if "test_correct" not in runs or "test_correct" not in base:
        return row
    pairs = list(zip(runs["test_correct"], base["test_correct"])) if by_order else \
        [(runs.at[s, "test_correct"], base.at[s, "test_correct"]) for s in runs.index if s in base.index]
    if pairs and all(isinstance(a, str) and isinstance(b, str) for a, b in pairs):
        masks = [(unpack_mask(a, N_TEST), unpack_mask(b, N_TEST)) for a, b in pairs]
        row["mcnemar_p"] = [mcnemar_exact(a, b) for a, b in masks]
        # the discordant images, which way: only this row right, only the baseline right
        row["mcnemar_counts"] = [(int((a & ~b).sum()), int((~a & b).sum())) for a, b in masks]
        row["mcnemar_by_order"] = by_order
    return row


def _paired(row: dict, runs: pd.DataFrame, base: pd.DataFrame) -> dict:
    diff = paired_difference(runs, base)
    diff.pop("common")
    row.update(diff, verdict=diff["verdict"].replace("the reference", "the " + BASELINE))
    return _mcnemar(row, runs, base)


def _classical_row(study: Study) -> tuple[dict, float]:
    table = main_comparison(study)
    tested = table[table["test_n"] > 0] if len(table) else table
    if not len(tested):
        raise HeadlineError(f"classical study {study.name!r} has no final evaluation (run it with --final-eval 1)")
    best = tested.loc[tested["best_val_full"].idxmax()]
    finals = study.finals[(study.finals["trial_id"] == best["test_trial"]) & study.finals["test_acc"].notna()]
    trial = study.trials.set_index("trial_id").loc[best["test_trial"]]
    values = {p: trial[f"p:{p}"] for p in study.params if f"p:{p}" in trial}
    config = ", ".join(f"{p} {format_value(v)}" for p, v in values.items()
                       if not (isinstance(v, float) and math.isnan(v)))
    fraction = float((study.meta.get("budget") or {}).get("data_fraction", 1.0))
    val_size = (study.meta.get("budget") or {}).get("val_size") or 5000
    images = train_size({"data_fraction": fraction, "val_size": val_size})
    runs = finals.set_index("seed").sort_index()
    row = _row("best classical pipeline", f"{best['model']}: {config} (trial {best['test_trial']})", images,
               "one fit", runs, "classical")
    row["_runs"] = runs  # for McNemar against the CNN's runs, taken out again by headline_table
    asked = int(((study.meta.get("budget") or {}).get("num_samples")) or len(study.trials))
    preset = BUDGETS.get((study.meta.get("budget") or {}).get("name"))
    classifiers = sorted({c.get("classifier") for c in study.trials["config"]
                          if isinstance(c, dict) and c.get("classifier")})
    row["tuning"] = (f"`{study.name}` chose it among {len(study.trials)} trials "
                     f"({_distinct_configs(study)} distinct configurations) on validation"
                     + (f", searching the {classifiers[0]} classifier only" if len(classifiers) == 1 else
                        f", searching the classifiers {', '.join(classifiers)}" if classifiers else "")
                     + (f", a small search: its `{preset.name}` preset asks {preset.num_samples:,}"
                        if preset is not None and preset.num_samples > asked else ""))
    return row, fraction


def _distinct_configs(study: Study) -> int:
    params = [c for c in study.trials.columns if c.startswith("p:")]
    return len(study.trials[params].astype(str).drop_duplicates()) if params else len(study.trials)


def _unpaired(row: dict, runs: pd.Series, base: pd.Series) -> dict:
    """The classical row against the CNN without augmentation: a Welch interval of the difference of means, since
    seeds do not pair across families (a classical seed sets the pipeline's own random state, not the data)."""
    a, b = np.asarray(runs, dtype=float), np.asarray(base, dtype=float)
    if min(len(a), len(b)) < MIN_SEEDS_FOR_INTERVAL:
        row["verdict"] = "its own interval (fewer than 3 seeds on a side: no unpaired interval)"
        return row
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff, se = a.mean() - b.mean(), math.sqrt(va + vb)
    dof = (va + vb) ** 2 / ((va ** 2 / (len(a) - 1) if va else 0) + (vb ** 2 / (len(b) - 1) if vb else 0)) \
        if va + vb > 0 else len(a) + len(b) - 2
    half = stats.t.ppf(0.975, dof) * se
    row.update(diff_mean=diff, diff_low=diff - half, diff_high=diff + half, unpaired=True, diff_se=se, diff_df=dof,
               verdict=("inconclusive" if diff - half <= 0 <= diff + half else
                        f"{'better' if diff > 0 else 'worse'} than the {BASELINE}") + " (unpaired: Welch interval)")
    return row


def headline_table(deep: Study, classical: Study | None) -> pd.DataFrame:
    """Rows: the best classical pipeline, the CNN without augmentation, the CNN with the augmentation strength
    that is best on validation, and an MLP; deep rows with their paired difference to the CNN without
    augmentation. Raises HeadlineError when a row is missing or the training sets differ in size."""
    configs = _deep_configs(deep)
    fractions = set(configs["data_fraction"])
    if len(fractions) != 1:
        raise HeadlineError(f"study {deep.name!r} confirmed arms on different data fractions {sorted(fractions)}")
    fraction = fractions.pop()
    cnn = configs[configs["model"] == "cnn"]
    base = cnn[cnn["aug_strength"] == 0.0]
    augmented = cnn[cnn["aug_strength"] > 0.0]
    if not len(base) or not len(augmented):
        raise HeadlineError(f"study {deep.name!r} confirmed no CNN both with and without augmentation (its search's "
                            f"reference decides which model the augmentation arms use)")
    val_means = [mean_ci(r["val_acc"])[0] for r in augmented["runs"]]
    chosen = augmented.iloc[int(np.nanargmax(val_means))]
    strengths = ", ".join(f"{a:g}" for a in sorted(augmented["aug_strength"]))
    images = train_size({"data_fraction": fraction, "val_size": base["val_size"].iloc[0] or 5000})
    epochs = f"{int(base['epochs'].iloc[0])} epochs"
    b = base.iloc[0]
    rows = [_row(BASELINE, "cnn, aug_strength 0", images, epochs, b["runs"], "deep")]
    rows[0]["verdict"] = "baseline of the paired differences"
    rows.append(_paired(_row("CNN with augmentation", f"cnn, aug_strength {chosen['aug_strength']:g} (best on "
                                                      f"validation of {strengths})", images, epochs,
                             chosen["runs"], "deep"), chosen["runs"], b["runs"]))
    for _, m in configs[configs["model"] == "mlp"].iterrows():
        rows.append(_paired(_row("MLP", f"mlp, aug_strength {m['aug_strength']:g}", images, epochs, m["runs"],
                                 "deep"), m["runs"], b["runs"]))
    if classical is not None:
        row, c_fraction = _classical_row(classical)
        if row["training images"] != images:
            raise HeadlineError(f"classical study {classical.name!r} trained on {row['training images']:,} images "
                                f"(data fraction {c_fraction:g}), the deep study {deep.name!r} on {images:,}: a "
                                f"headline never compares unequal data")
        rows.insert(0, _mcnemar(_unpaired(row, row["test_per_seed"], b["runs"]["test_acc"]), row.pop("_runs"),
                                b["runs"], by_order=True))
    out = pd.DataFrame(rows)
    search = deep.meta.get("budget") or {}
    out.attrs.update(
        fraction=fraction, images=images, epochs=epochs,
        seeds=sorted(int(s) for s in b["runs"].index),
        note=(words(TEMPLATE, "note", images=images, fraction=fraction, deep=deep.name, epochs=epochs,
                    baseline=BASELINE, trials=len(deep.trials), configs=_distinct_configs(deep),
                    scientific=deep.scientific(), nuisance=deep.nuisance(),
                    search_fraction=float(search.get("data_fraction", 1.0)), search_epochs=search.get("max_epochs"),
                    classical=rows[0]["tuning"] if classical is not None else None, seeds=len(b["runs"]),
                    n_test=N_TEST) + " " + _compute_note(deep, classical) + " " + _fit_note(rows)),
        reading=_reading(rows))
    return out


def _compute_note(deep: Study, classical: Study | None) -> str:
    """What the wall-time column measured, from each study's stored set-up."""
    def where(study: Study) -> str:
        search, hw = study.meta.get("search") or {}, study.meta.get("hardware") or {}
        return (f"{float(search.get('cpus_per_trial') or 1):g} CPU per run, up to "
                f"{search.get('max_concurrent', '?')} runs at once on {hw.get('cpus', 0):g} CPUs")
    studies = [(deep, "deep")] + ([(classical, "classical")] if classical is not None else [])
    return words(TEMPLATE, "compute", studies=[(kind, where(s)) for s, kind in studies])


def _fit_note(rows: list[dict]) -> str:
    """Which rows' runs ended short of fitting their training images: a difference to them holds at this length."""
    measured = [r for r in rows if np.isfinite(r["train_mean"])]
    if not measured:
        return ""
    short = [r for r in measured if r["train_mean"] < FITTED]
    return words(TEMPLATE, "fit", threshold=100 * FITTED, short=[(r["row"], 100 * r["train_mean"]) for r in short],
                 length=short[0]["epochs"] if short else None)


def _reading(rows: list[dict]) -> str:
    """The table in one sentence: each row's difference to the CNN without augmentation and its verdict."""
    base = next(r for r in rows if r["row"] == BASELINE)
    parts = [f"the {r['row']} {100 * r['diff_mean']:+.2f} points [{100 * r['diff_low']:+.2f}, "
             f"{100 * r['diff_high']:+.2f}] ({r['verdict']})" for r in rows
             if r is not base and np.isfinite(r["diff_low"])]
    return (f"Reading: against the {BASELINE} ({fmt_pct(base['test_mean'], base['test_ci95'], base['seeds'])} "
            f"test), " + "; ".join(parts) + ".") if parts else ""

