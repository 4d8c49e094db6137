"""ASHA within models, gated by its measured fidelity (tuning/schedulers.py), driven with planted learning curves:
the decisions against Ray's own ASHAScheduler fed the same results, and a real Tuner.restore keeping the groups."""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from ray.tune import Callback
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from tuning.schedulers import GroupedASHA, SchedulerState

STOP, CONTINUE = TrialScheduler.STOP, TrialScheduler.CONTINUE
MAX_T, GRACE, RF = 8, 2, 2  # rungs at epochs 2 and 4


def trial(index: int, model: str) -> Trial:
    """A real (stub) Tune trial, created as the search creates its index-th one."""
    return Trial("planted", config={"model": model}, experiment_tag=f"{index}_model={model}", stub=True)


def grouped(calibration, rf: int = RF, grace: int = GRACE, max_t: int = MAX_T, groups=("mlp", "cnn")) -> GroupedASHA:
    return GroupedASHA(metric="val_acc", mode="max", max_t=max_t, grace_period=grace, reduction_factor=rf,
                       calibration=calibration, groups=groups, verbose=False)


def plain(rf: int = RF, grace: int = GRACE, max_t: int = MAX_T) -> ASHAScheduler:
    return ASHAScheduler(time_attr="training_iteration", metric="val_acc", mode="max", max_t=max_t,
                         grace_period=grace, reduction_factor=rf)


def run(scheduler, t: Trial, curve: dict[int, float]) -> list[tuple[int, str]]:
    """Feed a trial's curve epoch by epoch until the scheduler stops it, then complete it; the decisions."""
    scheduler.on_trial_add(None, t)
    out = []
    for epoch in sorted(curve):
        result = {"training_iteration": epoch, "val_acc": curve[epoch]}
        action = scheduler.on_trial_result(None, t, result)
        out.append((epoch, action))
        if action == STOP:
            break
    scheduler.on_trial_complete(None, t, result)
    return out


def calibration_curves(i: int, model: str) -> dict[int, float]:
    """The i-th calibration trial of a model (i = 0..3), the higher i the better it ends. An mlp ranks at epochs 2
    and 4 as at epoch 8; a cnn is a slow starter: at epoch 2 its order is reversed, at epoch 4 it holds."""
    final = 0.80 + 0.02 * i
    if model == "mlp":
        return {e: final - 0.02 * (MAX_T - e) for e in range(1, MAX_T + 1)}
    return {e: 0.63 - 0.01 * i if e == 2 else final - 0.03 * (MAX_T - e) for e in range(1, MAX_T + 1)}


def plant_calibration(*schedulers) -> None:
    """Calibration trials 1-8, an mlp and a cnn in turn (4 of each), fed to every scheduler in the same order."""
    for i in range(4):
        for k, model in enumerate(("mlp", "cnn")):
            for s in schedulers:
                run(s, trial(1 + 2 * i + k, model), calibration_curves(i, model))


def test_a_planted_slow_starter_is_kept_where_plain_asha_stops_it():
    ours, theirs = grouped(range(1, 9)), plain()
    plant_calibration(ours, theirs)
    d = ours.decisions
    assert d[("cnn", 2)]["stops"] is False and d[("cnn", 2)]["spearman"] == pytest.approx(-1.0)
    assert "below 0.5" in d[("cnn", 2)]["reason"] and d[("cnn", 2)]["calibration_trials"] == 4
    assert d[("cnn", 4)]["stops"] and d[("mlp", 2)]["stops"] and d[("mlp", 4)]["stops"]
    # A cnn that starts slowest of all and ends ahead: below every record at epoch 2, above its model's median at 4.
    slow = calibration_curves(3, "cnn") | {2: 0.55, 8: 0.90}
    assert run(theirs, trial(9, "cnn"), slow) == [(1, CONTINUE), (2, STOP)]  # plain ASHA: stopped at epoch 2
    assert run(ours, trial(9, "cnn"), slow) == [(e, CONTINUE) for e in range(1, MAX_T)] + [(MAX_T, STOP)]
    # Where a rung holds, it stops: an mlp below its model's records at epoch 2.
    weak = {e: 0.5 for e in range(1, MAX_T + 1)}
    assert run(ours, trial(10, "mlp"), weak) == [(1, CONTINUE), (2, STOP)]
    assert ours.num_stopped == 1


