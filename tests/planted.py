"""Trial databases with known, planted effects, written through the real TrialDB (SQLite)."""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from analysis.stats.scaling import model_params
from tuning.db import TrialDB

AUG = [0.0, 0.5, 1.0]
OPTIMIZERS = ["sgd", "adam"]
LRS = [0.003, 0.01, 0.03, 0.1]  # optimum planted at 0.03
MAX_EPOCHS = 4

SPECS = {
    "aug_strength": {"role": "scientific", "kind": "categorical", "low": None, "high": None, "log": False,
                     "choices": AUG, "when": {}},
    "optimizer": {"role": "scientific", "kind": "categorical", "low": None, "high": None, "log": False,
                  "choices": OPTIMIZERS, "when": {}},
    "lr": {"role": "nuisance", "kind": "float", "low": 0.001, "high": 0.3, "log": True, "choices": [], "when": {}},
}


def planted_acc(aug: float, optimizer: str, lr: float) -> float:
    """Accuracy rises with augmentation strength (+4 points per unit); the optimizer has no effect."""
    return 0.85 + 0.04 * aug - 0.03 * abs(math.log10(lr) - math.log10(0.03))


def build(path: Path, name: str = "planted", diverged: int = 1, early_stopped: int = 3) -> Path:
    db = TrialDB(f"sqlite:///{path}")
    roles = {k: s["role"] for k, s in SPECS.items()}
    db.upsert_study(name, space="planted", kind="deep", description="planted effects", roles=roles,
                    budget={"name": "test", "num_samples": 0, "max_epochs": MAX_EPOCHS, "grace_period": 1,
                            "reduction_factor": 2, "data_fraction": 0.1, "val_size": 5000},
                    search={"sampler": "tpe", "scheduler": "asha", "seed": 0, "params": SPECS, "fixed": {"model": "cnn"},
                            "cpus_per_trial": 1, "gpus_per_trial": 0, "max_concurrent": 2},
                    hardware={"nodes": 1, "cpus": 2, "gpus": 0}, versions={"torch": "x"}, git_commit="abc",
                    command="planted", status="finished", created_at=time.time())
    t0, i = 1_000_000.0, 0
    for aug in AUG:
        for opt in OPTIMIZERS:
            for lr in LRS:
                final = planted_acc(aug, opt, lr)
                tid = f"t{i:03d}"
                status, epochs = "completed", MAX_EPOCHS
                if i < early_stopped * 5 and i % 5 == 4:  # a few weak trials stopped by "ASHA" at rung 1
                    status, epochs = "early_stopped", 1
                curve = [final - 0.02 * (MAX_EPOCHS - e) for e in range(1, epochs + 1)]
                if status == "early_stopped":
                    curve = [c - 0.05 for c in curve]
                for e, acc in enumerate(curve, 1):
                    db.upsert_epoch(name, tid, e, val_acc=acc, train_loss=1 - acc, val_loss=1 - acc, lr=lr,
                                    epoch_seconds=1.0, images_per_second=1000.0, timestamp=t0 + i * 10 + e)
                db.upsert_trial(name, tid, params={"aug_strength": aug, "optimizer": opt, "lr": lr},
                                roles=roles, config={"model": "cnn", "aug_strength": aug, "optimizer": opt, "lr": lr},
                                status=status, epochs=epochs, max_epochs=MAX_EPOCHS,
                                rung=epochs if status == "early_stopped" else None,
                                best_val_acc=max(curve), last_val_acc=curve[-1], param_count=1000, flops=1e6,
                                started_at=t0 + i * 10, ended_at=t0 + i * 10 + epochs, node="n1", seed=0)
                i += 1
    for d in range(diverged):
        tid = f"div{d}"
        db.upsert_epoch(name, tid, 1, val_acc=0.0, train_loss=1e6, val_loss=1e6, timestamp=t0 + 900 + d)
        db.upsert_trial(name, tid, params={"aug_strength": 1.0, "optimizer": "sgd", "lr": 0.29}, roles=roles,
                        status="diverged", epochs=1, max_epochs=MAX_EPOCHS, best_val_acc=0.0, last_val_acc=0.0,
                        started_at=t0 + 900 + d, ended_at=t0 + 901 + d)
    # final evaluation of the best trial per augmentation value: 3 seeds
    for aug in AUG:
        best_lr_trials = [f"t{j:03d}" for j in range(i) if AUG[j // 8] == aug and LRS[j % 4] == 0.03
                          and OPTIMIZERS[(j // 4) % 2] == "sgd"]
        for seed, delta in enumerate((-0.004, -0.002, -0.006)):
            db.upsert_final_eval(name, best_lr_trials[0], seed, rank=1, status="completed", epochs=MAX_EPOCHS,
                                 val_acc=planted_acc(aug, "sgd", 0.03), test_acc=planted_acc(aug, "sgd", 0.03) + delta)
    return path


# A study where the globally best trial is an MLP without augmentation, but among the CNNs augmentation wins.
# cnn.width is scientific and conditional (only for model = cnn); width 64 was tried only without augmentation.
CONDITIONED_SPECS = {
    "model": {"role": "scientific", "kind": "categorical", "low": None, "high": None, "log": False,
              "choices": ["mlp", "cnn"], "when": {}},
    "aug_strength": {"role": "scientific", "kind": "categorical", "low": None, "high": None, "log": False,
                     "choices": [0.0, 1.0], "when": {}},
    "cnn.width": {"role": "scientific", "kind": "categorical", "low": None, "high": None, "log": False,
                  "choices": [16, 32, 64], "when": {"model": ["cnn"]}},
    "lr": {"role": "nuisance", "kind": "float", "low": 0.001, "high": 0.3, "log": True, "choices": [], "when": {}},
}
# best validation accuracy of each (model, aug_strength, cnn.width) cell, reached at lr 0.01; lr 0.1 is 3 points worse
CONDITIONED_CELLS = {("mlp", 0.0, None): 0.90, ("mlp", 1.0, None): 0.87,
                     ("cnn", 0.0, 16): 0.85, ("cnn", 0.0, 32): 0.86, ("cnn", 0.0, 64): 0.84,
                     ("cnn", 1.0, 16): 0.88, ("cnn", 1.0, 32): 0.89}
# final-evaluation test accuracy per seed: the MLP without augmentation wins on validation, the one with
# augmentation has the higher test mean (and an interval that would reach past 100% if not cut)
CONDITIONED_FINALS = {("mlp", 0.0, None): [0.880, 0.882], ("mlp", 1.0, None): [0.999, 0.950]}


def conditioned_trial_id(model: str, aug: float, width: int | None, lr: float) -> str:
    return f"{model}-a{aug:g}-w{width or 0}-lr{lr:g}"


def build_conditioned(path: Path, name: str = "conditioned") -> Path:
    db = TrialDB(f"sqlite:///{path}")
    roles = {k: s["role"] for k, s in CONDITIONED_SPECS.items()}
    db.upsert_study(name, space="planted", kind="deep", description="conditioned ablation", roles=roles,
                    budget={"name": "test", "num_samples": 0, "max_epochs": 2, "grace_period": 1,
                            "reduction_factor": 2, "data_fraction": 0.1, "val_size": 5000},
                    search={"sampler": "tpe", "scheduler": "asha", "seed": 0, "params": CONDITIONED_SPECS,
                            "fixed": {}, "cpus_per_trial": 1, "gpus_per_trial": 0, "max_concurrent": 2},
                    hardware={"nodes": 1, "cpus": 2, "gpus": 0}, versions={"torch": "x"}, git_commit="abc",
                    command="planted", status="finished", created_at=time.time())
    t0 = 1_000_000.0
    runs = [(cell, lr, acc - (0.03 if lr == 0.1 else 0.0), 2) for cell, acc in CONDITIONED_CELLS.items()
            for lr in (0.01, 0.1)]
    runs.append((("cnn", 1.0, 32), 0.3, 0.91, 1))  # stopped at the first rung, above every full-budget trial
    for i, ((model, aug, width), lr, final, epochs) in enumerate(runs):
        tid = conditioned_trial_id(model, aug, width, lr)
        params = {"model": model, "aug_strength": aug, "lr": lr, **({"cnn.width": width} if width else {})}
        curve = [final] if epochs == 1 else [final - 0.05, final]
        for e, acc in enumerate(curve, 1):
            db.upsert_epoch(name, tid, e, val_acc=acc, train_loss=1 - acc, val_loss=1 - acc, lr=lr,
                            epoch_seconds=1.0, images_per_second=1000.0, timestamp=t0 + i * 10 + e)
        db.upsert_trial(name, tid, params=params, roles=roles, config=dict(params),
                        status="completed" if epochs == 2 else "early_stopped", epochs=epochs, max_epochs=2,
                        rung=1 if epochs == 1 else None, best_val_acc=max(curve), last_val_acc=curve[-1],
                        param_count=1000, flops=1e6, started_at=t0 + i * 10, ended_at=t0 + i * 10 + epochs,
                        node="n1", seed=0)
    for (model, aug, width), tests in CONDITIONED_FINALS.items():
        for seed, test in enumerate(tests):
            db.upsert_final_eval(name, conditioned_trial_id(model, aug, width, 0.01), seed, rank=1,
                                 status="completed", epochs=2, val_acc=CONDITIONED_CELLS[(model, aug, width)],
                                 test_acc=test)
    return path


# A classical study: pipeline (features + classifier) -> validation accuracy at the best C; C = 0.1 is 2 points worse.
CLASSICAL_SPECS = {
    "features": {"role": "scientific", "kind": "categorical", "low": None, "high": None, "log": False,
                 "choices": ["pixels", "hog"], "when": {}},
    "classifier": {"role": "scientific", "kind": "categorical", "low": None, "high": None, "log": False,
                   "choices": ["svm_rbf", "logreg"], "when": {}},
    "C": {"role": "nuisance", "kind": "float", "low": 0.01, "high": 100.0, "log": True, "choices": [], "when": {}},
}
CLASSICAL_PIPELINES = {("pixels", "svm_rbf"): 0.84, ("hog", "svm_rbf"): 0.87, ("pixels", "logreg"): 0.82}


def first_correct(acc: float, n: int = 10_000) -> str:
    """A stored test-correctness mask with accuracy `acc`: the first images right, the rest wrong. Two such masks
    disagree only on the images between their counts, all one way, which McNemar's test reads exactly."""
    from tuning.db import pack_mask  # noqa: PLC0415

    return pack_mask(np.arange(n) < round(acc * n))


def build_classical(path: Path, name: str = "classical", data_fraction: float = 0.1, shift: float = 0.0,
                    budget: str = "test") -> Path:
    """Every pipeline at C = 1 and C = 0.1 (`shift` added to each accuracy), the best pipeline final-evaluated."""
    db = TrialDB(f"sqlite:///{path}")
    roles = {k: s["role"] for k, s in CLASSICAL_SPECS.items()}
    db.upsert_study(name, space="classical", kind="classical", description="planted pipelines", roles=roles,
                    budget={"name": budget, "num_samples": 0, "max_epochs": 8, "grace_period": 1,
                            "reduction_factor": 2, "data_fraction": data_fraction, "val_size": 5000},
                    search={"sampler": "qmc", "scheduler": "fifo", "seed": 0, "params": CLASSICAL_SPECS,
                            "fixed": {}, "cpus_per_trial": 1, "gpus_per_trial": 0, "max_concurrent": 2},
                    hardware={"nodes": 1, "cpus": 2, "gpus": 0}, versions={"sklearn": "x"}, git_commit="abc",
                    command="planted", status="finished", created_at=time.time())
    t0 = 1_000_000.0
    for i, ((features, classifier), acc) in enumerate(CLASSICAL_PIPELINES.items()):
        for j, C in enumerate((1.0, 0.1)):
            tid = f"{features}-{classifier}-C{C:g}"
            val = acc + shift - (0.02 if C == 0.1 else 0.0)
            params = {"features": features, "classifier": classifier, "C": C}
            start = t0 + (2 * i + j) * 10
            db.upsert_epoch(name, tid, 1, val_acc=val, timestamp=start + 5)
            db.upsert_trial(name, tid, params=params, roles=roles, config=dict(params), status="completed", epochs=1,
                            max_epochs=1, best_val_acc=val, last_val_acc=val, started_at=start, ended_at=start + 5,
                            node="n1", seed=0)
    best = max(CLASSICAL_PIPELINES, key=CLASSICAL_PIPELINES.get)
    for seed, delta in enumerate((-0.003, 0.001)):
        val = CLASSICAL_PIPELINES[best] + shift
        db.upsert_final_eval(name, f"{best[0]}-{best[1]}-C1", seed, rank=1, status="completed", epochs=1,
                             val_acc=val, test_acc=val + delta, test_correct=first_correct(val + delta))
    return path


# The headline's deep study: its confirmation arms on all the training data, 3 seeds each. Planted: augmentation
# 0.5 is best on validation, 1.0 best on test (validation must choose 0.5); the CNN gains +1 point with 0.5 on
# every seed (with a little seed noise), the MLP loses about 3.
HEADLINE_ARMS = {  # arm key: (model, aug_strength, val, test)
    "a-cnn-0": ("cnn", 0.0, 0.920, 0.915),
    "a-cnn-05": ("cnn", 0.5, 0.930, 0.925),
    "a-cnn-1": ("cnn", 1.0, 0.925, 0.930),
    "a-mlp-05": ("mlp", 0.5, 0.890, 0.885),
}
HEADLINE_TRAIN = {"a-cnn-0": 0.996, "a-cnn-05": 0.960, "a-cnn-1": 0.950, "a-mlp-05": 0.930}  # training accuracy
HEADLINE_NOISE = (0.0, 0.002, -0.002)  # per seed, the same for every arm (seeds pair), plus a small arm-seed term


def build_headline(path: Path, name: str = "headline", confirm_fraction: float = 1.0) -> Path:
    """A headline study: 2 search trials on 0.2 of the data, then confirmation arms of model and aug_strength."""
    db = TrialDB(f"sqlite:///{path}")
    specs = {"model": {"role": "scientific", "kind": "categorical", "low": None, "high": None, "log": False,
                       "choices": ["cnn", "mlp"], "when": {}},
             "aug_strength": {"role": "scientific", "kind": "categorical", "low": None, "high": None, "log": False,
                              "choices": [0.0, 0.5, 1.0], "when": {}}}
    roles = {k: s["role"] for k, s in specs.items()}
    db.upsert_study(name, space="headline", kind="deep", description="planted headline", roles=roles,
                    budget={"name": "headline", "num_samples": 2, "max_epochs": 3, "grace_period": 1,
                            "reduction_factor": 2, "data_fraction": 0.2, "val_size": 5000, "confirm_epochs": 10,
                            "confirm_data_fraction": confirm_fraction, "confirm_seeds": 3},
                    search={"sampler": "random", "scheduler": "asha", "seed": 0, "params": specs, "fixed": {},
                            "cpus_per_trial": 1, "gpus_per_trial": 0, "max_concurrent": 2},
                    hardware={"nodes": 1, "cpus": 2, "gpus": 0}, versions={"torch": "x"}, git_commit="abc",
                    command="planted", status="finished", created_at=time.time())
    t0 = 1_000_000.0
    for i, (model, aug, val) in enumerate((("cnn", 0.5, 0.90), ("mlp", 0.0, 0.87))):
        tid = f"h{i}"
        for e in range(1, 4):
            db.upsert_epoch(name, tid, e, val_acc=val - 0.01 * (3 - e), timestamp=t0 + i * 10 + e)
        db.upsert_trial(name, tid, params={"model": model, "aug_strength": aug}, roles=roles,
                        config={"model": model, "aug_strength": aug}, status="completed", epochs=3, max_epochs=3,
                        best_val_acc=val, last_val_acc=val, started_at=t0 + i * 10, ended_at=t0 + i * 10 + 3,
                        node="n1", seed=0)
    arms = [("model", "cnn", "a-cnn-05", True), ("model", "mlp", "a-mlp-05", False),
            ("aug_strength", "0.0", "a-cnn-0", False), ("aug_strength", "0.5", "a-cnn-05", True),
            ("aug_strength", "1.0", "a-cnn-1", False)]
    for pos, (param, value, key, ref) in enumerate(arms):
        db.upsert_confirm_arm(name, param, value, arm_key=key, position=pos, is_reference=ref,
                              point=float(value) if param == "aug_strength" else value,
                              source="trial h0" if key == "a-cnn-05" else "reference with one value changed")
    for k, (key, (model, aug, val, test)) in enumerate(HEADLINE_ARMS.items()):
        for s, noise in enumerate(HEADLINE_NOISE):
            wobble = 0.001 * ((k + s) % 3 - 1)
            db.upsert_confirm_run(name, key, 1000 + s, status="completed", epochs=10, data_fraction=confirm_fraction,
                                  val_acc=val + noise + wobble, test_acc=test + noise - wobble, wall_time=100.0,
                                  test_correct=first_correct(test + noise - wobble), train_acc=HEADLINE_TRAIN[key],
                                  config={"model": model, "aug_strength": aug, "epochs": 10,
                                          "data_fraction": confirm_fraction, "val_size": 5000, "seed": 1000 + s})
    return path


# A scaling study: trials at 6 training-set sizes, each with the same step budget, whose validation error follows a
# planted law of the training-set size (a tuned and an untuned trial per size).
SCALING_FRACTIONS = [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0]
SCALING_NOISE = [0.01, -0.008, 0.004, -0.012, 0.006, -0.003]  # relative, per size: a fit that is not exact


def build_scaling(path: Path, law, name: str = "scaling", steps: int = 600, confirm_seeds: int = 0,
                  confirm_widths: tuple[int, ...] = ()) -> Path:
    """law(n_train_images) -> error of the tuned trial at that size; the untuned one is 2 points worse. With
    confirm_seeds, the confirmation's data_fraction arms too: test error law(n) + 1 point, per seed +-0.3 points;
    with confirm_widths as well, cnn.width arms whose test error is law(parameters), per seed +-0.3 points."""
    db = TrialDB(f"sqlite:///{path}")
    db.upsert_study(name, space="scaling", kind="deep", description="planted scaling",
                    roles={"data_fraction": "scientific", "lr": "nuisance"},
                    budget={"name": "test", "num_samples": 12, "max_epochs": 2, "grace_period": 1,
                            "reduction_factor": 2, "data_fraction": 1.0, "val_size": 5000},
                    search={"sampler": "tpe", "scheduler": "fifo", "seed": 0, "params": {}, "fixed": {"steps": steps},
                            "cpus_per_trial": 1, "gpus_per_trial": 0, "max_concurrent": 2},
                    hardware={"nodes": 1, "cpus": 2, "gpus": 0}, versions={"torch": "x"}, git_commit="abc",
                    command="python tuning/run.py --space scaling --budget scaling", status="finished",
                    created_at=time.time())
    for i, frac in enumerate(SCALING_FRACTIONS):
        n = round(frac * 55000)
        for j, slack in enumerate((0.0, 0.02)):
            err = law(n) * (1 + SCALING_NOISE[i]) + slack
            db.upsert_trial(name, f"t{i}{j}", status="completed", epochs=2, last_val_acc=1 - err,
                            best_val_acc=1 - err, param_count=1000 * (i + 1), flops=1e6 * (i + 1), started_at=0,
                            ended_at=1, params={"data_fraction": frac, "lr": 0.1},
                            config={"model": "cnn", "data_fraction": frac, "val_size": 5000, "steps": steps})
        if confirm_seeds:
            key = f"size{i}"
            db.upsert_confirm_arm(name, "data_fraction", f"{frac:g}", arm_key=key, position=i, point=frac,
                                  is_reference=frac == 1.0, source=f"trial t{i}0", config={"data_fraction": frac})
            for s in range(confirm_seeds):
                err = law(n) + 0.01 + 0.003 * (-1) ** s
                db.upsert_confirm_run(name, key, 1000 + s, status="completed", epochs=2, data_fraction=1.0,
                                      val_acc=1 - err, test_acc=1 - err,
                                      train_acc=1.0 if frac < 0.5 else 0.96,  # the 2 largest still learning
                                      config={"model": "cnn", "data_fraction": frac, "val_size": 5000, "steps": steps,
                                              "lr": 0.1 if i < 3 else 0.05})  # two tunings along the curve
    for i, width in enumerate(confirm_widths):  # cnn.width arms at the reference's size (1.0): error law(params)
        key = f"width{width}"
        db.upsert_confirm_arm(name, "cnn.width", str(width), arm_key=key, position=i, point=width,
                              is_reference=i == len(confirm_widths) - 1, source=f"reference with cnn.width = {width}",
                              config={"data_fraction": 1.0, "cnn.width": width})
        cfg = {"model": "cnn", "model_kwargs": {"width": width, "depth": 2}, "data_fraction": 1.0, "val_size": 5000,
               "steps": steps, "lr": 0.05}
        err = law(model_params(cfg)) * (1 + SCALING_NOISE[i])
        for s in range(confirm_seeds):
            db.upsert_confirm_run(name, key, 1000 + s, status="completed", epochs=2, data_fraction=1.0,
                                  val_acc=1 - err, test_acc=1 - err + 0.003 * (-1) ** s, train_acc=0.995,
                                  config=cfg)
    return path


# Augmentation against data size, confirmed as a cross on 3 shared seeds. Planted interaction: augmentation helps at
# 10% of the data (+2 and +3 points), a little at 25%, and not at all on all of it (per-seed differences around 0).
AUG_SIZE_BASE = {0.1: 0.80, 0.25: 0.85, 1.0: 0.90}  # test accuracy without augmentation
AUG_SIZE_GAIN = {(0.1, 0.5): 0.020, (0.1, 1.0): 0.030, (0.25, 0.5): 0.010, (0.25, 1.0): 0.012,
                 (1.0, 0.5): 0.0, (1.0, 1.0): 0.0}
AUG_SIZE_SEED_NOISE = (0.0, 0.004, -0.003)  # shared by every cell of a seed: the pairing removes it
AUG_SIZE_WOBBLE = (0.002, -0.003, 0.001)  # cell-by-seed noise; sums to 0 over the seeds
AUG_SIZE_TRAIN = {0.1: (0.999, 0.97), 0.25: (0.99, 0.95), 1.0: (0.94, 0.92)}  # train acc: without, with aug
AUG_SIZE_STEPS = 1500


def build_aug_size(path: Path, name: str = "aug_size", seeds: int = 3, fractions=tuple(AUG_SIZE_BASE),
                   tuned: dict | None = None, missing: tuple = (), nuisance: bool = True) -> Path:
    """tuned: {(fraction, strength): {setting: value}}, a cell's own tuned settings (else none: every cell alike);
    missing: the cells with no run yet; nuisance: the space searches lr (else it has no nuisance parameter)."""
    db = TrialDB(f"sqlite:///{path}")
    specs = {"data_fraction": {"role": "scientific", "kind": "categorical", "low": None, "high": None, "log": False,
                               "choices": list(fractions), "when": {}},
             "aug_strength": {"role": "scientific", "kind": "categorical", "low": None, "high": None, "log": False,
                              "choices": [0.0, 0.5, 1.0], "when": {}}}
    if nuisance:
        specs["lr"] = {"role": "nuisance", "kind": "float", "low": 0.01, "high": 0.2, "log": True, "choices": None,
                       "when": {}}
    roles = {k: s["role"] for k, s in specs.items()}
    db.upsert_study(name, space="aug_size", kind="deep", description="planted augmentation by size", roles=roles,
                    budget={"name": "aug_size", "num_samples": 1, "max_epochs": 1, "grace_period": 1,
                            "reduction_factor": 2, "data_fraction": 1.0, "val_size": 5000, "confirm": True,
                            "confirm_epochs": 1, "confirm_data_fraction": 1.0, "confirm_seeds": seeds},
                    search={"sampler": "random", "scheduler": "fifo", "seed": 0, "params": specs,
                            "fixed": {"steps": AUG_SIZE_STEPS}, "cpus_per_trial": 1, "gpus_per_trial": 0,
                            "max_concurrent": 2},
                    hardware={"nodes": 1, "cpus": 2, "gpus": 0}, versions={"torch": "x"}, git_commit="abc",
                    command="python tuning/run.py --space aug_size --budget aug_size", status="finished",
                    created_at=time.time())
    t0 = 1_000_000.0
    db.upsert_epoch(name, "s0", 1, val_acc=0.9, timestamp=t0 + 1)
    db.upsert_trial(name, "s0", params={"data_fraction": 1.0, "aug_strength": 0.5}, roles=roles,
                    config={"model": "cnn", "data_fraction": 1.0, "aug_strength": 0.5, "steps": AUG_SIZE_STEPS},
                    status="completed", epochs=7, max_epochs=1, best_val_acc=0.9, last_val_acc=0.9, started_at=t0,
                    ended_at=t0 + 7, node="n1", seed=0)
    param = "data_fraction x aug_strength"
    position = 0
    for frac, base in AUG_SIZE_BASE.items():
        if frac not in fractions:
            continue
        images = round(frac * 55000)
        epochs = -(-AUG_SIZE_STEPS // (images // 256))
        for aug in (0.0, 0.5, 1.0):
            key = f"f{frac:g}-a{aug:g}"
            db.upsert_confirm_arm(name, param, f"data_fraction = {frac:g}, aug_strength = {aug:g}", arm_key=key,
                                  position=position, point={"data_fraction": frac, "aug_strength": aug},
                                  is_reference=(frac, aug) == (1.0, 0.5),
                                  source="trial s0" if (frac, aug) == (1.0, 0.5) else "reference with one cell",
                                  config={"data_fraction": frac, "aug_strength": aug,
                                          **(tuned or {}).get((frac, aug), {})})
            position += 1
            if (frac, aug) in missing:
                continue
            gain = AUG_SIZE_GAIN.get((frac, aug), 0.0)
            for s in range(seeds):
                wobble = 0.0 if aug == 0.0 else AUG_SIZE_WOBBLE[s] * (1 + aug)
                test = base + gain + AUG_SIZE_SEED_NOISE[s] + wobble
                db.upsert_confirm_run(name, key, 1000 + s, status="completed", epochs=epochs, data_fraction=1.0,
                                      val_acc=test + 0.005, test_acc=test,
                                      train_acc=AUG_SIZE_TRAIN[frac][aug > 0] - 0.001 * s, wall_time=100.0,
                                      config={"model": "cnn", "aug_strength": aug, "data_fraction": frac,
                                              "val_size": 5000, "steps": AUG_SIZE_STEPS, "seed": 1000 + s})
    return path
