"""Does the search's choice hold? The laptop study (`make run`'s) on several search seeds, each with its
confirmation; for every scientific parameter, the value the search chose (the reference's) against every other
value's confirmed arm: the paired difference on fresh seeds (test, and validation beside it) with its 95%
interval, whether the confirmation overturns the choice (the interval excludes 0 in the arm's favour and the arm
is ahead on validation too, as the report's findings decide), and how far the choice is from the best arm.

    python benchmarks/search_choice.py --seeds 0,1,2 --out runs/choice   # about 14 minutes a seed on 2 cores

With --out a rerun reuses every study whose confirmation finished and resumes the others; seed 0's study is named
as `make run`'s, so `--out runs` after `make run` reuses it. Timings beside the
CPU's model and features; nothing else should run meanwhile (the search has a wall-clock cap).
"""
from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from analysis.stats.intervals import mean_ci  # noqa: E402
from ganrator.machine import cpu_line  # noqa: E402
from tuning.budgets import BUDGETS  # noqa: E402

RUN = [sys.executable, str(ROOT / "tuning" / "run.py"), "--space", "cnn_aug", "--budget", "laptop"]


def finished(db: Path, name: str) -> bool:
    """The study's search ended and every confirmation run it selected has a result."""
    if not db.exists():
        return False
    with sqlite3.connect(db) as conn:
        status = conn.execute("select status from ganrator_studies where name = ?", (name,)).fetchone()
        configs = conn.execute("select count(distinct arm_key) from ganrator_confirm_arms where study = ?",
                               (name,)).fetchone()[0]
        done = conn.execute("select count(*) from ganrator_confirm_runs where study = ? and status is not null "
                            "and status != 'errored'", (name,)).fetchone()[0]
    return bool(status and status[0] == "finished" and configs and done == configs * BUDGETS["laptop"].confirm_seeds)


def run_study(out: Path, seed: int) -> tuple[Path, str, float | None]:
    name = "cnn_aug" if seed == 0 else f"cnn_aug_seed{seed}"  # seed 0 is `make run`'s study (--out runs)
    db = out / name / "trials.db"
    if finished(db, name):
        return db, name, None
    t0 = time.perf_counter()
    cmd = [*RUN, "--seed", str(seed), "--name", name, "--storage-path", str(out)] + (["--resume"] if db.exists()
                                                                                        else [])
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"seed {seed}: the study failed ({' '.join(cmd)}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return db, name, time.perf_counter() - t0


def arms(db: Path, name: str) -> dict[str, list[dict]]:
    """Per scientific parameter, its arms: value, reference or not, and {seed: (val, test)}."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("select param, value, position, is_reference, arm_key from ganrator_confirm_arms "
                            "where study = ? order by param, position", (name,)).fetchall()
        runs = conn.execute("select arm_key, seed, val_acc, test_acc from ganrator_confirm_runs where study = ? "
                            "and status is not null and status != 'errored'", (name,)).fetchall()
    by_key: dict[str, dict[int, tuple[float, float]]] = {}
    for r in runs:
        by_key.setdefault(r["arm_key"], {})[r["seed"]] = (r["val_acc"], r["test_acc"])
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["param"], []).append({"value": r["value"], "reference": bool(r["is_reference"]),
                                               "seeds": by_key.get(r["arm_key"], {})})
    return out


def check(param: str, values: list[dict]) -> tuple[list[str], bool, float]:
    """Lines for one parameter, whether a value overturns the choice, and the choice's gap to the best arm
    (points of mean test accuracy; 0 when the choice is the best)."""
    ref = next(v for v in values if v["reference"])
    means = {v["value"]: sum(t for _, t in v["seeds"].values()) / max(1, len(v["seeds"])) for v in values}
    gap = 100 * (max(means.values()) - means[ref["value"]])
    lines, overturned = [], False
    for v in values:
        if v is ref:
            continue
        seeds = sorted(set(v["seeds"]) & set(ref["seeds"]))
        d_test = [v["seeds"][s][1] - ref["seeds"][s][1] for s in seeds]
        d_val = [v["seeds"][s][0] - ref["seeds"][s][0] for s in seeds]
        m, h, n = mean_ci(d_test)
        mv, _, _ = mean_ci(d_val)
        over = bool(m - h > 0 and mv > 0)
        overturned |= over
        lines.append(f"    {param} = {v['value']} minus {ref['value']}: test {100 * m:+.2f} "
                     f"[{100 * (m - h):+.2f}, {100 * (m + h):+.2f}] (n = {n}), validation {100 * mv:+.2f}"
                     f"{'  OVERTURNS the choice' if over else ''}")
    return [f"  {param}: the search chose {ref['value']}; its gap to the best arm on test {gap:.2f} points",
            *lines], overturned, gap


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0,1,2", help="search seeds, comma-separated")
    p.add_argument("--out", default="runs/choice", help="where the studies are kept (and reused)")
    args = p.parse_args()
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds must be integers separated by commas, got {args.seeds!r}")
    out = Path(args.out).resolve()
    print(f"CPU: {cpu_line()}")
    verdicts = []
    for seed in seeds:
        db, name, wall = run_study(out, seed)
        took = f"{wall / 60:.1f} min (search, confirmation)" if wall is not None else "reused"
        print(f"\nsearch seed {seed}: {db} ({took})", flush=True)
        holds, worst = True, 0.0
        for param, values in arms(db, name).items():
            lines, overturned, gap = check(param, values)
            print("\n".join(lines))
            holds &= not overturned and gap <= 0.5
            worst = max(worst, gap)
        verdicts.append(holds)
        print(f"  seed {seed}: the choice {'holds' if holds else 'does NOT hold'} (no overturn, every gap <= 0.5 "
              f"points; largest gap {worst:.2f})")
    print(f"\nthe search's choice holds on {sum(verdicts)} of {len(verdicts)} search seeds")


if __name__ == "__main__":
    main()
