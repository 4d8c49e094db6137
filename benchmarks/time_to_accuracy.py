"""Time to accuracy of a fixed recipe (the trainer's defaults unless flags change them), over seeds.

Per seed it prints the wall time of the run and when validation first reached each `--val-targets` level (epoch
and seconds since the run began). When the recipe averages weights (`--ema`) or flips at test time (`--tta-flip`),
each run is also scored without them (averaging never changes the trained weights, flip acts only at evaluation,
so all scorers come from the same run); validation's mean over seeds chooses the scorer, and only then is the
test set read, once per seed, for that scorer. With `--ladder`, a seed that misses the test `--target` is trained
again at the next epoch budget (airbench's time-to-target habit, the one place test is read before the end).

    python benchmarks/time_to_accuracy.py --seeds 3                 # the default recipe, seeds 0, 1, 2
    python benchmarks/time_to_accuracy.py --target 0.94 --ladder 10,20 --model wrn16_4 --aug-erase 0.5
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganrator import config as config_lib  # noqa: E402
from ganrator.data import load_fashion_mnist  # noqa: E402
from ganrator.train import TrainConfig, evaluate, resolve_device, train, use_bf16  # noqa: E402
from ganrator.machine import cpu_line  # noqa: E402

T_95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}  # two-sided, df = n - 1


def interval(values: list[float]) -> str:
    """`mean ± half-width of the 95% t-interval (n)` in percent points."""
    n = len(values)
    mean = statistics.mean(values)
    if n < 2:
        return f"{100 * mean:.2f}% (n=1)"
    half = T_95.get(n - 1, 1.96) * statistics.stdev(values) / n ** 0.5
    return f"{100 * mean:.2f}% ± {100 * half:.2f} (n={n})"


def variants(result, cfg: TrainConfig) -> dict[str, tuple[torch.nn.Module, bool]]:
    """The run's scorers with and without each evaluation-side ingredient it uses: averaged or trained weights,
    with or without flip. Averaging is passive (it never changes the trained weights) and flip acts only at
    evaluation, so every scorer comes from the same training run."""
    models = {bool(cfg.ema): result.model}
    if result.raw_model is not None:
        models[False] = result.raw_model
    return {variant_name(averaged, flip): (model, flip) for averaged, model in models.items()
            for flip in sorted({False, cfg.tta_flip})}


def variant_name(averaged: bool, flip: bool) -> str:
    return f"{'averaged' if averaged else 'trained'} weights{', flip' if flip else ''}"


def run_seed(base: TrainConfig, data, seed: int, ladder: list[int], target: float, val_targets: list[float],
             device: torch.device, ladder_mode: bool = False) -> dict:
    for epochs in ladder:
        cfg = TrainConfig(**{**base.to_dict(), "epochs": epochs, "seed": seed})
        reached: dict[float, tuple[int, float]] = {}
        t0 = time.perf_counter()

        def on_epoch(m: dict) -> None:
            if device.type == "cuda":
                torch.cuda.synchronize()
            for level in val_targets:
                if level not in reached and m["val_acc"] >= level:
                    reached[level] = (int(m["epoch"]), time.perf_counter() - t0)
            print(f"  seed {seed} epoch {int(m['epoch']):3d}/{int(m['planned_epochs'])}  val acc {m['val_acc']:.2%}  "
                  f"{time.perf_counter() - t0:6.1f}s", flush=True)

        result = train(cfg, data, on_epoch=on_epoch)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        ips = statistics.mean(h["images_per_second"] for h in result.history)
        scorers = variants(result, cfg)
        row = {"seconds": seconds, "reached": reached, "scorers": scorers, "cfg": cfg,
               "variants": {name: evaluate(model, data, "val", cfg.eval_batch_size, cfg.amp, flip=flip)["acc"]
                            for name, (model, flip) in scorers.items()}}
        hits = "; ".join(f"val {level:.1%} at epoch {reached[level][0]} ({reached[level][1]:.0f}s)" if level in reached
                         else f"val {level:.1%} not reached" for level in val_targets)
        print(f"seed {seed}, {epochs} epochs: val acc {result.last_val_acc:.2%}  {seconds:6.1f}s wall  "
              f"{ips:6.0f} img/s  | {hits}", flush=True)
        if not ladder_mode:  # test is read at the end, after validation chose the scorer
            return row
        # The ladder reads test to stop, with the recipe's own scorer.
        if evaluate(result.model, data, "test", cfg.eval_batch_size, cfg.amp, flip=cfg.tta_flip)["acc"] >= target:
            print(f"time to {target:.0%} test accuracy: {seconds:.1f}s ({epochs} epochs)", flush=True)
            return row
        if epochs == ladder[-1]:
            return row
    raise AssertionError("unreachable: the ladder's last budget returns")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    config_lib.add_dataclass_flags(p, TrainConfig)
    p.add_argument("--seeds", type=int, default=1, help="independent runs, seeds --seed-start, --seed-start + 1, ...")
    p.add_argument("--seed-start", type=int, default=0)
    p.add_argument("--target", type=float, default=0.94, help="test accuracy the ladder stops at")
    p.add_argument("--val-targets", default="0.93,0.935,0.94", help="validation levels whose first epoch is timed")
    p.add_argument("--ladder", help="epoch budgets tried in order per seed until the test target is met "
                                    "(default: the recipe's epochs only)")
    p.add_argument("--data-dir")
    args = p.parse_args(argv)
    base = config_lib.pick(TrainConfig, args)
    ladder = [int(e) for e in args.ladder.split(",")] if args.ladder else [base.epochs]
    val_targets = [float(v) for v in args.val_targets.split(",") if v]
    device = resolve_device(base.device)
    data = load_fashion_mnist(args.data_dir, val_size=base.val_size, seed=base.data_seed).to(device)
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU {cpu_line()}"
    print(f"device {machine}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{'bf16 autocast' if use_bf16(base.amp, device) else 'fp32'}", flush=True)
    print(f"recipe: {base.to_dict()}; seeds {args.seed_start}..{args.seed_start + args.seeds - 1}", flush=True)
    rows = [run_seed(base, data, args.seed_start + i, ladder, args.target, val_targets, device, bool(args.ladder))
            for i in range(args.seeds)]

    walls = [r["seconds"] for r in rows]
    print(f"\nwall time per seed: {', '.join(f'{w:.0f}s' for w in walls)} (slowest {max(walls):.0f}s)")
    for level in val_targets:
        hit = [r["reached"].get(level) for r in rows]
        times = [f"{h[1]:.0f}s (epoch {h[0]})" if h else "not reached" for h in hit]
        print(f"time to {level:.1%} validation: {', '.join(times)}")

    # Validation chooses among the scorers (ties keep the recipe's own); test is then read for that one only.
    own = variant_name(bool(base.ema), base.tta_flip)
    names = list(rows[0]["variants"])
    mean_val = {n: statistics.mean(r["variants"][n] for r in rows) for n in names}
    chosen = max(names, key=lambda n: (mean_val[n], n == own))
    if len(names) > 1:
        print("\nvalidation accuracy of each scorer, same runs (recipe's own: *; validation's choice: >):")
        for name in names:
            vals = [r["variants"][name] for r in rows]
            diff = [r["variants"][name] - r["variants"][own] for r in rows]
            print(f" {'>' if name == chosen else ' '}{'*' if name == own else ' '} {name:<24} {interval(vals)}   "
                  f"minus the recipe's own per seed: {', '.join(f'{100 * d:+.2f}' for d in diff)} points")
        if chosen != own:
            print(f"validation prefers {chosen!r} to the recipe's own {own!r}: the test below is of {chosen!r}")
    tests = []
    for r in rows:
        model, flip = r["scorers"][chosen]
        tests.append(evaluate(model, data, "test", r["cfg"].eval_batch_size, r["cfg"].amp, flip=flip)["acc"])
    print(f"test acc ({chosen}) per seed: {', '.join(f'{t:.2%}' for t in tests)}")
    print(f"test acc {interval(tests)} over seeds; target {args.target:.1%} "
          f"{'met' if statistics.mean(tests) >= args.target else 'missed'} by the mean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
