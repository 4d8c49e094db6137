"""Search-machinery benchmarks, each against a baseline measured in the same run, through the real CLI:

1. overhead: the smoke study's wall time against the sum of its trials' training time;
2. scaling: one study on one local Ray node vs two local nodes of one CPU each (trials per minute, ratio);
3. search efficiency: ASHA + TPE against FIFO + random search on the same space and seed
   (total epochs spent, best validation accuracy reached).

    python benchmarks/search.py [--only overhead,scaling,efficiency] [--out runs/bench]
"""
from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = [sys.executable, str(ROOT / "tuning" / "run.py")]


def study(args: list[str], storage: Path, env: dict | None = None) -> tuple[float, Path]:
    t0 = time.perf_counter()
    out = subprocess.run([*RUN, *args, "--storage-path", str(storage)], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, cwd=ROOT)
    if out.returncode:
        sys.exit(f"study failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    name = args[args.index("--name") + 1] if "--name" in args else args[args.index("--space") + 1]
    return time.perf_counter() - t0, storage / name / "trials.db"


def one(db: Path, sql: str):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()


def overhead(tmp: Path) -> None:
    wall, db = study(["--space", "smoke", "--budget", "smoke"], tmp / "overhead")
    train, n = one(db, "select sum(epoch_seconds), count(distinct trial_id) from ganrator_epochs")
    span = one(db, "select max(ended_at) - min(started_at) from ganrator_trials")[0]
    print(f"overhead: smoke study, {n} trials, 2 concurrent on 2 CPUs")
    print(f"  CLI wall time {wall:.1f}s (search span {span:.1f}s); sum of trial training time {train:.1f}s")
    print(f"  wall / (training / 2 workers) = {wall / (train / 2):.2f}x; span / (training / 2) = "
          f"{span / (train / 2):.2f}x")


def cluster(nodes: int, env: dict) -> subprocess.Popen:
    """A local cluster of `nodes` raylets x 1 CPU (tuning.local_cluster); stop it by closing its stdin."""
    return subprocess.Popen([sys.executable, "-m", "tuning.local_cluster", "--nodes", str(nodes)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)


def scaling(tmp: Path) -> None:
    # Same trials both times: random sampler, same seed, FIFO (no early stopping decisions to differ).
    args = ["--space", "smoke", "--budget", "smoke", "--num-samples", "8", "--max-epochs", "2",
            "--data-fraction", "0.1", "--sampler", "random", "--scheduler", "fifo"]
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    rates = {}
    for nodes in (1, 2):
        proc = cluster(nodes, env)
        try:
            address = proc.stdout.readline().strip()
            wall, db = study([*args, "--address", address, "--name", f"scale{nodes}"], tmp / "scaling", env)
        finally:
            proc.stdin.close()
            proc.wait()
        span, n = one(db, "select max(ended_at) - min(started_at), count(*) from ganrator_trials")
        used = one(db, "select count(distinct node) from ganrator_trials")[0]
        rates[nodes] = n / span * 60
        print(f"scaling: {nodes} node(s) x 1 CPU: {n} trials in {span:.1f}s (CLI {wall:.1f}s) -> "
              f"{rates[nodes]:.1f} trials/min, trials ran on {used} node(s)")
    print(f"  ratio 2 nodes / 1 node: {rates[2] / rates[1]:.2f}x (target >= 1.7x)")


def efficiency(tmp: Path) -> None:
    common = ["--space", "smoke", "--budget", "smoke", "--num-samples", "16", "--max-epochs", "6",
              "--data-fraction", "0.05", "--seed", "1"]
    for label, extra in (("FIFO + random", ["--sampler", "random", "--scheduler", "fifo", "--name", "fifo_random"]),
                         ("ASHA + TPE", ["--sampler", "tpe", "--scheduler", "asha", "--grace-period", "1",
                                         "--reduction-factor", "3", "--name", "asha_tpe"])):
        wall, db = study([*common, *extra], tmp / "efficiency")
        epochs, best = one(db, "select sum(epochs), max(best_val_acc) from ganrator_trials")
        stopped = one(db, "select count(*) from ganrator_trials where status = 'early_stopped'")[0]
        print(f"efficiency: {label:<13}: {epochs:3d} epochs spent, best val_acc {100 * best:.2f}%, "
              f"{stopped} early-stopped, {wall:.0f}s wall")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="overhead,scaling,efficiency")
    p.add_argument("--out", help="keep the study databases here (e.g. for `python -m analysis docs --system-db`)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="ganrator-bench-") as d:
        root = Path(args.out).resolve() if args.out else Path(d)
        for part in ("overhead", "scaling", "efficiency"):
            if part in args.only.split(","):
                globals()[part](root)
        if args.out:
            print(f"study databases kept under {root}")


if __name__ == "__main__":
    main()
