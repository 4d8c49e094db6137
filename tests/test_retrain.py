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
