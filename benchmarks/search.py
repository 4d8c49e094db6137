"""Search-machinery benchmarks, each against a baseline measured in the same run, through the real CLI:

1. overhead: where the smoke study's time outside its trials' epochs goes (fixed start-up, then per trial: actor
   start, imports, dataset, model build, checkpoints, reports, database and Optuna), read from the database's
   own timing columns; a new process per trial (--no-reuse-actors) against reused actors, in the same run;
2. scaling: one study on one local Ray node vs two local nodes of one CPU each (trials per minute, ratio);
3. search efficiency: ASHA + TPE against FIFO + random search, studies of 64 trials of up to 16 epochs, no time
   cap, the same stratified start-up in both arms, seeds 0-4: best validation accuracy, epochs spent, and epochs
   until each first reached FIFO + random's median best (under 2 hours on 2 cores; --efficiency-tune first
   chooses ASHA's settings on seeds 100-104, which doubles that).

    python benchmarks/search.py [--only overhead,scaling,efficiency] [--out runs/bench]   # --out: kept, and reused
    python benchmarks/search.py --only laptop     # the same breakdown for the search `make run` runs (10 minutes)
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ganrator.machine import cpu_line  # noqa: E402

RUN = [sys.executable, str(ROOT / "tuning" / "run.py")]


def study(args: list[str], storage: Path, env: dict | None = None) -> tuple[float, Path]:
    t0 = time.perf_counter()
    study.launched_at = time.time()  # type: ignore[attr-defined]  (read by overhead, against the DB's clocks)
    out = subprocess.run([*RUN, *args, "--storage-path", str(storage)], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, cwd=ROOT)
    if out.returncode:
        sys.exit(f"study failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    study.exited_at = time.time()  # type: ignore[attr-defined]
    name = args[args.index("--name") + 1] if "--name" in args else args[args.index("--space") + 1]
    return time.perf_counter() - t0, storage / name / "trials.db"


def one(db: Path, sql: str):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()


def overhead_parts(db: Path, launched_at: float, exited_at: float) -> dict[str, float]:
    """Where the study's time outside its epochs went, from the database's own timing columns: the fixed start-up
    and wind-down of the driver, and the mean per trial of each part between a trial's creation and its end.
    Trials the time cap cut have no end of their own (they are closed after the search), so the per-trial means
    leave them out; the share of span x slots outside epochs counts every trial's epochs."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        study = conn.execute("select startup, search from ganrator_studies").fetchone()
        rows = [dict(r) for r in conn.execute(
            "select t.*, (select sum(epoch_seconds) from ganrator_epochs e where e.trial_id = t.trial_id) as epochs_s,"
            # an epoch that ran on lent idle cores (tuning/idle_cores.py) used more than its trial's slot
            " (select sum(epoch_seconds * max(coalesce(threads, 1), t.cpus) / t.cpus) from ganrator_epochs e"
            "  where e.trial_id = t.trial_id) as slot_epochs_s,"
            " (select sum(epoch_seconds) from ganrator_epochs e where e.trial_id = t.trial_id"
            "  and coalesce(threads, 1) > t.cpus) as lent_s,"
            " (select sum(val_seconds) from ganrator_epochs e where e.trial_id = t.trial_id) as val_s,"
            " (select sum(checkpoint_seconds) from ganrator_epochs e where e.trial_id = t.trial_id) as ckpt_s,"
            " (select max(timestamp) from ganrator_epochs e where e.trial_id = t.trial_id) as last_result_at"
            " from ganrator_trials t")]
    startup = json.loads(study["startup"])
    ended = [r for r in rows if r["status"] not in ("cut", "interrupted", "running")]
    first, last = min(r["queued_at"] for r in rows), max(r["ended_at"] for r in ended)
    last_epoch = max(r["last_result_at"] or 0 for r in rows)  # a cut trial's epochs may run past the last end
    n = len(ended)

    def mean(f) -> float:
        return sum(f(r) for r in ended) / n

    parts = {
        "trials": len(rows), "ended": n, "slots": json.loads(study["search"])["max_concurrent"],
        "cli_wall": exited_at - launched_at, "span": max(last, last_epoch) - first,
        "epochs": mean(lambda r: r["epochs_s"]), "all_epochs": sum(r["epochs_s"] or 0 for r in rows),
        "slot_epochs": sum(r["slot_epochs_s"] or 0 for r in rows), "lent": sum(r["lent_s"] or 0 for r in rows),
        "startup": first - launched_at, "driver_imports": startup["imports"], "space": startup.get("space", 0.0),
        "search_imports": startup.get("search_imports", 0.0), "driver_data": startup["data"],
        "searcher": startup.get("searcher", 0.0),
        "ray_init": startup["ray_init"], "tune_start": first - startup["ready_at"],
        "wind_down": exited_at - max(last, last_epoch),
        "trial_overhead": mean(lambda r: r["ended_at"] - r["queued_at"] - r["epochs_s"]),
        "actor_start": mean(lambda r: r["started_at"] - r["queued_at"]),
        "worker_imports": mean(lambda r: r["import_seconds"]),
        "dispatch": mean(lambda r: r["entered_at"] - r["started_at"]),
        "data": mean(lambda r: r["data_seconds"]), "setup": mean(lambda r: r["setup_seconds"]),
        "checkpoint": mean(lambda r: r["ckpt_s"]), "report": mean(lambda r: r["report_seconds"]),
        "end": mean(lambda r: r["ended_at"] - r["last_result_at"]),
        "db": mean(lambda r: r["db_seconds"]), "search": mean(lambda r: r["search_seconds"]),
        "validation": mean(lambda r: r["val_s"]),
    }
    known = ("actor_start", "dispatch", "data", "setup", "checkpoint", "report", "end")
    parts["other"] = parts["trial_overhead"] - sum(parts[k] for k in known)
    parts["startup_other"] = parts["startup"] - sum(parts[k] for k in ("driver_imports", "space", "search_imports",
                                                                      "driver_data", "searcher", "ray_init",
                                                                      "tune_start"))
    parts["slot_share"] = 1 - parts["slot_epochs"] / (parts["span"] * parts["slots"])
    return parts


