"""The fidelity check on planted learning curves: rankings that cross between a rung and the last epoch must
give a low rank correlation and a warning; rankings that hold must not."""
from __future__ import annotations

import time

import numpy as np
import pytest

from analysis import load_study
from analysis.stats.fidelity import fidelity_warnings, rung_correlation
from tuning.fidelity import rungs, spearman_ci
from tuning.db import TrialDB

MAX_EPOCHS, GRACE, RF = 8, 2, 2


def plant(path, crossing: bool, calibration: int = 8, others: int = 4):
    """Calibration trials whose order at the rungs is the reverse of their final order (crossing) or the same;
    plus a few ASHA-stopped trials that must not enter the correlation."""
    db = TrialDB(f"sqlite:///{path}")
    db.upsert_study("s", space="planted", kind="deep", roles={"lr": "nuisance"},
                    budget={"name": "test", "max_epochs": MAX_EPOCHS, "grace_period": GRACE, "reduction_factor": RF},
                    search={"scheduler": "asha", "params": {}}, status="finished", created_at=time.time())
    for i in range(calibration + others):
        final = 0.80 + 0.01 * i
        start = 0.70 - 0.01 * i if crossing else 0.50 + 0.01 * i  # slow starters end best when crossing
        is_cal = i < calibration
        epochs = MAX_EPOCHS if is_cal else GRACE
        for e in range(1, epochs + 1):
            acc = start + (final - start) * (e - 1) / (MAX_EPOCHS - 1)
            db.upsert_epoch("s", f"t{i}", e, val_acc=acc, timestamp=time.time())
        db.upsert_trial("s", f"t{i}", params={"lr": 0.1}, status="completed" if is_cal else "early_stopped",
                        epochs=epochs, max_epochs=MAX_EPOCHS, calibration=is_cal, started_at=float(i),
                        last_val_acc=acc, best_val_acc=acc)
    return load_study(path)


def test_rungs_follow_asha():
    assert rungs({"grace_period": 2, "reduction_factor": 2, "max_epochs": 8}) == [2, 4]
    assert rungs({"grace_period": 1, "reduction_factor": 3, "max_epochs": 40}) == [1, 3, 9, 27]


def test_crossing_curves_give_a_low_correlation_and_a_warning(tmp_path):
    table = rung_correlation(plant(tmp_path / "x.db", crossing=True), n_boot=300)
    assert table["rung"].tolist() == [2, 4] and (table["calibration_trials"] == 8).all()
    assert table["spearman"].tolist() == pytest.approx([-1.0, -1.0])
    warnings = fidelity_warnings(table)
    assert len(warnings) == 2 and "unreliable" in warnings[0] and "--grace-period" in warnings[0]


def test_rankings_that_hold_give_no_warning(tmp_path):
    table = rung_correlation(plant(tmp_path / "y.db", crossing=False), n_boot=300)
    assert table["spearman"].tolist() == pytest.approx([1.0, 1.0]) and not fidelity_warnings(table)
    # only calibration trials count: the stopped ones (indices 8..11) are not in n
    assert (table["calibration_trials"] == 8).all()


def test_too_few_calibration_trials_is_said(tmp_path):
    table = rung_correlation(plant(tmp_path / "z.db", crossing=False, calibration=2), n_boot=100)
    assert all("unchecked" in w for w in fidelity_warnings(table)) and len(fidelity_warnings(table)) == 2


def test_bootstrap_interval_brackets_rho_and_reports_kept_resamples():
    rng = np.random.default_rng(1)
    x = rng.normal(size=30)
    y = x + rng.normal(scale=0.5, size=30)
    rho, lo, hi, kept = spearman_ci(x, y, n_boot=500)
    assert lo <= rho <= hi and 0.5 < rho < 1 and kept == 500
