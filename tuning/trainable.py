"""The Ray Tune trainable: one trial = one `ganrator.train.train` run. The only caller of Ray's reporting API.

Every epoch is reported with a checkpoint holding the full training state, so a trial whose worker died
(FailureConfig) or whose study was resumed continues from its last epoch instead of starting over.

Trials run in reused actors (reuse_actors=True): a worker process pays its imports and the dataset's tensors
once, and every trial in it starts from its own seed and config. torch and the trainer are imported by a
worker's first trial, not by this module: the driver imports it to hand Tune the trainable, and needs no torch.
Each trial reports what its start-up and bookkeeping cost (the `*_seconds` keys below), so the study's overhead
is read from the database, not guessed.
"""
from __future__ import annotations

import time

_IMPORT_T0 = time.time()  # before the imports below: their cost is paid once per worker process

import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

import ray  # noqa: E402
from ray import tune  # noqa: E402

from ganrator.data import SPLITS, Arrays  # noqa: E402
from search_spaces.loader import SearchSpace  # noqa: E402
from tuning.budgets import split_repeat  # noqa: E402
from tuning.db import pack_mask  # noqa: E402
from tuning.idle_cores import ThreadLoan, lent_threads  # noqa: E402

if TYPE_CHECKING:
    from ganrator.data import FashionMNIST

STATE_FILE = "state.pt"
# Paid by the first trial of this worker process; a reused actor's later trials report 0.
_import_seconds = time.time() - _IMPORT_T0
_datasets: dict[str, FashionMNIST] = {}  # per object-store key: a reused actor builds the tensors once


def _import_training() -> None:
    """torch and the trainer, once per worker process, timed with the worker's other imports."""
    global _import_seconds
    if "ganrator.train" not in sys.modules:
        t = time.time()
        import ganrator.train  # noqa: F401

        _import_seconds += time.time() - t


@dataclass(frozen=True)
class SharedDataset:
    """The dataset put once in Ray's object store as numpy arrays, which workers on the same node map without a
    copy (a torch tensor would be unpickled into a private copy in every trial). Only the reference travels."""

    ref: Any  # ray.ObjectRef of {name: numpy array}
    mean: float
    std: float
    source: str

    @classmethod
    def put(cls, data: Arrays | FashionMNIST) -> "SharedDataset":
        """data: the driver's numpy arrays (ganrator.data.load_arrays: no torch needed), or a dataset of tensors."""
        arrays = data.arrays if isinstance(data, Arrays) else {k: getattr(data, k).cpu().numpy() for k in SPLITS}
        return cls(ray.put(arrays), data.mean, data.std, data.source)

    def get(self) -> FashionMNIST:
        key = self.ref.hex()
        if key not in _datasets:
            from ganrator.data import FashionMNIST

            arrays = ray.get(self.ref)
            with warnings.catch_warnings():
                # The mapped arrays are read-only; nothing writes into the dataset's tensors (batches are copies).
                warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
                dataset = FashionMNIST.from_arrays(arrays, self.mean, self.std, self.source)
            _datasets.clear()  # one study's dataset at a time
            _datasets[key] = dataset
        return _datasets[key]


def _take_import_seconds() -> float:
    global _import_seconds
    seconds, _import_seconds = _import_seconds, 0.0
    return seconds


def _use_assigned_cpus() -> float:
    """Match torch's threads to the CPUs Ray gave this trial, so packed trials don't oversubscribe cores.
    Called by every trial: a reused actor keeps its resources, but a trial must not rely on its predecessor."""
    import torch

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    torch.set_num_threads(max(1, int(cpus)))
    return cpus


def _placement(seed: int) -> dict[str, Any]:
    """Where and how a trial ran, reported with its results (the multi-node tests read `node`)."""
    return {"node": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname(), "pid": os.getpid(),
            "seed": seed}