ROWS = (  # (key, label); times in seconds, per trial unless said
    ("cli_wall", "CLI wall time, whole study"), ("span", "search span (first trial created to last ended)"),
    ("startup", "fixed start-up: launch to first trial created"),
    ("driver_imports", "  of which driver imports, flags checked"),
    ("space", "  of which search space, study and data files checked"),
    ("search_imports", "  of which search imports, dataset on a thread"),
    ("driver_data", "  of which dataset left to load after them (Ray starting)"),
    ("searcher", "  of which Optuna's storage and sampler (Ray starting)"), ("ray_init", "  of which waiting for Ray"),
    ("tune_start", "  of which Tune set up, first trial proposed"),
    ("startup_other", "  of which other (interpreter, study row)"),
    ("wind_down", "fixed wind-down: last trial ended to exit"),
    ("epochs", "per trial: epochs (training steps + validation)"), ("validation", "  of which validation"),
    ("trial_overhead", "per trial: outside its epochs"), ("actor_start", "  actor start or reuse"),
    ("worker_imports", "    of which worker imports"), ("dispatch", "  trial function dispatched"),
    ("data", "  dataset into the worker"), ("setup", "  model and optimizer built"),
    ("checkpoint", "  checkpoints written"), ("report", "  inside Tune's report (upload, driver)"),
    ("end", "  last result to trial end"), ("other", "  other (unattributed)"),
    ("db", "  driver: database writes (inside the above)"), ("search", "  driver: Optuna (inside the above)"),
    ("lent", "whole study: epoch seconds on lent idle cores"),
)


def print_parts(columns: dict[str, dict[str, float]]) -> None:
    print(f"  {'seconds':<48}" + "".join(f"{label:>18}" for label in columns))
    for key, label in ROWS:
        print(f"  {label:<48}" + "".join(f"{c[key]:>18.3f}" for c in columns.values()))
    print(f"  {'share of span x slots outside epochs':<48}" +
          "".join(f"{100 * c['slot_share']:>17.1f}%" for c in columns.values()))


def overhead(tmp: Path) -> None:
    columns = {}
    for label, extra in (("new process", ["--no-reuse-actors", "--name", "fresh"]), ("reused actors", [])):
        _, db = study(["--space", "smoke", "--budget", "smoke", *extra], tmp / "overhead")
        columns[label] = overhead_parts(db, study.launched_at, study.exited_at)  # type: ignore[attr-defined]
    c = next(iter(columns.values()))
    print(f"overhead: smoke study, {c['trials']} trials, {c['slots']} at once")
    print_parts(columns)
    fresh, reused = columns.values()
    print(f"  per-trial overhead, new process / reused actors: {fresh['trial_overhead'] / reused['trial_overhead']:.2f}x;"
          f" CLI wall {fresh['cli_wall'] / reused['cli_wall']:.2f}x")


