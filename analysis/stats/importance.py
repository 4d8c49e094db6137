"""Hyperparameter importance with Optuna's evaluators (PED-ANOVA and fANOVA), on full-budget trials only.

Optuna's own study holds ASHA-stopped trials as COMPLETE with low-budget values, which would mix budgets;
so an in-memory Optuna study is rebuilt from the trials that ran every epoch.
"""
from __future__ import annotations

import math

import optuna
import pandas as pd

from ..load import Study


def _distribution(spec: dict):
    if spec["kind"] == "categorical":
        return optuna.distributions.CategoricalDistribution(spec["choices"])
    if spec["kind"] == "int":
        return optuna.distributions.IntDistribution(int(spec["low"]), int(spec["high"]), log=spec["log"])
    return optuna.distributions.FloatDistribution(spec["low"], spec["high"], log=spec["log"])


def importance_of(study: Study, trials: pd.DataFrame, value: str, direction: str = "maximize") -> pd.DataFrame:
    """Normalized PED-ANOVA and fANOVA importance of every parameter that all `trials` have and that varied, from
    an in-memory Optuna study of those trials with their `value` column as the objective."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = [p for p in study.specs if ("p:" + p) in trials and trials["p:" + p].notna().all()
             and trials["p:" + p].nunique() > 1]
    if len(trials) < 4 or not names:
        return pd.DataFrame(columns=["param", "role", "ped_anova", "fanova"])
    dists = {p: _distribution(study.specs[p]) for p in names}
    s = optuna.create_study(direction=direction)
    s.add_trials([optuna.trial.create_trial(params={p: r["p:" + p] for p in names}, distributions=dists,
                                            value=float(r[value])) for _, r in trials.iterrows()])
    out = {}
    for label, evaluator in (("ped_anova", optuna.importance.PedAnovaImportanceEvaluator()),
                             ("fanova", optuna.importance.FanovaImportanceEvaluator(seed=0))):
        try:
            out[label] = optuna.importance.get_param_importances(s, evaluator=evaluator, params=names)
        except (ValueError, RuntimeError):  # too few trials for the evaluator's quantiles
            out[label] = {}
    df = pd.DataFrame({"param": names, "role": [study.roles.get(p, "nuisance") for p in names],
                       "ped_anova": [out["ped_anova"].get(p, math.nan) for p in names],
                       "fanova": [out["fanova"].get(p, math.nan) for p in names]})
    return df.sort_values("fanova", ascending=False).reset_index(drop=True)


def param_importance(study: Study) -> pd.DataFrame:
    """Importance over the full-budget trials of a ganrator study, on their last validation accuracy."""
    return importance_of(study, study.trials[study.trials["status"] == "completed"], "last_val_acc")
