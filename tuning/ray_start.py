"""Ray's start for the driver: a local instance comes up on a thread while the driver imports the search machinery
and loads the dataset, instead of after them (the fixed start-up of every study)."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class _NotMainThread(logging.Filter):
    """Drops ray.init's notice that it set no SIGTERM handler off the main thread: RayStart sets the same one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()


class _AuthOnByDefault(logging.Filter):
    """Drops the notice that a new local instance enabled Ray's token authentication, the safe default, printed at
    every start (and before an error that rejects the input while Ray starts, which should be one line); the
    notice that it is disabled stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Token authentication is enabled for this Ray cluster" not in record.getMessage()


class RayStart:
    """ray.init(address) on a thread, begun at construction; result() waits for it and re-raises its error.

    The thread stays alive, idle, until the driver exits: on Linux Ray ties the processes it starts (GCS, raylet)
    to the thread that started them (prctl's parent-death signal fires when that thread ends, not the process).
    The SIGTERM handler is the one ray.init sets on the main thread (exit, so Ray's atexit hook stops the local
    processes), which it cannot set from a thread.
    """

    def __init__(self, address: str | None):
        # No --address: the cluster of a `ray job submit` (RAY_ADDRESS), else a new local instance. Not ray.init's
        # own default, which joins whatever cluster `ray start` last recorded on this machine (/tmp/ray), such as
        # one being torn down, instead of starting one.
        self.address = address or os.environ.get("RAY_ADDRESS") or "local"
        self.where = f"--address {address}" if address else (
            f"RAY_ADDRESS={self.address}" if self.address != "local" else "the local Ray instance")
        self.error: BaseException | None = None
        self.started = threading.Event()
        self._release = threading.Event()  # set only by stop(), after the instance is stopped
        # Save the experiment state often, so a killed driver loses at most a few seconds of it.
        os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
        # Every epoch checkpoints and num_to_keep forces a snapshot; that is intended here, not a bottleneck.
        os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
        # A trial skipped on resume (finished before the crash) returns without a result; ASHA and OptunaSearch
        # ignore such a result, but the strict check would fail the study. Every real report carries val_acc.
        os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
        # Tune's default loggers include TensorBoard's, whose tensorboardX imports torch into the driver: the driver
        # adds the CSV and JSON loggers itself, and TensorBoard's with --tensorboard (tuning/run.py).
        os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
        if self.address == "local":
            # Workers inherit the driver's environment from the local Ray it starts. A runtime_env would instead make
            # Ray start new workers for it, leaving the ones it prestarts idle; with inheritance the first trials'
            # actors take those.
            os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        import ray  # here, not on the thread: the driver imports Ray Tune meanwhile, and both need this package

        self._ray = ray
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))
        logging.getLogger("ray._private.worker").addFilter(_NotMainThread())
        logging.getLogger("ray._private.authentication.authentication_token_setup").addFilter(_AuthOnByDefault())
        self.thread = threading.Thread(target=self._start, name="ray-init", daemon=True)
        self.thread.start()

    def _start(self) -> None:
        try:
            # log_to_driver=False: trial errors land in the database and Tune's error files, not as worker log spam.
            self._ray.init(address=self.address, include_dashboard=False, logging_level="WARNING",
                           log_to_driver=False)
        except BaseException as e:  # noqa: BLE001  (re-raised on the driver's thread by result())
            self.error = e
        self.started.set()
        if self.error is None:
            self._release.wait()  # the local Ray processes live as long as this thread

    def result(self) -> Any:
        """The started `ray` module; the thread's exception, if ray.init failed."""
        self.started.wait()
        if self.error is not None:
            raise self.error
        return self._ray

    def stop(self) -> None:
        """The study is done, or input was rejected after the start began: wait for the start, then disconnect and
        stop the local instance if this driver started it."""
        self.started.wait()
        if self.error is None and self._ray.is_initialized():
            self._ray.shutdown()
        self._release.set()
