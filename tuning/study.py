"""Run a planned study: every (configuration, seed) run its plan calls for, as Ray tasks, into one database.

    python -m tuning.study --plan results/plan.yaml                 # the study's database: results/<name>.db
    python -m tuning.study --plan results/plan.yaml --hours 2.5     # one part: start no run that would end later

The plan (tuning/plan.py) is fixed before the first run: the driver records its text and the commit that last
changed it, and refuses a changed plan unless `--amend REASON` says why (the write-up prints each amendment).
What to run next is derived from the finished runs alone (tuning/planner.py), so a study continues on a fresh
clone from its committed database: a run cut by the end of a part is redone from its start, and nothing finished is
redone. The database is SQLite with a rollback journal: between writes it is one closed file, safe to commit.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tuning.db import DBError, db_url, open_db, pack_mask, plan_parts, plan_runs, plans  # noqa: E402
from tuning.plan import TRAIN_IMAGES, Plan, PlanError, load_plan  # noqa: E402
from tuning.planner import Job, State, next_jobs  # noqa: E402
from tuning.retrain import duration  # noqa: E402


def run_job(job: dict[str, Any], data_ref) -> dict[str, Any]:
    """One run on a Ray worker, on the CPUs Ray gave it. Validation accuracy always; the accuracy on its own
    training images for deep runs; test accuracy (and the per-image mask) only for confirmation seeds."""
    import ray
    import torch
    from threadpoolctl import threadpool_limits

    from ganrator.machine import cpu_line

    cpus = max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
    torch.set_num_threads(cpus)
    data = data_ref.get()
    t0, c0 = time.perf_counter(), time.process_time()
    fraction = job["size"] / TRAIN_IMAGES
    out: dict[str, Any] = {"threads": cpus, "hostname": socket.gethostname(), "cpu": cpu_line()}
    with threadpool_limits(cpus):
        if job["family"] == "classical":
            from ganrator import classical

            cfg = classical.ClassicalConfig.from_dict({**job["params"], "data_fraction": fraction,
                                                       "data_seed": job["data_seed"], "seed": job["seed"]})
            fitted = classical.fit(cfg, data)
            out.update(status=fitted.status, val_acc=fitted.val_acc, epochs=1, numerics="fp64")
            if job["test"]:
                test = classical.evaluate(fitted, data, "test", per_image=True)
                out.update(test_acc=test["acc"], test_correct=pack_mask(test["correct"]))
        else:
            from ganrator.recipe import TrainConfig
            from ganrator.train import evaluate, resolve_device, train, use_bf16

            cfg = TrainConfig.from_dict({**job["params"], "steps": job["steps"], "val_every_steps": job["steps"],
                                         "data_fraction": fraction, "data_seed": job["data_seed"],
                                         "seed": job["seed"]})
            result = train(cfg, data)
            out.update(status=result.status, val_acc=result.last_val_acc, epochs=result.epochs,
                       numerics="bf16" if use_bf16(cfg.amp, resolve_device(cfg.device)) else "fp32")
            if result.status != "diverged":
                own = data.subsample(cfg.data_fraction, cfg.data_seed)
                out["train_acc"] = evaluate(result.model, own, "train", cfg.eval_batch_size, cfg.amp)["acc"]
                if job["test"]:
                    test = evaluate(result.model, data, "test", cfg.eval_batch_size, cfg.amp, per_image=True)
                    out.update(test_acc=test["acc"], test_correct=pack_mask(test["correct"].numpy()))
    out.update(wall_time=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0)
    return out


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def plan_commit(path: Path) -> tuple[str | None, float | None, str | None]:
    """(commit that last changed the plan, its time, problem): a plan inside this repository must be committed
    and unchanged; one outside it (a test's, a copy) has no commit."""
    try:
        rel = path.resolve().relative_to(ROOT)
    except ValueError:
        return None, None, None
    if _git("ls-files", "--error-unmatch", str(rel)) is None:
        return None, None, f"{path}: the plan is not committed; commit it before the study's first run"
    if _git("diff", "--quiet", "HEAD", "--", str(rel)) is None:
        return None, None, f"{path}: the plan has uncommitted changes; commit them (with --amend REASON once the " \
                           f"study has begun)"
    line = _git("log", "-1", "--format=%H %ct", "--", str(rel)) or ""
    commit, _, at = line.partition(" ")
    return commit or None, float(at) if at else None, None


def check_plan(db, plan: Plan, amend: str | None) -> str | None:
    """Record the plan; None when it may run, else the one line that refuses it."""
    commit, committed_at, problem = plan_commit(plan.path)
    if problem:
        return problem
    known = db.rows(plans, plan.name)
    if any(r["sha256"] == plan.sha256 for r in known):
        return None
    if known and not amend:
        return (f"{plan.path}: the plan differs from the one study {plan.name!r} began under "
                f"({known[0]['sha256'][:12]}); pass --amend REASON to record why it changed")
    db.upsert_row(plans, {"study": plan.name, "sha256": plan.sha256}, path=str(plan.path), text=plan.text,
                  commit=commit, committed_at=committed_at, first_run_at=time.time(),
                  amendment=amend if known else None)
    return None


def expected_seconds(job: Job, rows: list[dict]) -> float:
    """A run's expected wall time from finished runs of its family: deep by images processed, classical by size."""
    same = [r for r in rows if r["family"] == job.family and r.get("wall_time")]
    if not same:
        return 60.0 + (job.steps * 256 / 1000 if job.family == "deep" else job.size / 500)
    if job.family == "deep":
        rate = sum(r["wall_time"] for r in same) / sum(max(1, r["steps"]) for r in same)
        return rate * job.steps
    rate = sum(r["wall_time"] for r in same) / sum(r["size"] for r in same)
    return rate * job.size


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tuning.study", description=__doc__.split("\n\n")[0])
    p.add_argument("--plan", required=True, help="the plan file (results/plan.yaml)")
    p.add_argument("--db", help="the study's database (default: results/<plan name>.db beside the plan)")
    p.add_argument("--hours", type=float, help="end this part after about this long: start no run expected to "
                                               "end later (runs cut at a part's end are redone from their start)")
    p.add_argument("--max-runs", type=int, help="end this part once this many runs have finished")
    p.add_argument("--parallel", type=int, default=2, help="runs at a time on a local Ray, one core each")
    p.add_argument("--address", help="a Ray cluster to run on (default: a new local instance)")
    p.add_argument("--data-dir", help="the Fashion-MNIST files (default: searched as ganrator.data does)")
    p.add_argument("--amend", metavar="REASON", help="accept a plan that changed since the study began, and say why")
    p.add_argument("--dry-run", action="store_true", help="print the decisions and the runs that can start; run none")
    args = p.parse_args(argv)
    if args.hours is not None and args.hours <= 0:
        p.error(f"--hours must be > 0, got {args.hours}")
    if args.max_runs is not None and args.max_runs < 1:
        p.error(f"--max-runs must be >= 1, got {args.max_runs}")
    if args.parallel < 1:
        p.error(f"--parallel must be >= 1, got {args.parallel}")
    return args


def describe(state: State) -> list[str]:
    """One line per decided point: its length, choice and confirmation seeds."""
    lines = []
    for (arm, size), pt in sorted(state.points.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        length = f", {pt.length_text}" if pt.length_text else ""
        runs = f", {len(pt.runs)}/{len(pt.seeds)} seeds" if pt.seeds else ""
        lines.append(f"  {arm} @ {size:,}{length}: {pt.choice_text}{runs}")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        plan = load_plan(args.plan)
        db = open_db(db_url(args.db, plan.path.parent / f"{plan.name}.db"))
    except (PlanError, DBError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    done = {r["job_key"]: r for r in db.rows(plan_runs, plan.name)}
    state = next_jobs(plan, done)
    if args.dry_run:
        print("\n".join(describe(state)))
        print(f"{len(state.jobs)} runs can start now; {sum(r['status'] == 'completed' for r in done.values())} done")
        return 0
    problem = check_plan(db, plan, args.amend)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if not state.jobs:
        print(f"study {plan.name!r} is complete: {len(done)} runs in {db.url.split('///')[-1]}")
        return 0
    from tuning.lease import Lease, LeaseHeld

    try:  # one driver per study: a second one would run the same jobs twice
        lease = Lease(db.url, plan.name)
        gone = lease.take()
    except (ValueError, LeaseHeld) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if gone is not None:
        print(f"lease: took study {plan.name!r} over from a driver that is gone or silent ({gone})", flush=True)
    try:
        return _run(args, plan, db, done, state)
    finally:
        lease.release()


def _run(args, plan: Plan, db, done: dict[str, dict], state: State) -> int:
    from ganrator.data import load_arrays
    from ganrator.machine import cpu_model_flags
    from tuning.ray_start import RayStart

    try:
        arrays = load_arrays(args.data_dir, val_size=5000, seed=0)
    except (OSError, RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    starting = RayStart(args.address)
    ray = starting.result()
    from tuning.trainable import SharedDataset

    data_ref = SharedDataset.put(arrays)
    task = ray.remote(run_job).options(num_cpus=1, max_retries=0)
    parts = db.rows(plan_parts, plan.name)
    part = 1 + max((r["part"] for r in parts), default=0)
    model, flags = cpu_model_flags()
    t0 = time.time()
    deadline = t0 + args.hours * 3600 if args.hours else None
    part_row = {"study": plan.name, "part": part}
    db.upsert_row(plan_parts, part_row, started_at=t0, hostname=socket.gethostname(), cpu=model,
                  cpu_flags=",".join(flags), cores=os.cpu_count(), parallel=args.parallel,
                  command=" ".join([Path(sys.executable).name, "-m", "tuning.study", *sys.argv[1:]]),
                  git_commit=_git("rev-parse", "HEAD"), status="running")
    print(f"study {plan.name!r}, part {part}: {sum(r['status'] == 'completed' for r in done.values())} runs done, "
          f"{len(state.jobs)} can start now; {args.parallel} at a time on {starting.where}; database "
          f"{db.url.split('///')[-1]}", flush=True)
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    running: dict[Any, tuple[Job, float]] = {}
    tried: set[str] = set()  # an errored run is not retried within a part
    finished, busy, status = 0, 0.0, "done"
    try:
        while not caught:
            rows = list(done.values())
            state = next_jobs(plan, done)
            queue = [j for j in state.jobs if j.key not in tried]
            room = args.parallel - len(running)
            if args.max_runs is not None:
                room = min(room, args.max_runs - finished - len(running))
            while queue and room > 0:
                room -= 1
                job = queue.pop(0)
                need = expected_seconds(job, rows)
                if deadline and time.time() + need > deadline:
                    queue = []
                    break
                tried.add(job.key)
                ref = task.remote({**job.__dict__, "params": job.config}, data_ref)
                running[ref] = (job, time.time())
            if not running:
                status = "done" if not queue and not state.jobs else "part ended"
                break
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            if not ready:
                continue
            job, started = running.pop(ready[0])
            try:
                out, error = ray.get(ready[0]), None
            except Exception as e:  # one failed run never ends the study
                out, error = {"status": "errored"}, str(e)[-4000:]
                print(f"  {job.label} failed: {str(e).strip().splitlines()[-1]}", file=sys.stderr)
            row = {**out, "family": job.family, "arm": job.arm, "purpose": job.purpose, "size": job.size,
                   "steps": job.steps, "params": job.config, "seed": job.seed, "data_seed": job.data_seed,
                   "part": part, "plan_sha256": plan.sha256, "started_at": started, "ended_at": time.time(),
                   "error": error}
            db.upsert_row(plan_runs, {"study": plan.name, "job_key": job.key}, **row)
            done[job.key] = {"job_key": job.key, **row}
            finished += 1
            busy += out.get("wall_time") or 0.0
            # kept current, so a part stopped from outside still shows what it did and until when
            db.upsert_row(plan_parts, part_row, ended_at=time.time(), runs_done=finished, busy_seconds=busy)
            result = f"val {100 * out['val_acc']:.2f}%" if out.get("val_acc") is not None else out["status"]
            if out.get("train_acc") is not None:
                result += f", train {100 * out['train_acc']:.1f}%"
            left = next_jobs(plan, done).jobs
            eta = sum(expected_seconds(j, list(done.values())) for j in left) / args.parallel
            print(f"  [{finished} this part] {job.label}: {result} in {duration(out.get('wall_time') or 0)} | "
                  f"{duration(time.time() - t0)} elapsed, {len(left)} runs can start, about {duration(eta)} of them",
                  flush=True)
        if caught:
            status = "interrupted"
            for ref in running:
                ray.cancel(ref, force=True)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        state = next_jobs(plan, done)
        db.upsert_row(plan_parts, part_row, ended_at=time.time(), runs_done=finished, runs_left=len(state.jobs),
                      busy_seconds=busy, status=status)
        starting.stop()
    print("\n".join(describe(state)))
    where = db.url.split("///")[-1]
    if status == "done":
        print(f"study {plan.name!r} is complete after part {part} ({duration(time.time() - t0)}); runs in {where}")
    else:
        print(f"part {part} {status} after {duration(time.time() - t0)}: {finished} runs finished, "
              f"{len(state.jobs)} can start next; commit {where} and run the same command to continue")
    return 130 if status == "interrupted" else 0


if __name__ == "__main__":
    sys.exit(main())
