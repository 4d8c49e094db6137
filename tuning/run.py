#!/usr/bin/env python
"""Run a hyperparameter study on Ray Tune: Optuna (TPE, QMC or random) proposes, ASHA prunes, every trial and
epoch lands in the trial database as it arrives.

    python tuning/run.py --space cnn_aug                      # a local Ray instance, the laptop budget
    python tuning/run.py --space cnn_aug --address auto       # join a running Ray cluster
    python tuning/run.py --space cnn_aug --name s1 --resume   # continue an interrupted study
    python tuning/run.py --list-spaces
"""
from __future__ import annotations

import time

STARTED_AT = time.time()  # the driver's imports are timed from here (ganrator_studies.startup)

import argparse
import logging
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy

if TYPE_CHECKING:
    import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python tuning/run.py` puts tuning/ first on the path, not the project

# What checking the command line needs. The search space's loader is imported once the flags are accepted, and Ray
# Tune, Optuna and pandas once the study is, all while a local Ray starts on a thread (tuning.ray_start): they
# overlap instead of adding up. The driver never imports torch (1.6 s alone, more beside Ray's start): the space is
# checked against ganrator.recipe and the model registry, which need none, and the data travels as numpy arrays.
from tuning.budgets import BUDGETS, METRIC, SAMPLERS, fresh_seeds  # noqa: E402
from tuning.db import (TERMINAL, DBError, TrialDB, db_url, final_evals, open_db, redact,  # noqa: E402
                       study_name_problem, trials)
import tuning.db  # noqa: E402
from tuning.command import portable_command  # noqa: E402
from tuning.ray_start import RayStart  # noqa: E402
from tuning.retrain import RetrainInterrupted, retrain  # noqa: E402


def import_search_machinery() -> None:
    """Import what the search and its write-up use (the functions below import it where they need it)."""
    import pandas  # noqa: F401
    import tuning.confirm  # noqa: F401
    import tuning.search  # noqa: F401
    import tuning.selection  # noqa: F401
    import tuning.states  # noqa: F401


def parse_flags(argv: list[str] | None = None) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
    """The flags, the budget and the study's name and storage: all that can be checked before the search space's
    contents are."""
    p = argparse.ArgumentParser(prog="tuning/run.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n")[1])
    p.add_argument("--space", help="search space name (see --list-spaces) or a .yaml path")
    p.add_argument("--list-spaces", action="store_true", help="list the search spaces and exit")
    p.add_argument("--budget", choices=sorted(BUDGETS), default="laptop",
                   help="preset: " + "; ".join(f"{b.name}: {b.summary}" for b in BUDGETS.values()).replace("%", "%%"))
    p.add_argument("--num-samples", type=int, help="trials (default: the budget's)")
    p.add_argument("--max-epochs", type=int, help="epochs of a trial ASHA never stops (default: the budget's)")
    p.add_argument("--data-fraction", type=float, help="share of the training split (default: the budget's)")
    p.add_argument("--val-size", type=int, help="images of the 60,000 held out for validation (default: the "
                                                "budget's); the rest is the training split")
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
    p.add_argument("--lend-idle-cores", action=argparse.BooleanOptionalAction, default=True,
                   help="once every trial has been created, the cores of ended trials go to the running ones on "
                        "their node as torch threads (CPU trials; tuning/idle_cores.py)")
    p.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=False,
                   help="also write TensorBoard event files per trial beside Tune's CSV and JSON logs (off by "
                        "default: tensorboardX imports torch into the driver, 1.7 s of start-up; the trial "
                        "database holds every epoch)")
    p.add_argument("--reuse-actors", action=argparse.BooleanOptionalAction, default=True,
                   help="run a worker's next trial in the same process (default), which pays imports and the "
                        "dataset once; --no-reuse-actors starts a fresh process per trial")
    p.add_argument("--address", help="join an existing Ray cluster: auto or HOST:PORT (default: start one locally)")
    p.add_argument("--name", help="study name, also its folder under --storage-path (default: the space's name)")
    p.add_argument("--storage-path", default=str(ROOT / "runs"),
                   help="Ray experiment folder; multi-node studies need storage every node can reach")
    p.add_argument("--db", help="trial database: a file path or SQLAlchemy URL (default: <storage>/<name>/trials.db)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted study of this name")
    p.add_argument("--seed", type=int, default=0, help="sampler seed and training seed of every trial")
    p.add_argument("--final-eval", type=int, default=0, metavar="K",
                   help="retrain the K best (on validation) at the full budget over several seeds; test them")
    p.add_argument("--final-seeds", type=int, help="seeds per final-eval configuration (default: the budget's)")
    p.add_argument("--data-dir", help="folder with the four Fashion-MNIST IDX files")
    p.add_argument("--confirm", action=argparse.BooleanOptionalAction, default=None,
                   help="after the search, retrain every value of every scientific parameter on fresh seeds "
                        "(tuning/confirm.py; default: the budget's, on for laptop and full)")
    p.add_argument("--confirm-epochs", type=int, help="epochs of each confirmation run (default: the budget's)")
    p.add_argument("--confirm-seeds", type=int, help="fresh seeds per confirmed arm (default: the budget's)")
    p.add_argument("--confirm-data-fraction", type=float, help="share of the training split of each confirmation "
                   "run (default: the budget's)")
    p.add_argument("--calibration-per-model", type=int, help="ASHA: the first trials of each model, which it records "
                   "at every rung but never stops; their rank correlations decide which rungs may stop trials "
                   "(0, or at least 4; default: the budget's)")
    args = p.parse_args(argv)

    if args.list_spaces:
        return args, p
    if not args.space:
        from search_spaces.loader import list_spaces

        p.error("--space is required (one of: " + ", ".join(list_spaces()) + ")")
    for flag in ("num_samples", "max_epochs", "grace_period", "final_seeds", "max_concurrent", "startup_trials",
                 "confirm_epochs", "confirm_seeds"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            p.error(f"--{flag.replace('_', '-')} must be >= 1, got {v}")
    if args.reduction_factor is not None and args.reduction_factor < 2:
        p.error(f"--reduction-factor must be >= 2, got {args.reduction_factor}")
    for flag in ("data_fraction", "confirm_data_fraction"):
        if (v := getattr(args, flag)) is not None and not 0 < v <= 1:
            p.error(f"--{flag.replace('_', '-')} must be in (0, 1], got {v}")
    if args.val_size is not None and not 1_000 <= args.val_size <= 30_000:
        p.error(f"--val-size must be between 1000 and 30000 images, got {args.val_size}")
    if args.calibration_per_model is not None and args.calibration_per_model != 0:
        from tuning.fidelity import MIN_TRIALS  # imported only for this flag: numpy, before the study's imports

        if args.calibration_per_model < MIN_TRIALS:
            p.error(f"--calibration-per-model must be 0 (no rung's fidelity measured: ASHA stops nothing) or at "
                    f"least {MIN_TRIALS} (the fewest trials the fidelity rule ranks), got {args.calibration_per_model}")
    if args.cpus_per_trial <= 0 or args.gpus_per_trial < 0 or args.max_failures < 0 or args.final_eval < 0:
        p.error("--cpus-per-trial must be > 0; --gpus-per-trial, --max-failures and --final-eval must be >= 0")
    if args.time_budget is not None and args.time_budget <= 0:
        p.error(f"--time-budget must be > 0 seconds, got {args.time_budget}")
    if args.name is not None and (problem := study_name_problem(args.name)):
        p.error(f"--name {problem}")
    if args.address and (problem := unreachable(args.address)):
        p.error(f"--address {args.address}: no Ray head answers there ({problem}); start one with `ray start --head` "
                f"or `ray up cluster.yaml`, use --address auto on a cluster node, or leave --address out to start "
                f"Ray locally")
    from search_spaces.files import SpaceError, space_file

    try:
        stem = space_file(args.space).stem  # a missing space is refused at once; its contents with the study
    except SpaceError as e:
        p.error(str(e))
    if args.name is None:
        if problem := study_name_problem(stem):
            p.error(f"--space {args.space}: the study would be named after the file, but {problem}; rename the "
                    f"file or pass --name")
        args.name = stem
    budget = BUDGETS[args.budget].with_overrides(
        num_samples=args.num_samples, max_epochs=args.max_epochs, data_fraction=args.data_fraction,
        val_size=args.val_size,
        grace_period=args.grace_period, reduction_factor=args.reduction_factor, time_budget_s=args.time_budget,
        startup_trials=args.startup_trials, final_seeds=args.final_seeds, confirm_epochs=args.confirm_epochs,
        confirm_seeds=args.confirm_seeds, confirm_data_fraction=args.confirm_data_fraction,
        calibration_per_model=args.calibration_per_model)
    if budget.grace_period > budget.max_epochs:
        p.error(f"grace period {budget.grace_period} exceeds max epochs {budget.max_epochs}")
    args.budget_obj = budget
    args.storage = Path(args.storage_path).expanduser().resolve() if "://" not in args.storage_path \
        else args.storage_path
    args.db_url = db_url(args.db, Path(args.storage) / args.name / "trials.db" if isinstance(args.storage, Path)
                         else ROOT / "runs" / args.name / "trials.db")
    return args, p


def load_study_space(args: argparse.Namespace, p: argparse.ArgumentParser) -> None:
    """The search space the flags name, validated against the trainer's config and the model registry:
    args.space_obj, or p.error naming the file and the key."""
    from search_spaces.loader import SpaceError, load_space

    try:
        args.space_obj = load_space(args.space)
    except SpaceError as e:
        p.error(str(e))


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


def torch_version() -> str:
    """The trials' torch version with its build tag (2.14.1+cu130), read from its files: the driver never imports
    torch, which would cost it a second or two of start-up."""
    import importlib.util
    import re

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return "not installed"
    try:
        text = (Path(spec.submodule_search_locations[0]) / "version.py").read_text()
    except OSError:
        text = ""
    found = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, flags=re.M)
    if found:
        return found[1]
    from importlib.metadata import version

    return version("torch")


def provenance() -> dict:
    import numpy
    import optuna
    import ray

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    versions = {"python": platform.python_version(), "torch": torch_version(), "ray": ray.__version__,
                "optuna": optuna.__version__, "numpy": numpy.__version__}
    return {"git_commit": commit, "versions": versions}


def leaderboard(db: TrialDB, name: str, k: int) -> pd.DataFrame:
    """The top-k trials on validation, by the one ranking rule the analysis uses too (tuning.selection)."""
    from tuning.selection import rank_trials, trials_frame

    return rank_trials(trials_frame(db.rows(trials, name))).head(k).reset_index(drop=True)


def print_leaderboard(board: pd.DataFrame, space) -> None:
    print("\nleaderboard (validation accuracy, the mean of a configuration's runs where it was repeated; full-budget "
          "trials first; test is read only after the search)")
    if not len(board):
        print("(no trial reported a result)")
        return
    shown = [p.name for p in space.params]
    for rank, r in board.iterrows():
        params = ", ".join(f"{p}={r['params'][p]:.3g}" if isinstance(r["params"].get(p), float)
                           else f"{p}={r['params'][p]}" for p in shown if p in (r["params"] or {}))
        runs = int(r.get("runs") or 1)
        print(f"  {rank + 1:>2}. {r['trial_id']}  val {100 * r['last_val_acc']:6.2f}%  {r['status']:<13} "
              f"{int(r['epochs'] or 0):>3} epochs  {f'{runs} runs ' if runs > 1 else ''}{params}")


def run_final_eval(args, db: TrialDB, data, overrides: dict) -> None:
    """--final-eval K: the K best on validation retrained at the budget's final length on fresh seeds, tested once."""
    if not args.final_eval:
        return
    b = args.budget_obj
    board = leaderboard(db, args.name, args.final_eval)
    # An errored retraining is not done: a rerun with --resume tries it again.
    done = {(r["trial_id"], r["seed"]) for r in db.rows(final_evals, args.name)
            if r["status"] not in (None, "errored")}
    final_overrides = {**overrides, "epochs": b.final_epochs} if args.space_obj.kind == "deep" else overrides
    ranks = {r["trial_id"]: rank for rank, r in enumerate(board.to_dict("records"), 1)}
    params = dict(zip(board["trial_id"], board["params"]))
    jobs = {(tid, seed): (params[tid], final_overrides, seed) for tid in ranks
            for seed in fresh_seeds(args.seed, b.final_seeds) if (tid, seed) not in done}
    each = f"{b.final_epochs} epochs each" if args.space_obj.kind == "deep" else "one fit each"
    print(f"\nfinal evaluation: {len(board)} configurations x {b.final_seeds} seeds, {each} ({len(jobs)} runs to do)",
          flush=True)
    # with each run's per-image test correctness, for paired tests against other studies' runs (the headline)
    retrain(args, data, jobs, label=lambda job: f"rank {ranks[job[0]]} {job[0]} seed {job[1]}",
            record=lambda job, out, error: db.upsert_final_eval(args.name, *job, rank=ranks[job[0]], **out),
            correct_mask=True)
    for trial_id in ranks:
        accs = [r["test_acc"] for r in db.rows(final_evals, args.name)
                if r["trial_id"] == trial_id and r["test_acc"] is not None]
        if accs:
            db.upsert_trial(args.name, trial_id, test_acc=sum(accs) / len(accs))


class StopOnSignal:
    """SIGINT and SIGTERM end the search the way Ray Tune ends it on its own SIGINT: its loop stops and saves the
    experiment state with the in-flight trials unfinished, so --resume continues them from their checkpoints.

    Tune's own SIGINT handler is switched off (TUNE_DISABLE_SIGINT_HANDLER) because it prints a hint naming
    Tuner.restore, not our command line, and cannot tell the driver it fired; SIGTERM it ignores. Both signals
    here call the stop hook Tune installs on SIGUSR1 during fit(), and remember which signal came.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum: int | None = None
        self.previous: dict[int, Any] = {}

    def __enter__(self):
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        self.previous = {s: signal.signal(s, self.handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)

    def handle(self, signum: int, frame) -> None:
        if self.signum is not None:  # a second signal: stop waiting for the trials to save
            raise KeyboardInterrupt
        self.signum = signum
        print(f"\n{signal.Signals(signum).name}: stopping the search; the running trials save their state "
              f"(send it again to stop at once)", file=sys.stderr, flush=True)
        # Tune's exit path logs its own resume hint and "Trials did not complete"; ours is printed instead.
        logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
        tune_stop = signal.getsignal(signal.SIGUSR1)
        if not callable(tune_stop):  # Tune's loop has not started (or has ended)
            raise KeyboardInterrupt
        tune_stop(signum, frame)


def _fresh_actors_on_resume(tuner) -> None:
    """A resumed study restores its trials from checkpoints in a fresh process each: a resume is rare and short,
    and this is the set-up the crash-and-resume tests check (reuse on resume is untested). Tuner.restore takes no
    TuneConfig, hence the private attribute (left alone when a Ray version lacks it)."""
    import dataclasses

    local = getattr(tuner, "_local_tuner", None)
    config = getattr(local, "_tune_config", None)
    if config is not None and dataclasses.is_dataclass(config) and getattr(config, "reuse_actors", False):
        local._tune_config = dataclasses.replace(config, reuse_actors=False)


def interrupted(args, db: TrialDB, argv: list[str] | None, signum: int) -> int:
    """Close the in-flight trials as interrupted, print how to continue, and exit as a signalled process does."""
    from tuning.states import INTERRUPTED, close_unfinished

    close_unfinished(db, args.name, INTERRUPTED)
    db.upsert_study(args.name, status=INTERRUPTED)
    rows = db.rows(trials, args.name)
    done = sum(r["status"] in TERMINAL for r in rows)
    total = (db.study(args.name).get("budget") or {}).get("num_samples", args.budget_obj.num_samples)
    print(f"\ninterrupted after {done} of {total} trials; continue with:\n  {resume_command(argv)}", flush=True)
    return 128 + signum  # 130 for SIGINT, 143 for SIGTERM: what a shell reports for a signalled process


def resume_command(argv: list[str] | None) -> str:
    flags = list(sys.argv[1:] if argv is None else argv)
    script = sys.argv[0] if argv is None else str(ROOT / "tuning" / "run.py")
    return shlex.join([sys.executable, script, *flags, *([] if "--resume" in flags else ["--resume"])])


def retrain_interrupted(args, db: TrialDB, argv: list[str] | None, e: RetrainInterrupted) -> int:
    """A signal during the confirmation or final evaluation: its finished runs are in the database, the running
    ones were cancelled and run again under --resume."""
    from tuning.states import INTERRUPTED

    db.upsert_study(args.name, status=INTERRUPTED)
    print(f"\ninterrupted after {e.done} of {e.total} retraining runs (the search is finished); continue with:\n"
          f"  {resume_command(argv)}", flush=True)
    return 128 + e.signum


class StudyError(Exception):
    """Input that stops a study before it starts: printed as one line, exit code 2, nothing written."""


def open_study(args) -> tuple[TrialDB, dict | None]:
    """The trial database and the stored study of this name (None for a new one), after the --resume checks."""
    try:
        db = open_db(args.db_url)  # a folder, a foreign or read-only file, no server: one line, nothing written
        take_lease(args)  # first: while another driver runs the study, nothing else about it matters
        existing = db.study(args.name)
    except DBError as e:
        raise StudyError(f"--db {e}") from None
    except (sqlalchemy.exc.SQLAlchemyError, OSError) as e:  # the server went away between the two calls
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StudyError(f"--db {redact(args.db_url)}: cannot read the trial database: {reason}") from None
    if existing and not args.resume:
        raise StudyError(f"study {args.name!r} already exists in {redact(args.db_url)}; pass --resume to continue "
                         f"it, or choose another --name")
    if args.resume and not existing:
        raise StudyError(f"--resume: no study {args.name!r} in {redact(args.db_url)} to continue")
    if args.resume:
        from ray.tune import Tuner  # checks files only; starts no Ray

        if not Tuner.can_restore(experiment_path(args)):
            raise StudyError(f"--resume: no Ray experiment state at {experiment_path(args)} (pass the "
                             f"--storage-path the study ran with)")
        args.budget_update = resumed_budget(existing.get("budget") or {}, args.budget_obj)
    return db, existing


def take_lease(args) -> None:
    """This driver's lease on the study (tuning/lease.py), as args.lease; main releases it on exit. A study another
    driver runs is refused, naming that driver."""
    from tuning.lease import Lease, LeaseHeld

    try:
        lease = Lease(args.db_url, args.name)
    except ValueError as e:  # a bad GANRATOR_LEASE_TIMEOUT_S
        raise StudyError(str(e)) from None
    try:
        gone = lease.take()
    except LeaseHeld as e:
        lease.engine.dispose()
        raise StudyError(str(e)) from None
    args.lease = lease
    if gone is None:
        return
    why = "that is gone" if gone.silent_s <= gone.timeout_s else \
        f"silent for {gone.silent_s:.0f} s, past its {gone.timeout_s:g} s timeout"
    print(f"lease: took study {args.name!r} over from a driver {why} ({gone})", flush=True)


def resumed_budget(stored: dict, budget) -> dict | None:
    """The stored budget with more confirmation seeds, where a resume asks for them (a third seed for every arm:
    the runs done keep theirs, since fresh_seeds of n + 1 starts with those of n); else None. A resume that would
    retrain arms for another length or on another share of the data is refused: it would mix run lengths in one
    confirmation, which pairs runs by seed alone."""
    for key, flag in (("confirm_epochs", "--confirm-epochs"), ("confirm_data_fraction", "--confirm-data-fraction")):
        if key in stored and stored[key] != getattr(budget, key):
            raise StudyError(f"--resume: the study's confirmation ran with {key} = {stored[key]}, this run asks for "
                             f"{getattr(budget, key)}; pass {flag} {stored[key]} (or leave it out with the study's "
                             f"--budget), or start a new study with --name")
    if budget.confirm_seeds > stored.get("confirm_seeds", budget.confirm_seeds):
        return {**stored, "confirm_seeds": budget.confirm_seeds}
    return None


def check_storage(args) -> None:
    """The Ray experiment folder can be made and written: checked before anything is written, without writing
    (Ray would fail only once started, with a traceback from its file system layer). A URI is Ray's to check."""
    if not isinstance(args.storage, Path):
        return
    folder = args.storage / args.name
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise StudyError(f"--storage-path {args.storage}: cannot make {folder}: {existing} is a file, not a folder; "
                         f"pass another --storage-path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise StudyError(f"--storage-path {args.storage}: cannot write {folder}: {existing} is read-only; pass a "
                         f"writable --storage-path")


def experiment_path(args) -> str:
    return f"{args.storage}/{args.name}"


def find_data(args) -> None:
    """The dataset's files exist (a cheap check before Ray starts; load_data reads and checks their contents)."""
    from ganrator.data import DataError, find_files

    try:
        find_files(args.data_dir)
    except DataError as e:
        raise StudyError(str(e)) from None


def load_data(args):
    """The dataset as numpy arrays: the driver only puts them in Ray's object store, and imports no torch."""
    from ganrator.data import DataError, load_arrays

    try:
        return load_arrays(args.data_dir, val_size=args.budget_obj.val_size, seed=0)
    except (DataError, ValueError) as e:
        raise StudyError(str(e)) from None


def startup_plan(args):
    """The stratified start-up (tuning/coverage.py), said in a few lines: its trials, the values each got and the
    calibration trials ASHA never stops."""
    from tuning.coverage import PER_VALUE, stratified_startup

    b = args.budget_obj
    asha = args.scheduler == "asha"
    plan = stratified_startup(args.space_obj, args.seed, b.calibration_per_model if asha else 0, b.num_samples)
    shares = "; ".join(f"{p}: " + ", ".join(f"{v} {n}" for v, n in c.items()) for p, c in plan.counts.items() if c)
    if shares:
        print(f"start-up: the first {len(plan.points)} trials at random, stratified ({shares})")
    if plan.short:
        print(f"start-up: the budget's {b.num_samples} trials leave fewer than {PER_VALUE} start-up trials for "
              f"{', '.join(plan.short)}")
    if asha and plan.calibration:
        first, last = min(plan.calibration), max(plan.calibration)
        span = f"{first}-{last}" if len(plan.calibration) == last - first + 1 else \
            ", ".join(map(str, sorted(plan.calibration)))
        print(f"calibration: trials {span} (the first {b.calibration_per_model} of each model), recorded at every "
              f"ASHA rung and never stopped; ASHA stops nothing until they have ended")
    elif asha:
        print("calibration: none (--calibration-per-model 0): no rung's fidelity is measured, so ASHA stops nothing")
    return plan


def announce(args) -> None:
    space, budget = args.space_obj, args.budget_obj
    print(f"study {args.name!r}: space {space.name} ({space.description})")
    print(f"budget {budget.name}: {budget.summary}" if budget == BUDGETS[budget.name] else
          f"budget {budget.name} with overrides: {budget.to_dict()}")
    if space.kind == "classical":
        print(f"classical space: one fit per trial on {budget.data_fraction:g} of the training split; epochs and "
              f"ASHA do not apply (FIFO scheduler)")
    print(f"search: {args.sampler} sampler, {args.scheduler} scheduler, seed {args.seed}; "
          f"trial database {redact(args.db_url)}", flush=True)


def start_ray(args, starting: RayStart) -> dict[str, Any]:
    """The local Ray instance or the cluster at --address, once `starting` is up: what it offers and how many
    trials run at once."""
    try:
        ray = starting.result()
    except ConnectionError as e:  # --address auto with no cluster on this machine
        raise StudyError(f"{starting.where}: {e}") from None
    resources = ray.cluster_resources()
    if args.max_concurrent:
        max_concurrent = args.max_concurrent
    elif args.gpus_per_trial > 0:
        max_concurrent = max(1, int(resources.get("GPU", 0) / args.gpus_per_trial))
    else:
        max_concurrent = max(1, int(resources.get("CPU", 1) / args.cpus_per_trial))
    print(f"ray: {len(ray.nodes())} node(s), {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs; "
          f"up to {max_concurrent} trials at once", flush=True)
    return {"nodes": len(ray.nodes()), "cpus": resources.get("CPU", 0), "gpus": resources.get("GPU", 0),
            "platform": platform.platform(), "max_concurrent": max_concurrent}


def trial_overrides(args) -> dict[str, Any]:
    """What the budget fixes in every trial's config."""
    budget = args.budget_obj
    overrides = {"data_fraction": budget.data_fraction, "val_size": budget.val_size, "seed": args.seed}
    if args.space_obj.kind == "deep":
        overrides["epochs"] = budget.max_epochs
    return overrides


def record_study(args, db: TrialDB, existing: dict | None, cluster: dict[str, Any]) -> dict[str, Any]:
    """The study's row: its definition once (a resume keeps the stored one), its state and hardware each time."""
    info = provenance()
    session = {"status": "running", "hardware": {k: cluster[k] for k in ("nodes", "cpus", "gpus", "platform")}}
    if existing:  # a resume continues the stored study as it was defined: its budget, search and command stay
        if update := getattr(args, "budget_update", None):  # but for more confirmation seeds, said and recorded
            print(f"confirmation: {update['confirm_seeds']} fresh seeds per arm, up from the study's "
                  f"{existing['budget']['confirm_seeds']}; the study's budget now records {update['confirm_seeds']}")
            session["budget"] = update
        db.upsert_study(args.name, **session)
        return info
    space = args.space_obj
    db.upsert_study(args.name, space=space.name, kind=space.kind, description=space.description,
                    roles=space.roles, budget=args.budget_obj.to_dict(), created_at=time.time(),
                    command=portable_command(["python", *sys.argv]),
                    search={"sampler": args.sampler, "scheduler": args.scheduler, "seed": args.seed,
                            "cpus_per_trial": args.cpus_per_trial, "gpus_per_trial": args.gpus_per_trial,
                            "max_concurrent": cluster["max_concurrent"], "address": args.address, "metric": METRIC,
                            "reuse_actors": args.reuse_actors, "lend_idle_cores": args.lend_idle_cores,
                            "storage_path": str(args.storage), "params": space.param_specs, "fixed": space.fixed,
                            "startup": {"trials": len(args.startup.points),
                                        "calibration": sorted(args.startup.calibration)
                                        if args.scheduler == "asha" else []}},
                    **session, **info)
    return info


def trial_loggers(tensorboard: bool) -> list:
    """Tune's per-trial CSV and JSON logs; TensorBoard's only when asked. Tune adds all three itself unless
    TUNE_DISABLE_AUTO_CALLBACK_LOGGERS is set (tuning.ray_start sets it), and tensorboardX imports torch."""
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    loggers = [CSVLoggerCallback(), JsonLoggerCallback()]
    if tensorboard:
        from ray.tune.logger import TBXLoggerCallback

        loggers.append(TBXLoggerCallback())
    return loggers


def search(args, db: TrialDB, data, info: dict[str, Any], max_concurrent: int, argv: list[str] | None,
           startup: dict[str, float], searcher) -> int | None:
    """The search on Ray Tune; None when it ended (all trials, or the time cap), else the exit code of an
    interrupted one (its resume command printed). startup: the driver's start-up so far, stored with the study
    once the search is ready to begin (its `ready_at`, seconds since the epoch). searcher: a new study's
    searcher, built while Ray started (tuning.search.make_optuna_search); None on --resume, which restores its
    own."""
    from ray import tune

    from tuning.callbacks import SEEN, Progress, TrialRecorder
    from tuning.idle_cores import IdleCores
    from tuning.search import make_scheduler, make_searcher
    from tuning.states import COMPLETED, CUT, DIVERGED, EARLY_STOPPED, ERRORED, INTERRUPTED, close_unfinished
    from tuning.trainable import SharedDataset, train_trial

    space, budget = args.space_obj, args.budget_obj
    overrides = trial_overrides(args)
    finished = frozenset(db.finished_trials(args.name)) if args.resume else frozenset()
    trainable = tune.with_resources(
        tune.with_parameters(train_trial, space=space, overrides=overrides, data=SharedDataset.put(data),
                             skip=finished),
        {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial})
    t0 = time.time()
    if args.resume:
        print(f"resuming {experiment_path(args)}", flush=True)
        tuning.db.RESUMED_URL = args.db_url  # wherever the study directory was when Ray pickled its state
        tuner = tune.Tuner.restore(experiment_path(args), trainable=trainable, resume_unfinished=True,
                                   resume_errored=False)
        _fresh_actors_on_resume(tuner)
    else:
        calibration = args.startup.calibration if args.scheduler == "asha" else frozenset()
        recorder = TrialRecorder(db, args.name, space, overrides, search_epochs(args), info, calibration)
        scheduler, scheduler_callbacks = make_scheduler(args.scheduler, budget.max_epochs, budget.grace_period,
                                                        budget.reduction_factor, calibration, space, db, args.name)
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(search_alg=make_searcher(searcher, max_concurrent), scheduler=scheduler,
                                        num_samples=budget.num_samples, time_budget_s=budget.time_budget_s,
                                        reuse_actors=args.reuse_actors),
            run_config=tune.RunConfig(
                name=args.name, storage_path=str(args.storage), verbose=0,
                callbacks=[recorder, *scheduler_callbacks, Progress(budget.num_samples, budget.time_budget_s),
                           *([IdleCores(budget.num_samples, args.cpus_per_trial)]
                             if args.lend_idle_cores and not args.gpus_per_trial else []),
                           *trial_loggers(args.tensorboard)],
                failure_config=tune.FailureConfig(max_failures=args.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
        )
    db.upsert_study(args.name, startup={**startup, "ready_at": time.time()})
    stop = StopOnSignal()
    with stop:
        try:
            tuner.fit()
        except KeyboardInterrupt:  # a second signal, or one before Tune's loop began: its periodic state stands
            stop.signum = stop.signum or signal.SIGINT
    if stop.signum is not None:
        return interrupted(args, db, argv, stop.signum)
    if args.resume:
        # Trials the killed driver had started after Ray's last snapshot: the resumed run never heard of them
        # (the searcher proposes their configurations again), so they ended with that driver, interrupted.
        lost = {r["trial_id"] for r in db.rows(trials, args.name) if r["status"] == "running"} - SEEN
        if lost:
            close_unfinished(db, args.name, INTERRUPTED, only=lost)
    cut = close_unfinished(db, args.name, CUT)
    db.upsert_study(args.name, status="finished")
    rows = db.rows(trials, args.name)
    counts = {s: sum(r["status"] == s for r in rows) for s in (COMPLETED, EARLY_STOPPED, DIVERGED, ERRORED, CUT)}
    print(f"\nsearch done in {time.time() - t0:.0f}s: {len(rows)} trials, " +
          ", ".join(f"{n} {s}" for s, n in counts.items()))
    if cut:
        print(f"the time cap (--time-budget) cut {len(cut)} trial(s) before their last epoch: {', '.join(cut)}")
    print_leaderboard(leaderboard(db, args.name, 10), space)
    return None


def search_epochs(args) -> int:
    """Epochs of a search trial that runs to the end (a classical fit is one)."""
    return args.budget_obj.max_epochs if args.space_obj.kind == "deep" else 1


def fidelity_check(args, db: TrialDB) -> list[str]:
    """Early stopping's decision per model and rung (tuning/schedulers.py), as stored; a warning where none was
    made (the search ended before its calibration trials had)."""
    study = db.study(args.name) or {}
    if (study.get("search") or {}).get("scheduler") != "asha":
        return []
    from tuning.db import rung_decisions
    from tuning.fidelity import RULE, decision_line

    rows = sorted(db.rows(rung_decisions, args.name), key=lambda r: (r["model"], r["rung"]))
    if not rows and "startup" not in study["search"]:
        return []  # begun before the rule (one ASHA for all models): the report's fidelity table covers it
    if not rows:
        return ["early stopping stopped no trial: the search ended before its calibration trials had, so no rung's "
                "fidelity was decided"]
    print(f"\nearly stopping, per model and rung (rule: {RULE}):")
    for r in rows:
        print(f"  {decision_line(r)}")
    return []


def report(args, warnings: list[str]) -> None:
    for w in warnings:
        print(f"warning: {w}")
    print(f"\nwritten: trial database {redact(args.db_url)}\n         Ray experiment {experiment_path(args)}")
    db_arg = args.db_url.removeprefix("sqlite:///") if args.db_url.startswith("sqlite:///") else redact(args.db_url)
    print(f"report:  python -m analysis report --db {db_arg} --name {args.name} --out reports/{args.name}")


def main(argv: list[str] | None = None) -> int:
    args, parser = parse_flags(argv)
    if args.list_spaces:
        from search_spaces.loader import list_spaces

        for name, desc in list_spaces().items():
            print(f"{name:<12} {desc}")
        return 0
    try:
        return run_study(args, parser, argv)
    finally:
        if getattr(args, "lease", None) is not None:  # taken once the database was opened
            args.lease.release()


def run_study(args: argparse.Namespace, parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """The study, from its space to its report: an exit code."""
    startup = {"imports": time.time() - STARTED_AT}
    starting = None
    try:
        t = time.time()
        load_study_space(args, parser)
        if args.space_obj.kind == "classical" and args.scheduler == "asha":
            args.scheduler = "fifo"  # a classical fit reports once: there are no epochs to stop early at
        if args.space_obj.fixed.get("steps") and args.scheduler == "asha":
            # A step budget gives each training-set size its own number of epochs: ASHA's rungs (in epochs) would
            # compare trials at unequal compute and cut long runs at max_epochs.
            print(f"scheduler: fifo, not asha: space {args.space_obj.name!r} fixes steps = "
                  f"{args.space_obj.fixed['steps']} per trial, so epochs differ between training-set sizes")
            args.scheduler = "fifo"
        check_storage(args)  # first: the default database lives there too
        db, existing = open_study(args)
        find_data(args)
        startup["space"] = time.time() - t  # the space, the study's database and the dataset's files checked
        # The input is accepted (in about 0.1 s, so bad input is one line without a Ray started for it): a new local
        # instance starts, or the cluster is joined, on a thread while the search is imported and the data loads.
        # Data that turns out unreadable meanwhile stops it again.
        starting = RayStart(args.address)
        # The dataset loads on a thread during the search imports: decompressing and splitting it is mostly
        # zlib and numpy, which release the GIL, while imports hold it.
        t = time.time()
        loading = ThreadPoolExecutor(1, thread_name_prefix="dataset").submit(load_data, args)
        import_search_machinery()
        startup["search_imports"] = time.time() - t
        t = time.time()
        data = loading.result()
        startup["data"] = time.time() - t  # what was left to wait for after the imports
        announce(args)
        from tuning.search import make_optuna_search

        if not args.resume:  # a resumed study's searcher and scheduler carry the plan they started with
            args.startup = startup_plan(args)
        t = time.time()
        searcher = None if args.resume else make_optuna_search(
            args.space_obj, args.sampler, args.seed, args.name, args.db_url, args.budget_obj.startup_trials,
            search_epochs(args), args.startup.points, db)
        startup["searcher"] = time.time() - t
        t = time.time()
        cluster = start_ray(args, starting)
        startup["ray_init"] = time.time() - t  # what was left to wait for once the rest was done
    except BaseException as e:  # stop the Ray instance begun for input that failed later (or a Ctrl-C)
        if starting is not None:
            starting.stop()
        if not isinstance(e, StudyError):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    info = record_study(args, db, existing, cluster)
    if (code := search(args, db, data, info, cluster["max_concurrent"], argv, startup, searcher)) is not None:
        return code
    from tuning.confirm import run_confirmation

    try:
        run_confirmation(args, db, data, trial_overrides(args))
        run_final_eval(args, db, data, trial_overrides(args))
    except RetrainInterrupted as e:
        return retrain_interrupted(args, db, argv, e)
    report(args, fidelity_check(args, db))
    # Stopped here rather than by Ray's exit hook, which first sleeps 0.5 s for worker log lines that this driver
    # does not forward (log_to_driver=False).
    starting.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