def laptop(tmp: Path, cap: int | None = None, baseline: bool = True) -> None:
    """The search of the study `make run` runs (its confirmation left out: it is not a trial), or a shorter one;
    with `baseline`, first the same study without lending a finished search's idle cores (--no-lend-idle-cores).
    The two runs propose the same first trials (same seed); TPE's later ones depend on which trials ended first."""
    columns = {}
    arms = ((("no lending", ["--no-lend-idle-cores", "--name", "laptop_nolend"]),) if baseline else ()) + \
        (("idle cores lent", []),)
    for label, extra in arms:
        _, db = study(["--space", "cnn_aug", "--budget", "laptop", "--no-confirm", *extra,
                       *(["--time-budget", str(cap)] if cap else [])], tmp / "laptop")
        columns[label] = overhead_parts(db, study.launched_at, study.exited_at)  # type: ignore[attr-defined]
    for label, c in columns.items():
        print(f"laptop overhead ({label}): cnn_aug, laptop budget{f' capped at {cap} s of search' if cap else ''}, "
              f"{c['trials']} trials ({c['ended']} ended on their own, the rest cut by the time cap), "
              f"{c['slots']} at once")
    print_parts(columns)
    if baseline:
        before, after = columns.values()
        print(f"  search span, lent / not lent: {after['span'] / before['span']:.2f}x; share outside epochs "
              f"{100 * before['slot_share']:.1f}% -> {100 * after['slot_share']:.1f}%")


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


# Search efficiency: the smoke space on 5% of the training split, validated on 5,000 images (1,000 would leave
# about +-1.2 points of noise between trials), 64 trials of up to 16 epochs per study, no time cap. Both arms begin
# with the same stratified start-up (its points depend on the seed alone); TPE's own random start-up then draws
# what the random sampler draws, so the arms differ in what follows and in ASHA.
EFFICIENCY_TRIALS, EFFICIENCY_EPOCHS = 64, 16
EFFICIENCY = ["--space", "smoke", "--budget", "smoke", "--data-fraction", "0.05", "--val-size", "5000", "--no-confirm"]
BASELINE = ("FIFO + random", ["--sampler", "random", "--scheduler", "fifo"])
# ASHA + TPE settings: (grace period, reduction factor, TPE start-up trials). The first is the one chosen on seeds
# 100-104 at 16 trials of 6 epochs (benchmarks/README.md); --efficiency-tune tries them all again at this size.
CANDIDATES = [(2, 3, 6), (1, 3, 6), (2, 2, 6)]
TUNING_SEEDS, REPORT_SEEDS = range(100, 105), range(0, 5)


def asha_tpe(grace: int, rf: int, startup: int) -> tuple[str, list[str]]:
    return (f"ASHA + TPE (grace {grace}, rf {rf}, start-up {startup})",
            ["--sampler", "tpe", "--scheduler", "asha", "--grace-period", str(grace), "--reduction-factor", str(rf),
             "--startup-trials", str(startup)])


def search_run(tmp: Path, label: str, extra: list[str], seed: int) -> dict:
    """One study: its best validation accuracy, the epochs it spent, and every epoch in the order it finished."""
    name = f"{re.sub(r'[^A-Za-z0-9]+', '_', label).strip('_')}_seed{seed}"
    db = tmp / "efficiency" / name / "trials.db"
    # With --out a rerun reuses the studies an earlier run finished (a study is rerun whole otherwise).
    if not (db.exists() and one(db, "select status from ganrator_studies") == ("finished",)):
        shutil.rmtree(db.parent, ignore_errors=True)
        _, db = study([*EFFICIENCY, "--num-samples", str(EFFICIENCY_TRIALS), "--max-epochs", str(EFFICIENCY_EPOCHS),
                       *extra, "--seed", str(seed), "--name", name], tmp / "efficiency")
    with sqlite3.connect(db) as conn:
        order = [v for (v,) in conn.execute("select val_acc from ganrator_epochs order by timestamp")]
        stopped = conn.execute("select count(*) from ganrator_trials where status = 'early_stopped'").fetchone()[0]
    return {"best": max(order), "epochs": len(order), "order": order, "stopped": stopped}


def epochs_to(run: dict, level: float) -> float:
    """Epochs the study had spent when one first reached `level` (inf: never)."""
    return next((i + 1 for i, v in enumerate(run["order"]) if v >= level), float("inf"))