def train_trial(config: dict[str, Any], *, space: SearchSpace, overrides: dict[str, Any], data: SharedDataset,
                skip: frozenset[str] = frozenset()) -> None:
    """Tune function trainable. `config` holds the sampled parameters; the space adds its fixed ones.

    skip: trials the database already holds as finished. After a driver crash Ray may resume a trial that
    finished after its last snapshot; it must not train again (an ASHA-stopped trial would go past its rung).

    Besides the epoch's metrics, every report carries the trial's start-up so far: entered_at (this function
    began), import_seconds (this worker's imports, in its first trial only), data_seconds (the dataset mapped
    into tensors) and report_seconds (time spent inside earlier reports: checkpoint upload and the driver's
    bookkeeping, which Tune does before it lets the trial go on).
    """
    entered_at = time.time()
    if tune.get_context().get_trial_id() in skip:
        return
    config, overrides = split_repeat(config, overrides)  # a leader's repeat: the same parameters, its own seed
    _import_training()
    import torch

    from ganrator.train import load_state, train

    t0 = time.perf_counter()
    dataset = data.get()
    startup = {"entered_at": entered_at, "import_seconds": _take_import_seconds(),
               "data_seconds": time.perf_counter() - t0, "report_seconds": 0.0}
    if space.kind == "classical":
        return _classical_trial(space.config(config, overrides), dataset, startup)
    cfg = space.train_config(config, overrides)
    _use_assigned_cpus()
    where = _placement(cfg.seed)
    workdir = Path(tempfile.mkdtemp(prefix="ganrator-trial-"))
    state = workdir / STATE_FILE

    trial_id = tune.get_context().get_trial_id()
    # cores of ended trials, lent once the search has no trial left to start (tuning/idle_cores.py)
    loan = ThreadLoan(torch.get_num_threads(), lambda: lent_threads(trial_id))

    def on_epoch(metrics: dict[str, float]) -> None:
        # `train` has already written this epoch's state to `state`; Ray copies the folder to storage.
        t = time.perf_counter()
        threads = torch.get_num_threads()  # what the epochs since the last report ran with
        tune.report({**metrics, **where, **startup, "threads": threads},
                    checkpoint=tune.Checkpoint.from_directory(workdir))
        loan.after_report(threads, metrics["images_per_second"])
        startup["report_seconds"] += time.perf_counter() - t

    try:
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as d:
                # A damaged or unsafe state fails the trial under its stored name, not the temporary copy's.
                load_state(Path(d) / STATE_FILE, name=f"{checkpoint.path}/{STATE_FILE}",
                           remedy="the trial cannot resume from it and ends as errored")
                shutil.copy(Path(d) / STATE_FILE, state)
        train(cfg, dataset, on_epoch=on_epoch, checkpoint=state)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _classical_trial(cfg, data: FashionMNIST, startup: dict[str, float]) -> None:
    """A classical fit has no epochs: it reports once, as epoch 1 of 1, so there is no rung to stop it at."""
    from ganrator import classical

    _use_assigned_cpus()
    result = classical.fit(cfg, data)
    tune.report({"epoch": 1, "val_acc": result.val_acc, "status": result.status, "epoch_seconds": result.fit_seconds,
                 **_placement(cfg.seed), **startup})


def final_eval(space: SearchSpace, params: dict[str, Any], overrides: dict[str, Any], seed: int,
               data: SharedDataset, correct_mask: bool = False, checkpoint: str | None = None) -> dict[str, Any]:
    """Retrain one selected configuration with `seed` at the full budget; evaluate on test once, at the end.
    Deep spaces also report `train_acc`, the accuracy on the run's own training images without augmentation, so
    a reader can see whether the training length fits the training-set size. correct_mask: also
    `test_correct`, the per-image test correctness packed as text (tuning.db.pack_mask), for paired tests between
    configurations (classical spaces too). The dataset is mapped from the object store once per worker process,
    not unpickled into a copy for every run. checkpoint: a deep run's training-state file (tuning/retrain.py),
    continued from when it exists and removed once the run is evaluated; `resumed_epoch` says where it went on."""
    _import_training()
    from ganrator.train import CheckpointError, evaluate, load_state, train

    data = data.get()
    _use_assigned_cpus()
    cfg = space.config(params, {**overrides, "seed": seed})
    t0 = time.perf_counter()
    if space.kind == "classical":
        from ganrator import classical

        fitted = classical.fit(cfg, data)
        test = classical.evaluate(fitted, data, "test", per_image=correct_mask)
        return {"status": fitted.status, "epochs": 1, "val_acc": fitted.val_acc, "test_acc": test["acc"],
                "wall_time": time.perf_counter() - t0, "config": cfg.to_dict(),
                **({"test_correct": pack_mask(test["correct"])} if correct_mask else {})}
    resumed, earlier = 0, 0.0
    if checkpoint is not None:
        Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
        if Path(checkpoint).exists():
            try:
                state = load_state(Path(checkpoint))
                # the wall time counts the epochs run before the cut too (their setup and evaluation aside)
                resumed, earlier = int(state["epoch"]), sum(h.get("epoch_seconds", 0.0) for h in state["history"])
            except CheckpointError:  # damaged: the run starts over rather than failing at every resume
                Path(checkpoint).unlink()
    result = train(cfg, data, checkpoint=checkpoint)
    test = evaluate(result.model, data, "test", cfg.eval_batch_size, cfg.amp, per_image=correct_mask,
                    flip=cfg.tta_flip) \
        if result.status != "diverged" else {"acc": 0.0}
    own = data.subsample(cfg.data_fraction, cfg.data_seed)  # the images `train` drew for this run
    fit = evaluate(result.model, own, "train", cfg.eval_batch_size, cfg.amp)["acc"] \
        if result.status != "diverged" else None
    out = {"status": result.status, "epochs": result.epochs, "val_acc": result.last_val_acc,
           "test_acc": test["acc"], "train_acc": fit, "wall_time": earlier + time.perf_counter() - t0,
           "config": cfg.to_dict(), "resumed_epoch": resumed}
    if correct_mask:
        out["test_correct"] = pack_mask(test["correct"].numpy()) if "correct" in test else None
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    return out
