#!/usr/bin/env python
"""Run a hyperparameter study on Ray Tune: Optuna (TPE, QMC or random) proposes, ASHA prunes, every trial and
epoch lands in the trial database as it arrives.

    python tuning/run.py --space cnn_aug                      # a local Ray instance, the laptop budget
    python tuning/run.py --space cnn_aug --address auto       # join a running Ray cluster
    python tuning/run.py --space cnn_aug --name s1 --resume   # continue an interrupted study
    python tuning/run.py --list-spaces
"""
from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python tuning/run.py` puts tuning/ first on the path, not the project

from search_spaces.loader import SpaceError, list_spaces, load_space  # noqa: E402
from tuning.budgets import BUDGETS  # noqa: E402
from tuning.command import portable_command  # noqa: E402
from tuning.db import TrialDB, db_url, final_evals, redact, trials  # noqa: E402
from tuning.search import METRIC, SAMPLERS, make_scheduler, make_searcher  # noqa: E402  (imports, starts no Ray)

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="tuning/run.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n")[1])
    p.add_argument("--space", help="search space name (see --list-spaces) or a .yaml path")
    p.add_argument("--list-spaces", action="store_true", help="list the search spaces and exit")
    p.add_argument("--budget", choices=sorted(BUDGETS), default="laptop",
                   help="preset: " + "; ".join(f"{b.name}: {b.summary}" for b in BUDGETS.values()))
    p.add_argument("--num-samples", type=int, help="trials (default: the budget's)")
    p.add_argument("--max-epochs", type=int, help="epochs of a trial ASHA never stops (default: the budget's)")
    p.add_argument("--data-fraction", type=float, help="share of the training split (default: the budget's)")
    p.add_argument("--grace-period", type=int, help="ASHA: epochs before a trial may be stopped")
    p.add_argument("--reduction-factor", type=int, help="ASHA: keep the top 1/rf at each rung")
    p.add_argument("--time-budget", type=float, help="wall-clock cap of the search, seconds")
    p.add_argument("--startup-trials", type=int, help="TPE: random trials before it models the results "
                   "(default: the budget's)")
    p.add_argument("--sampler", choices=SAMPLERS, default="tpe",
                   help="tpe: Optuna's TPE (default); qmc: quasi-random exploration; random")
    p.add_argument("--scheduler", choices=("asha", "fifo"), default="asha", help="fifo: no early stopping")
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--gpus-per-trial", type=float, default=0.0, help="fractional packs trials on a GPU, e.g. 0.25")
    p.add_argument("--max-concurrent", type=int, help="trials at once (default: as many as the resources allow)")
    p.add_argument("--max-failures", type=int, default=2, help="retries of a trial whose worker died")
    p.add_argument("--address", help="join an existing Ray cluster: auto or HOST:PORT (default: start one locally)")
    p.add_argument("--name", help="study name (default: the space's name)")
    p.add_argument("--storage-path", default=str(ROOT / "runs"),
                   help="Ray experiment folder; multi-node studies need storage every node can reach")
    p.add_argument("--db", help="trial database: a file path or SQLAlchemy URL (default: <storage>/<name>/trials.db)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted study of this name")
    p.add_argument("--seed", type=int, default=0, help="sampler seed and training seed of every trial")
    p.add_argument("--final-eval", type=int, default=0, metavar="K",
                   help="retrain the K best (on validation) at the full budget over several seeds; test them")
    p.add_argument("--final-seeds", type=int, help="seeds per final-eval configuration (default: the budget's)")
    p.add_argument("--data-dir", help="folder with the four Fashion-MNIST IDX files")
    args = p.parse_args(argv)

    if args.list_spaces:
        return args
    if not args.space:
        p.error("--space is required (one of: " + ", ".join(list_spaces()) + ")")
    for flag in ("num_samples", "max_epochs", "grace_period", "final_seeds", "max_concurrent", "startup_trials"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            p.error(f"--{flag.replace('_', '-')} must be >= 1, got {v}")
    if args.reduction_factor is not None and args.reduction_factor < 2:
        p.error(f"--reduction-factor must be >= 2, got {args.reduction_factor}")
    if args.data_fraction is not None and not 0 < args.data_fraction <= 1:
        p.error(f"--data-fraction must be in (0, 1], got {args.data_fraction}")
    if args.cpus_per_trial <= 0 or args.gpus_per_trial < 0 or args.max_failures < 0 or args.final_eval < 0:
        p.error("--cpus-per-trial must be > 0; --gpus-per-trial, --max-failures and --final-eval must be >= 0")
    if args.time_budget is not None and args.time_budget <= 0:
        p.error(f"--time-budget must be > 0 seconds, got {args.time_budget}")
    if args.address and (problem := unreachable(args.address)):
        p.error(f"--address {args.address}: no Ray head answers there ({problem}); start one with `ray start --head` "
                f"or `ray up cluster.yaml`, use --address auto on a cluster node, or leave --address out to start "
                f"Ray locally")
    try:
        args.space_obj = load_space(args.space)
    except SpaceError as e:
        p.error(str(e))
    args.name = args.name or args.space_obj.name
    budget = BUDGETS[args.budget].with_overrides(
        num_samples=args.num_samples, max_epochs=args.max_epochs, data_fraction=args.data_fraction,
        grace_period=args.grace_period, reduction_factor=args.reduction_factor, time_budget_s=args.time_budget,
        startup_trials=args.startup_trials, final_seeds=args.final_seeds)
    if budget.grace_period > budget.max_epochs:
        p.error(f"grace period {budget.grace_period} exceeds max epochs {budget.max_epochs}")
    args.budget_obj = budget
    args.storage = Path(args.storage_path).expanduser().resolve() if "://" not in args.storage_path \
        else args.storage_path
    args.db_url = db_url(args.db, Path(args.storage) / args.name / "trials.db" if isinstance(args.storage, Path)
                         else ROOT / "runs" / args.name / "trials.db")
    return args


def unreachable(address: str, timeout: float = 5.0) -> str | None:
    """Why a HOST:PORT head address cannot be reached, or None. ray.init would retry it for minutes instead."""
    if address == "auto" or "://" in address:
        return None  # Ray resolves these itself, and fails fast when there is nothing to find
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return "expected HOST:PORT or auto"
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        return e.strerror or type(e).__name__
    return None


def provenance() -> dict:
    import numpy
    import optuna
    import ray
    import torch

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    versions = {"python": platform.python_version(), "torch": torch.__version__, "ray": ray.__version__,
                "optuna": optuna.__version__, "numpy": numpy.__version__}
    return {"git_commit": commit, "versions": versions}


def best_trials(args, k: int):
    """The top-k trials on validation, ranked exactly as the analysis ranks them (one implementation)."""
    from analysis import load_study
    from analysis.tables import leaderboard

    study = load_study(args.db_url, args.name)
    return leaderboard(study, k), study.trials.set_index("trial_id")


def print_leaderboard(board) -> None:
    from analysis.tables import formatted, to_markdown

    print("\nleaderboard (validation accuracy; test is only read by --final-eval)")
    print(to_markdown(formatted(board)) if len(board) else "(no trial reported a result)")


def run_final_eval(args, db: TrialDB, data, overrides: dict) -> None:
    import ray

    from tuning.trainable import final_eval

    b = args.budget_obj
    board, by_id = best_trials(args, args.final_eval)
    # An errored retraining is not done: a rerun with --resume tries it again.
    done = {(r["trial_id"], r["seed"]) for r in db.rows(final_evals, args.name)
            if r["status"] not in (None, "errored")}
    task = ray.remote(final_eval).options(num_cpus=args.cpus_per_trial, num_gpus=args.gpus_per_trial)
    data_ref = ray.put(data)
    final_overrides = {**overrides, "epochs": b.final_epochs} if args.space_obj.kind == "deep" else overrides
    pending = {}
    for rank, trial_id in enumerate(board["trial"] if len(board) else [], 1):
        for seed in range(args.seed, args.seed + b.final_seeds):
            if (trial_id, seed) not in done:
                ref = task.remote(args.space_obj, by_id.loc[trial_id, "params"], final_overrides, seed, data_ref)
                pending[ref] = (rank, trial_id, seed)
    total = len(pending)
    each = f"{b.final_epochs} epochs each" if args.space_obj.kind == "deep" else "one fit each"
    print(f"\nfinal evaluation: {len(board)} configurations x {b.final_seeds} seeds, {each} ({total} runs to do)",
          flush=True)
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        rank, trial_id, seed = pending.pop(ready[0])
        try:
            out = ray.get(ready[0])
        except Exception as e:  # one failed retraining must not lose the others
            out = {"status": "errored", "test_acc": None, "val_acc": None, "epochs": 0, "wall_time": None,
                   "config": None}
            print(f"  final eval of {trial_id} seed {seed} failed: {e}", file=sys.stderr)
        db.upsert_final_eval(args.name, trial_id, seed, rank=rank, **out)
        result = "errored (above)" if out["status"] == "errored" else f"test acc {100 * out['test_acc']:.2f}%"
        print(f"  [{total - len(pending)}/{total}] rank {rank} {trial_id} seed {seed}: {result}", flush=True)
    for trial_id in board["trial"] if len(board) else []:
        accs = [r["test_acc"] for r in db.rows(final_evals, args.name)
                if r["trial_id"] == trial_id and r["test_acc"] is not None]
        if accs:
            db.upsert_trial(args.name, trial_id, test_acc=sum(accs) / len(accs))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list_spaces:
        for name, desc in list_spaces().items():
            print(f"{name:<12} {desc}")
        return 0
    space, budget = args.space_obj, args.budget_obj
    if space.kind == "classical" and args.scheduler == "asha":
        args.scheduler = "fifo"  # a classical fit reports once: there are no epochs to stop early at

    try:
        db = TrialDB(args.db_url)
        existing = db.study(args.name)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, OSError) as e:  # no server, bad login, no driver...
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"error: --db {redact(args.db_url)}: cannot open the trial database: {reason}", file=sys.stderr)
        return 2
    exp_path = f"{args.storage}/{args.name}"
    if existing and not args.resume:
        print(f"error: study {args.name!r} already exists in {args.db_url}; pass --resume to continue it, or "
              f"choose another --name", file=sys.stderr)
        return 2
    if args.resume and not existing:
        print(f"error: --resume: no study {args.name!r} in {args.db_url} to continue", file=sys.stderr)
        return 2
    if args.resume:
        from ray.tune import Tuner  # checks files only; starts no Ray

        if not Tuner.can_restore(exp_path):
            print(f"error: --resume: no Ray experiment state at {exp_path} (pass the --storage-path the study "
                  f"ran with)", file=sys.stderr)
            return 2

    from ganrator.data import DataError, load_fashion_mnist

    try:
        data = load_fashion_mnist(args.data_dir, val_size=budget.val_size, seed=0)
    except (DataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    print(f"study {args.name!r}: space {space.name} ({space.description})")
    print(f"budget {budget.name}: {budget.summary}" if budget == BUDGETS[budget.name] else
          f"budget {budget.name} with overrides: {budget.to_dict()}")
    if space.kind == "classical":
        print(f"classical space: one fit per trial on {budget.data_fraction:g} of the training split; epochs and "
              f"ASHA do not apply (FIFO scheduler)")
    print(f"search: {args.sampler} sampler, {args.scheduler} scheduler, seed {args.seed}; "
          f"trial database {args.db_url}", flush=True)

    # Save the experiment state often, so a killed driver loses at most a few seconds of it.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    # Every epoch checkpoints and num_to_keep forces a snapshot; that is intended here, not a bottleneck.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # A trial skipped on resume (finished before the crash) returns without a result; ASHA and OptunaSearch
    # ignore such a result, but the strict check would fail the study. Every real report carries val_acc.
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    import ray
    from ray import tune

    from tuning.callbacks import Progress, TrialRecorder
    from tuning.trainable import train_trial

    # log_to_driver=False: trial errors land in the database and Tune's error files, not as worker log spam.
    try:
        ray.init(address=args.address, include_dashboard=False, logging_level="WARNING", log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}} if args.address is None else None)
    except ConnectionError as e:  # --address auto with no cluster on this machine
        print(f"error: --address {args.address}: {e}", file=sys.stderr)
        return 2
    resources = ray.cluster_resources()
    if args.max_concurrent:
        max_concurrent = args.max_concurrent
    elif args.gpus_per_trial > 0:
        max_concurrent = max(1, int(resources.get("GPU", 0) / args.gpus_per_trial))
    else:
        max_concurrent = max(1, int(resources.get("CPU", 1) / args.cpus_per_trial))
    print(f"ray: {len(ray.nodes())} node(s), {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs; "
          f"up to {max_concurrent} trials at once", flush=True)

    overrides = {"data_fraction": budget.data_fraction, "val_size": budget.val_size, "seed": args.seed}
    if space.kind == "deep":
        overrides["epochs"] = budget.max_epochs
    finished = frozenset(db.finished_trials(args.name)) if args.resume else frozenset()
    trainable = tune.with_resources(
        tune.with_parameters(train_trial, space=space, overrides=overrides, data=data, skip=finished),
        {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial})
    info = provenance()
    session = {"status": "running", "hardware": {"nodes": len(ray.nodes()), "cpus": resources.get("CPU", 0),
                                                 "gpus": resources.get("GPU", 0), "platform": platform.platform()}}
    if existing:  # a resume continues the stored study as it was defined: its budget, search and command stay
        db.upsert_study(args.name, **session)
    else:
        db.upsert_study(args.name, space=space.name, kind=space.kind, description=space.description,
                        roles=space.roles, budget=budget.to_dict(), created_at=time.time(),
                        command=portable_command(["python", *sys.argv]),
                        search={"sampler": args.sampler, "scheduler": args.scheduler, "seed": args.seed,
                                "cpus_per_trial": args.cpus_per_trial, "gpus_per_trial": args.gpus_per_trial,
                                "max_concurrent": max_concurrent, "address": args.address, "metric": METRIC,
                                "storage_path": str(args.storage), "params": space.param_specs,
                                "fixed": space.fixed},
                        **session, **info)

    t0 = time.time()
    if args.resume:
        print(f"resuming {exp_path}", flush=True)
        tuner = tune.Tuner.restore(exp_path, trainable=trainable, resume_unfinished=True, resume_errored=False)
    else:
        recorder = TrialRecorder(db, args.name, space, overrides, budget.max_epochs if space.kind == "deep" else 1,
                                 info)
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(search_alg=make_searcher(space, args.sampler, args.seed, args.name, args.db_url,
                                                                 max_concurrent, budget.startup_trials),
                                        scheduler=make_scheduler(args.scheduler, budget.max_epochs,
                                                                 budget.grace_period, budget.reduction_factor),
                                        num_samples=budget.num_samples, time_budget_s=budget.time_budget_s,
                                        reuse_actors=False),
            run_config=tune.RunConfig(
                name=args.name, storage_path=str(args.storage), verbose=0,
                callbacks=[recorder, Progress(budget.num_samples, budget.time_budget_s)],
                failure_config=tune.FailureConfig(max_failures=args.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
        )
    tuner.fit()
    db.upsert_study(args.name, status="finished")
    rows = db.rows(trials, args.name)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("completed", "early_stopped", "diverged", "errored")}
    print(f"\nsearch done in {time.time() - t0:.0f}s: {len(rows)} trials, " +
          ", ".join(f"{n} {s}" for s, n in counts.items()))
    print_leaderboard(best_trials(args, 10)[0])
    if args.final_eval:
        run_final_eval(args, db, data, overrides)
    print(f"\nwritten: trial database {args.db_url}\n         Ray experiment {exp_path}")
    db_arg = args.db_url.removeprefix("sqlite:///") if args.db_url.startswith("sqlite:///") else args.db_url
    print(f"report:  python -m analysis report --db {db_arg} --name {args.name} --out reports/{args.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
