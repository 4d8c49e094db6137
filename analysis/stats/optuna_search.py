"""A plain Optuna study's trials (see analysis.load.optuna_study), ranked in the study's own direction: the best
trials, isolation of the parameters marked scientific, importance. Only COMPLETE trials are ranked (a pruned
trial's last value is not final)."""
from __future__ import annotations

import math

import pandas as pd

from ..load import Study
from .importance import importance_of
from .intervals import bucketize, sort_key


def _minimize(study: Study) -> bool:
    return study.meta.get("direction") == "minimize"


def _metric(study: Study) -> str:
    return study.meta.get("metric") or "objective"


def ranked(study: Study) -> pd.DataFrame:
    """Completed trials, best first in the study's direction (ties: the earlier trial)."""
    done = study.trials[(study.trials["status"] == "completed") & study.trials["value"].notna()]
    return done.sort_values(["value", "number"], ascending=[_minimize(study), True], kind="stable")


def best_trials(study: Study, k: int = 10) -> pd.DataFrame:
    top = ranked(study).head(k)
    out = pd.DataFrame({"rank": range(1, len(top) + 1), "trial": top["number"].to_numpy(),
                        _metric(study): top["value"].to_numpy()})
    for p in study.params:
        out[p] = top["p:" + p].to_numpy()
    out.attrs["best"] = [(0, _metric(study))] if len(out) else []
    return out


def isolation_table(study: Study, param: str, bins: int = 4) -> pd.DataFrame:
    """One row per value (bucket) of `param`: the best completed trial over all the other parameters."""
    t = study.trials[study.trials["p:" + param].notna()].copy()
    t["bucket"] = bucketize(t["p:" + param], study.specs.get(param), bins) if len(t) else []
    rows = []
    for value, grp in t.groupby("bucket", sort=False):
        done = grp[(grp["status"] == "completed") & grp["value"].notna()]
        best = done.sort_values("value", ascending=_minimize(study)).iloc[0] if len(done) else None
        rows.append({param: value, "trials": len(grp), "completed": len(done),
                     "pruned": int((grp["status"] == "early_stopped").sum()),
                     "failed": int((grp["status"] == "errored").sum()),
                     f"best {_metric(study)}": best["value"] if best is not None else math.nan,
                     "best trial": int(best["number"]) if best is not None else None})
    out = pd.DataFrame(rows, columns=[param, "trials", "completed", "pruned", "failed", f"best {_metric(study)}",
                                      "best trial"])
    out = out.sort_values(param, key=lambda s: s.map(sort_key)).reset_index(drop=True)
    col = out[f"best {_metric(study)}"]
    if col.notna().any():
        out.attrs["best"] = [(int(col.idxmin() if _minimize(study) else col.idxmax()), col.name)]
    return out


def importance(study: Study) -> pd.DataFrame:
    """PED-ANOVA and fANOVA (Optuna's evaluators, normalized) over the completed trials, in the study's direction,
    for the parameters every completed trial has and that varied."""
    return importance_of(study, ranked(study), "value", study.meta.get("direction", "maximize"))

