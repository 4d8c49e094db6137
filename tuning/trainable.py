"""The Ray Tune trainable: one trial = one `ganrator.train.train` run. The only caller of Ray's reporting API.

Every epoch is reported with a checkpoint holding the full training state, so a trial whose worker died
(FailureConfig) or whose study was resumed continues from its last epoch instead of starting over.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from ganrator.data import FashionMNIST
from ganrator.train import evaluate, load_state, train
from search_spaces.loader import SearchSpace
from tuning.db import pack_mask

STATE_FILE = "state.pt"


def _use_assigned_cpus() -> float:
    """Match torch's threads to the CPUs Ray gave this trial, so packed trials don't oversubscribe cores."""
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    torch.set_num_threads(max(1, int(cpus)))
    return cpus


def _placement(seed: int) -> dict[str, Any]:
    """Where and how a trial ran, reported with its results (the multi-node tests read `node`)."""
    return {"node": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname(), "pid": os.getpid(),
            "seed": seed}


def train_trial(config: dict[str, Any], *, space: SearchSpace, overrides: dict[str, Any], data: FashionMNIST,
                skip: frozenset[str] = frozenset()) -> None:
    """Tune function trainable. `config` holds the sampled parameters; the space adds its fixed ones.

    skip: trials the database already holds as finished. After a driver crash Ray may resume a trial that
    finished after its last snapshot; it must not train again (an ASHA-stopped trial would go past its rung).
    """
    if tune.get_context().get_trial_id() in skip:
        return
    if space.kind == "classical":
        return _classical_trial(space.config(config, overrides), data)
    cfg = space.train_config(config, overrides)
    _use_assigned_cpus()
    where = _placement(cfg.seed)
    workdir = Path(tempfile.mkdtemp(prefix="ganrator-trial-"))
    state = workdir / STATE_FILE

    def on_epoch(metrics: dict[str, float]) -> None:
        # `train` has already written this epoch's state to `state`; Ray copies the folder to storage.
        tune.report({**metrics, **where}, checkpoint=tune.Checkpoint.from_directory(workdir))

    try:
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as d:
                # A damaged or unsafe state fails the trial under its stored name, not the temporary copy's.
                load_state(Path(d) / STATE_FILE, name=f"{checkpoint.path}/{STATE_FILE}",
                           remedy="the trial cannot resume from it and ends as errored")
                shutil.copy(Path(d) / STATE_FILE, state)
        train(cfg, data, on_epoch=on_epoch, checkpoint=state)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _classical_trial(cfg, data: FashionMNIST) -> None:
    """A classical fit has no epochs: it reports once, as epoch 1 of 1, so there is no rung to stop it at."""
    from ganrator import classical

    _use_assigned_cpus()
    result = classical.fit(cfg, data)
    tune.report({"epoch": 1, "val_acc": result.val_acc, "status": result.status, "epoch_seconds": result.fit_seconds,
                 **_placement(cfg.seed)})


def final_eval(space: SearchSpace, params: dict[str, Any], overrides: dict[str, Any], seed: int,
               data: FashionMNIST, correct_mask: bool = False) -> dict[str, Any]:
    """Retrain one selected configuration with `seed` at the full budget; evaluate on test once, at the end.
    Deep spaces also report `train_acc`, the accuracy on the run's own training images without augmentation, so
    a reader can see whether the training length fits the training-set size. correct_mask (deep spaces): also
    `test_correct`, the per-image test correctness packed as text (tuning.db.pack_mask), for paired tests between
    configurations."""
    _use_assigned_cpus()
    cfg = space.config(params, {**overrides, "seed": seed})
    t0 = time.perf_counter()
    if space.kind == "classical":
        from ganrator import classical

        fitted = classical.fit(cfg, data)
        return {"status": fitted.status, "epochs": 1, "val_acc": fitted.val_acc,
                "test_acc": classical.evaluate(fitted, data, "test")["acc"], "wall_time": time.perf_counter() - t0,
                "config": cfg.to_dict()}
    result = train(cfg, data)
    test = evaluate(result.model, data, "test", cfg.eval_batch_size, cfg.amp, per_image=correct_mask) \
        if result.status != "diverged" else {"acc": 0.0}
    own = data.subsample(cfg.data_fraction, cfg.data_seed)  # the images `train` drew for this run
    fit = evaluate(result.model, own, "train", cfg.eval_batch_size, cfg.amp)["acc"] \
        if result.status != "diverged" else None
    out = {"status": result.status, "epochs": len(result.history), "val_acc": result.last_val_acc,
           "test_acc": test["acc"], "train_acc": fit, "wall_time": time.perf_counter() - t0,
           "config": cfg.to_dict()}
    if correct_mask:
        out["test_correct"] = pack_mask(test["correct"].numpy()) if "correct" in test else None
    return out
