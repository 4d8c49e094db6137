"""Retraining (confirmation, final evaluation) stops on Ctrl-C or SIGTERM within a second, keeps what finished and
cancels the running runs, on a real local Ray instance."""
from __future__ import annotations

import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest
import ray

from search_spaces.loader import load_space
from tuning.retrain import RetrainInterrupted, retrain


def test_a_signal_stops_the_runs_at_once_and_keeps_the_finished(fmnist):
    signum = signal.SIGINT
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    try:
        args = SimpleNamespace(space_obj=load_space("smoke"), cpus_per_trial=1, gpus_per_trial=0)
        # one short run, and one that would train for minutes
        jobs = {"short": ({"aug_strength": 0.0, "lr": 0.1, "cnn.width": 4}, {"epochs": 1, "data_fraction": 0.01}, 1),
                "long": ({"aug_strength": 0.0, "lr": 0.1, "cnn.width": 4}, {"epochs": 500, "data_fraction": 0.2}, 1)}
        recorded, sent = [], []

        def send():
            sent.append(time.time())
            os.kill(os.getpid(), signum)

        def record(key, out, error):
            recorded.append(key)
            threading.Timer(1.0, send).start()  # once the short run is in, while the long one trains

        with pytest.raises(RetrainInterrupted) as e:
            retrain(args, fmnist, jobs, label=str, record=record)
        assert recorded == ["short"] and (e.value.done, e.value.total, e.value.signum) == (1, 2, signum)
        assert time.time() - sent[0] < 10  # not when the long run would have ended
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the driver's handlers are back
    finally:
        ray.shutdown()


def test_a_cut_run_continues_from_its_state_and_ends_as_an_uncut_one(fmnist, tmp_path, capsys):
    """A confirmation run killed mid-way (its driver interrupted) goes on from its last validated epoch under
    --resume: the same result as a run never cut, its state file removed once the run is evaluated."""
    from pathlib import Path

    from tuning.retrain import state_dir, state_file

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    try:
        space = load_space("smoke")
        params, overrides, seed = {"aug_strength": 0.5, "lr": 0.1, "cnn.width": 4}, \
            {"epochs": 2, "data_fraction": 0.02}, 7

        def run_all(storage: Path | None) -> dict:
            args = SimpleNamespace(space_obj=space, cpus_per_trial=1, gpus_per_trial=0, storage=storage, name="s")
            got = {}
            retrain(args, fmnist, {"job": (params, overrides, seed)}, label=str,
                    record=lambda key, out, error: got.update(out, error=error))
            return got

        whole = run_all(None)  # no storage folder: no state kept
        path = Path(state_file(state_dir(SimpleNamespace(storage=tmp_path, name="s")), params, overrides, seed))
        path.parent.mkdir(parents=True)

        @ray.remote(num_cpus=1)
        def cut_after_first_epoch():
            import torch

            from ganrator.data import load_fashion_mnist
            from ganrator.train import train

            class Cut(Exception):
                pass

            def on_epoch(metrics):
                raise Cut  # as a killed worker: the epoch's state is written, nothing after it

            torch.set_num_threads(1)  # as in a retraining run, so the numbers match it
            try:
                train(space.config(params, {**overrides, "seed": seed}), load_fashion_mnist(fmnist.source),
                      on_epoch=on_epoch, checkpoint=path)
            except Cut:
                return True
            return False

        assert ray.get(cut_after_first_epoch.remote()) and path.exists()
        resumed = run_all(tmp_path)
        out = capsys.readouterr().out
        assert resumed["error"] is None and "(continued from epoch 1)" in out.splitlines()[-1]
        assert "continued" not in out.splitlines()[0] and "resumed_epoch" not in resumed  # never stored
        assert resumed["epochs"] == whole["epochs"] == 2
        assert resumed["val_acc"] == whole["val_acc"] and resumed["test_acc"] == whole["test_acc"]
        assert not path.exists()  # evaluated: the state is gone
    finally:
        ray.shutdown()
