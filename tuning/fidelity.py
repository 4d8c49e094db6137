"""Can early stopping be trusted? The rank correlation between validation accuracy at each ASHA rung and at the
last epoch, measured on calibration trials that the scheduler recorded at every rung but never stopped.

Survivors alone would be a biased sample (ASHA removed the trials that ranked low early), so only calibration
trials are used. The interval is a percentile bootstrap over trials; resamples in which either side is constant
have no rank correlation and are dropped, and the table says how many were kept. Plain data in and out (no Ray):
the scheduler (tuning/schedulers.py) applies RULE per model through rung_decision once its calibration trials
have ended, and analysis.writeup.report shows the pooled table beside those decisions.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MIN_RHO = 0.5  # below this, a rung's ranking says little about the final one
MIN_TRIALS = 4  # fewer calibration trials than this give no usable correlation
# The rule ASHA follows (tuning/schedulers.py), per model and rung, once the calibration trials have ended.
RULE = (f"a rung stops trials of a model only where the Spearman rank correlation between validation accuracy at "
        f"that rung and at the last epoch, over that model's completed calibration trials, is at least {MIN_RHO} "
        f"with at least {MIN_TRIALS} trials; elsewhere every trial of the model is promoted past it")


def rungs(budget: dict) -> list[int]:
    """ASHA's milestones below the last epoch: grace period x reduction factor^k."""
    g, rf, top = int(budget.get("grace_period") or 1), int(budget.get("reduction_factor") or 2), \
        int(budget.get("max_epochs") or 1)
    out, r = [], g
    while r < top:
        out.append(r)
        r *= rf
    return out


def spearman_ci(x: np.ndarray, y: np.ndarray, n_boot: int = 2000, level: float = 0.95,
                seed: int = 0) -> tuple[float, float, float, int]:
    """Spearman's rho, its percentile-bootstrap interval and the number of resamples kept."""
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan, math.nan, 0
    from scipy import stats  # 0.5 s of import: the driver needs it only once its calibration trials end

    rho = float(stats.spearmanr(x, y).statistic)
    # All resamples at once: Spearman's rho is Pearson's r of the ranks (ties get their average rank).
    i = np.random.default_rng(seed).integers(0, len(x), (n_boot, len(x)))
    rx, ry = stats.rankdata(x[i], axis=1), stats.rankdata(y[i], axis=1)
    rx, ry = rx - rx.mean(1, keepdims=True), ry - ry.mean(1, keepdims=True)
    den = np.sqrt((rx ** 2).sum(1) * (ry ** 2).sum(1))
    ok = den > 0  # a resample with a constant side has no rank correlation
    if not ok.any():
        return rho, math.nan, math.nan, 0
    boots = (rx * ry).sum(1)[ok] / den[ok]
    lo, hi = np.percentile(boots, [50 * (1 - level), 50 * (1 + level)])
    return rho, float(lo), float(hi), int(ok.sum())


def rung_decision(at_rung: np.ndarray, final: np.ndarray, n_boot: int = 1000) -> dict:
    """Whether a rung may stop trials, by RULE, from one model's calibration trials (their validation accuracy at
    the rung and at the last epoch, paired): the numbers, the verdict `stops` and its reason in words."""
    at_rung, final = np.asarray(at_rung, float), np.asarray(final, float)
    n = len(at_rung)
    rho, lo, hi, _ = spearman_ci(at_rung, final, n_boot)
    if n < MIN_TRIALS:
        stops, reason = False, f"{n} calibration trial(s), fewer than {MIN_TRIALS}"
    elif not np.isfinite(rho):
        stops, reason = False, "no ranking: the accuracies at one epoch are all equal"
    elif rho < MIN_RHO:
        stops, reason = False, f"Spearman {rho:.2f} is below {MIN_RHO}"
    else:
        stops, reason = True, f"Spearman {rho:.2f} is at least {MIN_RHO}"
    return {"calibration_trials": n, "spearman": rho, "ci_low": lo, "ci_high": hi, "stops": stops, "reason": reason}


def decision_line(r: dict) -> str:
    """One decision of rung_decision (a ganrator_rung_decisions row) in words, for the driver's output."""
    rho, lo, hi = (r.get(k) for k in ("spearman", "ci_low", "ci_high"))
    fin = lambda v: v is not None and np.isfinite(v)  # noqa: E731
    corr = (f"Spearman {rho:.2f}" + (f" [{lo:.2f}, {hi:.2f}]" if fin(lo) and fin(hi) else "") if fin(rho)
            else "no rank correlation")
    verdict = "stops trials" if r["stops"] else "promotes every trial"
    return (f"{r['model']}, epoch {int(r['rung'])} against {int(r['last_epoch'])}: {corr} over "
            f"{int(r['calibration_trials'])} calibration trial(s): {verdict} ({r['reason']})")


def rung_correlation(trials: pd.DataFrame, epochs: pd.DataFrame, budget: dict, scheduler: str | None,
                     n_boot: int = 2000) -> pd.DataFrame:
    """One row per rung: calibration trials used (n), Spearman's rho with the last epoch and its interval.
    `trials` and `epochs` hold the rows of tuning.db's trials and epochs tables of one study."""
    import pandas as pd

    if scheduler != "asha" or "calibration" not in trials or not len(trials) or not len(epochs):
        return pd.DataFrame()
    last = int(budget.get("max_epochs") or 1)
    cal = trials[(trials["calibration"] == True) & (trials["status"] == "completed")]["trial_id"]  # noqa: E712
    e = epochs[epochs["trial_id"].isin(cal)]
    final = e[e["epoch"] == last].set_index("trial_id")["val_acc"]
    rows = []
    for r in rungs(budget):
        at = e[e["epoch"] == r].set_index("trial_id")["val_acc"]
        both = at.index.intersection(final.index)
        rho, lo, hi, kept = spearman_ci(at[both].to_numpy(float), final[both].to_numpy(float), n_boot)
        rows.append({"rung": r, "last_epoch": last, "calibration_trials": len(both), "spearman": rho,
                     "ci_low": lo, "ci_high": hi, "bootstrap_kept": kept, "bootstrap_total": n_boot})
    out = pd.DataFrame(rows)
    out.attrs.update(title="Fidelity of early stopping", note=(
        f"Spearman rank correlation between validation accuracy at each ASHA rung and at epoch {last}, over the "
        f"calibration trials (recorded at every rung, never stopped; {len(cal)} completed), with a 95% "
        f"percentile-bootstrap interval over trials. Below {MIN_RHO}, the rung's ranking says little about the "
        f"final one."))
    return out


def fidelity_warnings(table: pd.DataFrame) -> list[str]:
    """What a reader must be told: a low correlation, or too few calibration trials to measure it."""
    out = []
    for r in table.astype({"rung": int, "last_epoch": int, "calibration_trials": int}).to_dict("records"):
        if r["calibration_trials"] < MIN_TRIALS or not np.isfinite(r["spearman"]):
            out.append(f"early stopping at epoch {r['rung']} is unchecked: {r['calibration_trials']} calibration "
                       f"trial(s) with a usable ranking, want at least {MIN_TRIALS} (raise the budget's "
                       f"calibration_trials)")
        elif r["spearman"] < MIN_RHO:
            out.append(f"early stopping at epoch {r['rung']} is unreliable: rank correlation with epoch "
                       f"{r['last_epoch']} is {r['spearman']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}] over "
                       f"{r['calibration_trials']} calibration trials (below {MIN_RHO}); use a larger "
                       f"--grace-period, or --scheduler fifo, and trust only the confirmation stage")
    return out
