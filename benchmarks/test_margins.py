#!/usr/bin/env python
"""How far each accuracy threshold of the test suite sits below what the claim really reaches.

Runs every claim of tests/claims.py over 5 seeds, in bf16 autocast and in fp32 (the deep claim; the classical
ones use no torch numerics), and its control that cannot learn (lr 0, or shuffled labels). Prints, per claim and
precision: mean, standard deviation, the threshold, (mean - threshold) / std, and whether the control fails the
same check. A threshold must sit at least 3 standard deviations below the mean in every row.

    python benchmarks/test_margins.py            # about 3 minutes on a 2-core CPU
    python benchmarks/test_margins.py --seeds 10
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import claims  # noqa: E402
from ganrator.machine import cpu_line  # noqa: E402
from ganrator.data import load_fashion_mnist  # noqa: E402
from ganrator.train import use_bf16  # noqa: E402


def summarize(name: str, values: list[float], threshold: float, control_passes: bool) -> str:
    mean, std = statistics.mean(values), statistics.stdev(values)
    margin = (mean - threshold) / std if std > 0 else float("inf")
    verdict = "ok" if margin >= 3 and not control_passes else "TOO CLOSE" if margin < 3 else "CONTROL PASSES"
    return (f"| {name} | {len(values)} | {100 * mean:.2f} | {100 * std:.2f} | {100 * min(values):.2f} | "
            f"{100 * threshold:.2f} | {margin:.1f} | {'passes (bad)' if control_passes else 'fails'} | {verdict} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args(argv)
    data = load_fashion_mnist()
    seeds = range(args.seeds)
    print(f"CPU: {cpu_line()}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"native bf16: {use_bf16(True, torch.device('cpu'))}")
    print("| claim | n seeds | mean (%) | std (pts) | min (%) | threshold (%) | (mean - threshold) / std | "
          "control | verdict |")
    print("|---|---|---|---|---|---|---|---|---|")
    for amp in (True, False):
        precision = "bf16 autocast" if use_bf16(amp, torch.device("cpu")) else "fp32"
        t0 = time.time()
        runs = [claims.run_small_cnn(data, claims.small_cnn(s, amp)) for s in seeds]
        control = claims.run_small_cnn(data, claims.small_cnn(0, amp, lr=0.0))
        passes = claims.cnn_learns(control)
        per_run = (time.time() - t0) / (len(runs) + 1)
        print(summarize(f"small cnn, val acc epoch 2, {precision}", [r["val_acc"] for r in runs],
                        claims.CNN_VAL_MIN, passes))
        print(summarize(f"small cnn, test acc, {precision}", [r["test_acc"] for r in runs], claims.CNN_TEST_MIN,
                        passes))
        quick = [claims.run_small_cnn(data, dataclasses.replace(claims.GPU_QUICK, seed=s, amp=amp))["test_acc"]
                 for s in seeds]
        quick_control = claims.run_small_cnn(data, dataclasses.replace(claims.GPU_QUICK, amp=amp, lr=0.0))
        print(summarize(f"gpu_check.sh --quick, test acc, {precision}", quick, claims.GPU_QUICK_TEST_MIN,
                        quick_control["test_acc"] > claims.GPU_QUICK_TEST_MIN))
        print(f"|   ({precision}: {per_run:.1f} s a small-cnn run; control val "
              f"{100 * control['val_acc']:.2f}%) |||||||||", flush=True)
    for classifier in claims.CLASSIFIERS:
        subsets = {s: claims.classical_subset(data, s) for s in seeds}
        runs = [claims.run_classical(subsets[s], classifier, s) for s in seeds]
        control = claims.run_classical(subsets[0], classifier, 0, shuffle_labels=True)
        passes = claims.classical_learns(control)
        print(summarize(f"{classifier} on HOG, val acc", [r["val_acc"] for r in runs], claims.CLASSICAL_MIN,
                        passes))
        print(summarize(f"{classifier} on HOG, test acc", [r["test_acc"] for r in runs], claims.CLASSICAL_MIN,
                        passes), flush=True)
    gains = [claims.hog_gain(claims.classical_subset(data, s), s) for s in seeds]
    print(summarize("logreg: HOG minus pixels, val acc", gains, claims.HOG_GAIN_MIN, False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
