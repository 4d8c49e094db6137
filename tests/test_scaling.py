import numpy as np
import pytest

import planted
from analysis import load_study
from analysis.scaling import fit_power_law, frontier, scaling_points, scaling_table, system_scaling
import pandas as pd


@pytest.mark.parametrize("a, b, c", [(2.0, 0.5, 0.05), (30.0, 0.35, 0.08), (500.0, 0.9, 0.02)])
def test_power_law_fit_recovers_planted_exponent(a, b, c):
    rng = np.random.default_rng(1)
    x = np.geomspace(1e3, 1e6, 9)
    y = (a * x ** -b + c) * (1 + rng.normal(0, 0.01, len(x)))
    fit = fit_power_law(x, y)
    assert fit.b == pytest.approx(b, abs=0.08)
    assert fit.b_low <= b <= fit.b_high and fit.b_high - fit.b_low < 0.3
    assert fit.c == pytest.approx(c, abs=0.02)
    assert fit.predict(x) == pytest.approx(y, rel=0.05)


def test_fit_needs_enough_points():
    with pytest.raises(ValueError, match="need at least 4 distinct x values, got 3"):
        fit_power_law([1, 2, 3], [0.3, 0.2, 0.15])


def test_compute_frontier_keeps_only_improvements():
    pts = pd.DataFrame({"train_flops": [1, 2, 3, 4], "error": [0.5, 0.6, 0.3, 0.35], "metric": "val"})
    assert frontier(pts, "train_flops")["error"].tolist() == [0.5, 0.3]


def test_scaling_from_a_study_with_planted_data_scaling(tmp_path):
    """Trials at 6 training-set sizes whose error follows a planted law: the table recovers the exponent."""
    from tuning.db import TrialDB

    db = TrialDB(f"sqlite:///{tmp_path / 's.db'}")
    db.upsert_study("s", space="scaling", roles={"data_fraction": "scientific"}, budget={"max_epochs": 2},
                    search={"params": {}})
    for i, frac in enumerate([1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0]):
        n = round(frac * 55000)
        for j, slack in enumerate((0.0, 0.02)):  # a tuned and an untuned trial at each size
            err = 5.0 * n ** -0.4 + 0.06 + slack
            db.upsert_trial("s", f"t{i}{j}", status="completed", epochs=2, last_val_acc=1 - err,
                            param_count=1000 * (i + 1), flops=1e6 * (i + 1), started_at=0, ended_at=1,
                            config={"model": "cnn", "data_fraction": frac, "val_size": 5000})
    study = load_study(tmp_path / "s.db")
    pts = scaling_points(study)
    assert sorted(pts["train_size"].unique()) == [round(f * 55000) for f in [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1]]
    table = scaling_table(study).set_index("axis")
    assert table.loc["training images", "b"] == pytest.approx(0.4, abs=0.03)
    assert table.loc["training images", "c"] == pytest.approx(0.06, abs=0.01)
    assert (table["metric"] == "val").all()


def test_system_scaling_reads_throughput(tmp_path):
    studies = []
    for workers, span in ((1, 100.0), (2, 50.0)):
        path = planted.build(tmp_path / f"w{workers}.db", name=f"w{workers}")
        from tuning.db import TrialDB

        db = TrialDB(f"sqlite:///{path}")
        db.upsert_study(f"w{workers}", search={"params": planted.SPECS, "max_concurrent": workers})
        s = load_study(path)
        # stretch the planted timestamps so the span is known
        ids = s.trials["trial_id"]
        for k, tid in enumerate(ids):
            db.upsert_trial(f"w{workers}", tid, started_at=0.0, ended_at=span * (k + 1) / len(ids), cpus=1.0,
                            wall_time=1.0)
        studies.append(load_study(path))
    table = system_scaling(studies)
    assert table["workers"].tolist() == [1, 2]
    assert table["speedup"].iloc[1] == pytest.approx(2.0)
    assert table["accelerator_hours"].iloc[0] == pytest.approx(len(studies[0].trials) / 3600)
