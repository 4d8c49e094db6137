"""Retrain chosen configurations on fresh seeds through Ray, in parallel (final evaluation, confirmation).

One Ray task per (configuration, seed); a run that raises is recorded as errored and the others go on, so a rerun
with --resume only has the errored and missing runs to do.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Hashable
from typing import Any

ERRORED_RUN = {"status": "errored", "test_acc": None, "val_acc": None, "train_acc": None, "epochs": 0,
               "wall_time": None, "config": None}


def duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


def retrain(args, data, jobs: dict[Hashable, tuple[dict[str, Any], dict[str, Any], int]],
            label: Callable[[Hashable], str], record: Callable[[Hashable, dict[str, Any], str | None], None],
            correct_mask: bool = False) -> None:
    """Run every job (params, overrides, seed) as a Ray task; record(key, result, error) as each one ends."""
    if not jobs:
        return
    import ray

    from tuning.trainable import SharedDataset, final_eval

    task = ray.remote(final_eval).options(num_cpus=args.cpus_per_trial, num_gpus=args.gpus_per_trial)
    data_ref = SharedDataset.put(data)
    pending = {task.remote(args.space_obj, params, overrides, seed, data_ref, correct_mask=correct_mask): key
               for key, (params, overrides, seed) in jobs.items()}
    t0, total = time.time(), len(pending)
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        key = pending.pop(ready[0])
        try:
            out, error = ray.get(ready[0]), None
        except Exception as e:  # one failed run must not lose the others
            out, error = dict(ERRORED_RUN), str(e)[-4000:]
            print(f"  {label(key)} failed: {e}", file=sys.stderr)
        record(key, out, error)
        finished, elapsed = total - len(pending), time.time() - t0
        result = "errored (above)" if out["status"] == "errored" else f"test acc {100 * out['test_acc']:.2f}%"
        eta = duration(elapsed / finished * len(pending)) if pending else "done"
        print(f"  [{finished}/{total}] {label(key)}: {result} | {duration(elapsed)} elapsed, ETA {eta}", flush=True)