def median(values) -> float:
    v = sorted(values)
    return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2


def spread(values, fmt="{:.0f}") -> str:
    v = sorted(values)
    return f"{fmt.format(median(v))} [{fmt.format(v[0])}, {fmt.format(v[-1])}]"


def efficiency(tmp: Path, seeds: int = 5, tune: bool = False) -> None:
    """ASHA + TPE against FIFO + random on seeds 0-4. tune: first choose ASHA's settings on seeds 100-104 (fewest
    median epochs to FIFO + random's median best there); else the first candidate, chosen so at a smaller size."""
    t0 = time.perf_counter()
    chosen = CANDIDATES[0]
    if tune:
        tuning = list(TUNING_SEEDS)[:seeds]
        base = [search_run(tmp, BASELINE[0], BASELINE[1], s) for s in tuning]
        level = median(r["best"] for r in base)
        print(f"efficiency, tuning seeds {tuning}: {BASELINE[0]} median best val {100 * level:.2f}%", flush=True)
        scores = {}
        for cand in CANDIDATES:
            label, extra = asha_tpe(*cand)
            runs = [search_run(tmp, label, extra, s) for s in tuning]
            scores[cand] = (median(epochs_to(r, level) for r in runs), -median(r["best"] for r in runs))
            print(f"  {label:<42} epochs to that level {spread([epochs_to(r, level) for r in runs])}, "
                  f"best val {spread([100 * r['best'] for r in runs], '{:.2f}')}", flush=True)
        chosen = min(CANDIDATES, key=lambda c: scores[c])
    report = list(REPORT_SEEDS)[:seeds]
    arms = {BASELINE[0]: BASELINE[1], asha_tpe(*chosen)[0]: asha_tpe(*chosen)[1]}
    results = {}
    for label, extra in arms.items():
        results[label] = []
        for s in report:
            results[label].append(run := search_run(tmp, label, extra, s))
            print(f"  {label} seed {s}: best val {100 * run['best']:.2f}%, {run['epochs']} epochs, "
                  f"{run['stopped']} trials stopped early | {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    level = median(r["best"] for r in results[BASELINE[0]])
    print(f"\nefficiency, report seeds {report}, {EFFICIENCY_TRIALS} trials of up to {EFFICIENCY_EPOCHS} epochs per "
          f"study; median [min, max] over seeds; level = {BASELINE[0]}'s median best val, {100 * level:.2f}%")
    need = {}
    for label, runs in results.items():
        need[label] = median(epochs_to(r, level) for r in runs)
        print(f"  {label:<42} best val {spread([100 * r['best'] for r in runs], '{:.2f}')}%  "
              f"epochs spent {spread([r['epochs'] for r in runs])}  epochs to the level "
              f"{spread([epochs_to(r, level) for r in runs])}  early-stopped trials "
              f"{spread([r['stopped'] for r in runs])}")
        for s, r in zip(report, runs):
            print(f"    seed {s}: epochs to the level {epochs_to(r, level)}")
    fifo, asha = need.values()
    print(f"  median epochs to the level, ASHA + TPE / FIFO + random: {asha / fifo:.2f} (goal <= 0.33)")
    print(f"  {(time.perf_counter() - t0) / 60:.1f} min of compute; {cpu_line()}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="overhead,scaling,efficiency")
    p.add_argument("--out", help="keep the study databases here (e.g. for `python -m analysis docs --system-db`)")
    p.add_argument("--efficiency-seeds", type=int, default=5, help="efficiency: seeds per arm, tuning and report")
    p.add_argument("--efficiency-tune", action="store_true",
                   help="efficiency: choose ASHA's settings on seeds 100-104 first (twice the time)")
    p.add_argument("--laptop-cap", type=int, help="laptop: seconds of search (default: the budget's, as make run)")
    p.add_argument("--laptop-baseline", action=argparse.BooleanOptionalAction, default=True,
                   help="laptop: also run the study without lending idle cores, first (twice the time)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="ganrator-bench-") as d:
        root = Path(args.out).resolve() if args.out else Path(d)
        for part in ("overhead", "scaling", "efficiency", "laptop"):
            if part in args.only.split(","):
                if part == "laptop":
                    laptop(root, args.laptop_cap, args.laptop_baseline)
                elif part == "efficiency":
                    efficiency(root, args.efficiency_seeds, args.efficiency_tune)
                else:
                    globals()[part](root)
        if args.out:
            print(f"study databases kept under {root}")


if __name__ == "__main__":
    main()