def test_an_mlp_never_stops_a_cnn():
    """Rungs are per model: at epoch 4 (a rung that holds for both models) a cnn below the median of all trials but
    above its own model's goes on; plain ASHA, comparing it with the mlps too, stops it."""
    ours, theirs = grouped(range(1, 9)), plain()
    plant_calibration(ours, theirs)
    curve = calibration_curves(1, "cnn") | {4: 0.715}  # cnn median at epoch 4: 0.71; all trials': 0.73
    assert run(ours, trial(9, "cnn"), curve)[-1] == (MAX_T, STOP)  # ran to the end
    assert run(theirs, trial(9, "cnn"), curve)[-1][0] < MAX_T


def test_nothing_stops_until_the_calibration_trials_have_ended():
    ours = grouped(range(1, 9))
    for i in range(4):  # calibration trials 1-7 end; trial 8 (a cnn) is still running
        for k, model in enumerate(("mlp", "cnn")):
            if 1 + 2 * i + k < 8:
                run(ours, trial(1 + 2 * i + k, model), calibration_curves(i, model))
    last = trial(8, "cnn")
    ours.on_trial_add(None, last)
    for e in (1, 2, 3):
        assert ours.on_trial_result(None, last, {"training_iteration": e, "val_acc": 0.6}) == CONTINUE
    weak = {e: 0.1 for e in range(1, MAX_T + 1)}
    assert run(ours, trial(9, "mlp"), weak)[-1] == (MAX_T, STOP)  # promoted at both rungs: nothing decided yet
    assert ours.decisions is None
    for e in range(4, MAX_T + 1):
        ours.on_trial_result(None, last, {"training_iteration": e, "val_acc": 0.9})
    ours.on_trial_complete(None, last, {})
    assert ours.decisions is not None and ours.decisions[("mlp", 2)]["stops"]
    assert run(ours, trial(10, "mlp"), weak) == [(1, CONTINUE), (2, STOP)]


def test_a_rung_stops_nothing_until_its_group_holds_rf_plus_one_results():
    """rf 4: 5 results before a trial may be stopped; 4 calibration trials leave the fifth trial promoted."""
    ours, theirs = grouped(range(1, 5), rf=4, grace=1, max_t=16, groups=("cnn",)), plain(rf=4, grace=1, max_t=16)
    for i in range(4):
        curve = {e: 0.80 + 0.02 * i for e in range(1, 17)}
        run(ours, trial(i + 1, "cnn"), curve)
        run(theirs, trial(i + 1, "cnn"), curve)
    assert ours.decisions[("cnn", 1)]["stops"] and ours.decisions[("cnn", 4)]["stops"]
    weak = {e: 0.5 for e in range(1, 17)}
    assert run(theirs, trial(5, "cnn"), weak) == [(1, STOP)]
    assert run(ours, trial(5, "cnn"), weak)[-1] == (16, STOP)  # 4 results before it at each rung, fewer than 5
    assert run(ours, trial(6, "cnn"), weak) == [(1, STOP)]  # 5 before it


def test_after_calibration_one_group_decides_as_rays_asha():
    """Ray's bracket is private, so its rule is written out here: once the calibration trials have ended and the
    rungs hold, the same results give the same decisions as Ray's ASHAScheduler (ray[tune]==2.60.0 is pinned)."""
    ours, theirs = grouped(range(1, 5), groups=("cnn",)), plain()
    for i in range(4):
        curve = {e: 0.5 + 0.05 * i + 0.01 * e for e in range(1, MAX_T + 1)}
        assert run(theirs, trial(i + 1, "cnn"), curve)[-1] == (MAX_T, STOP)
        run(ours, trial(i + 1, "cnn"), curve)
    assert all(ours.decisions[("cnn", r)]["stops"] for r in (2, 4))
    rng = np.random.default_rng(0)
    stopped = 0
    for index in range(5, 45):
        curve = dict(enumerate(np.sort(rng.uniform(0.4, 0.9, MAX_T)), start=1))
        mine, ray = run(ours, trial(index, "cnn"), curve), run(theirs, trial(index, "cnn"), curve)
        assert mine == ray, (index, mine, ray)
        stopped += mine[-1][0] < MAX_T
    assert 5 < stopped < 35  # both stopped some and promoted some


def test_state_round_trip_keeps_groups_and_decisions():
    ours = grouped(range(1, 9))
    plant_calibration(ours)
    fresh = grouped(range(1, 9))
    fresh.set_state(SchedulerState(ours).get_state())
    assert fresh.decisions == ours.decisions and fresh.recorded == ours.recorded
    weak = {e: 0.5 for e in range(1, MAX_T + 1)}
    assert run(fresh, trial(9, "mlp"), weak) == [(1, CONTINUE), (2, STOP)]


# -- a real Tuner.restore -------------------------------------------------------------------------------------------

STOP_AFTER = 8  # trials completed before the first session is stopped (SIGUSR1: Tune's stop hook)
SENT: list[int] = []


class StopOnce(Callback):
    """After STOP_AFTER trials have completed, stop the experiment as the driver's signal handler does, once (the
    copy of this callback that Tuner.restore unpickles sees SENT)."""

    def __init__(self):
        self.done = 0

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done += 1
        if self.done >= STOP_AFTER and not SENT:
            SENT.append(signal.SIGUSR1)
            os.kill(os.getpid(), signal.SIGUSR1)


def test_a_resumed_study_keeps_its_groups_and_its_decision(tmp_path):
    """Session one runs the 8 calibration trials and is stopped; the fidelity decision was made there. Session two
    (Tuner.restore, fresh objects unpickled from disk) has only the new trials' results of its own: a weak mlp is
    stopped at epoch 2 only if the records of session one and the decision came back, and a slow cnn is promoted."""
    import ray
    from ray import tune

    SENT.clear()
    curves = []
    for i in range(4):
        curves += [calibration_curves(i, "mlp"), calibration_curves(i, "cnn")]
    slow = calibration_curves(3, "cnn") | {2: 0.55, 8: 0.90}
    curves += [{e: 0.5 for e in range(1, MAX_T + 1)}, slow]
    models = ["mlp", "cnn"] * 4 + ["mlp", "cnn"]
    configs = [{"model": m, "curve": [c[e] for e in range(1, MAX_T + 1)]} for m, c in zip(models, curves)]

    def planted_trainable(config):  # nested, so Ray's workers get it by value (they cannot import this module)
        for e in range(1, MAX_T + 1):
            tune.report({"val_acc": config["curve"][e - 1], "epoch": e})

    space = {"case": tune.grid_search(list(range(len(configs)))),
             "model": tune.sample_from(lambda config: configs[config["case"]]["model"]),
             "curve": tune.sample_from(lambda config: configs[config["case"]]["curve"])}

    def scheduler():  # a grid (BasicVariantGenerator) numbers its trials from 0, a searcher from 1
        return GroupedASHA(metric="val_acc", mode="max", max_t=MAX_T, grace_period=GRACE, reduction_factor=RF,
                           calibration=range(0, 8), groups=("mlp", "cnn"))

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        s = scheduler()
        tuner = tune.Tuner(
            planted_trainable, param_space=space,
            tune_config=tune.TuneConfig(scheduler=s, max_concurrent_trials=1, reuse_actors=True),
            run_config=tune.RunConfig(name="resume", storage_path=str(tmp_path), verbose=0,
                                      callbacks=[SchedulerState(s), StopOnce()]))
        first = tuner.fit()
        assert SENT and s.decisions is not None and len(first) < len(configs), len(first)
        done_first = {r.config["case"] for r in first if r.metrics and r.metrics.get("training_iteration") == MAX_T}
        assert done_first >= set(range(8))  # the calibration trials ran in session one
        restored = tune.Tuner.restore(str(tmp_path / "resume"), trainable=planted_trainable, param_space=space,
                                      resume_unfinished=True)
        second = restored.fit()
    finally:
        ray.shutdown()
    epochs = {r.config["case"]: r.metrics["training_iteration"] for r in second}
    assert epochs[8] == 2, epochs  # the weak mlp: stopped against session one's mlp records, by its decision
    assert epochs[9] == MAX_T, epochs  # the slow cnn: promoted past epoch 2, where cnn rankings did not hold
