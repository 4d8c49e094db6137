"""Where one training step of a model spends its time, and whether torch.compile speeds it up, in one run.

Times throughput.py's standard step (the trainer's autocast, loss and SGD) on a fixed random batch, eager
and, with --compile, under torch.compile (inductor); then profiles the eager step with torch.profiler and
groups its operators into convolution / batch norm / ReLU / pooling / other.

    python benchmarks/step_profile.py [--model cnn] [--model-kwargs '{"depth": 1}'] [--no-amp] [--compile]
"""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

from ganrator.models import create_model
from ganrator.train import resolve_device, use_bf16
from throughput import standard_step  # benchmarks/ is on the path when this script runs

# torch.profiler operator name -> group; first match wins, unmatched operators are "other".
GROUPS = (("convolution", ("conv",)), ("batch norm", ("batch_norm",)),
          ("ReLU", ("relu", "clamp_min", "threshold")), ("pooling", ("pool",)))


def ms_per_step(step, x, y, device: torch.device, reps: int) -> float:
    for _ in range(3):  # warm-up; compiles on the first call
        step(x, y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        loss = step(x, y)
    loss.item()
    return (time.perf_counter() - t0) / reps * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="cnn")
    p.add_argument("--model-kwargs", type=json.loads, default={})
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-amp", dest="amp", action="store_false")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    p.add_argument("--compile", action="store_true", help="also time the step under torch.compile")
    args = p.parse_args()
    device = resolve_device(args.device)
    bf16 = use_bf16(args.amp, device)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    x = torch.randn(args.batch_size, 1, 28, 28, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (args.batch_size,), device=device)
    kwargs = f" {json.dumps(args.model_kwargs)}" if args.model_kwargs else ""
    print(f"{args.model}{kwargs} on {device}, {torch.get_num_threads()} threads, "
          f"{'bf16 autocast' if bf16 else 'fp32'}, {'channels_last' if args.channels_last else 'NCHW'}, "
          f"batch {args.batch_size}", flush=True)

    def fresh_step(compiled: bool):
        torch.manual_seed(0)
        model = create_model(args.model, **args.model_kwargs).to(device, memory_format=fmt)
        return standard_step(model, device, bf16, compiled)

    eager = fresh_step(False)
    eager_ms = ms_per_step(eager, x, y, device, args.reps)
    print(f"eager:    {eager_ms:7.1f} ms/step  {args.batch_size / eager_ms * 1000:7.0f} img/s", flush=True)
    if args.compile:
        compiled_ms = ms_per_step(fresh_step(True), x, y, device, args.reps)
        print(f"compiled: {compiled_ms:7.1f} ms/step  {args.batch_size / compiled_ms * 1000:7.0f} img/s  "
              f"({eager_ms / compiled_ms:.2f}x eager)", flush=True)

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(10):
            eager(x, y)
        if device.type == "cuda":
            torch.cuda.synchronize()
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    share: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        group = next((g for g, keys in GROUPS if any(k in event.key for k in keys)), "other")
        share[group] += getattr(event, attr)
    total = sum(share.values()) or 1.0
    print("eager step time by operator group (torch.profiler, 10 steps): " + ", ".join(
        f"{g} {100 * share[g] / total:.0f}%" for g in [g for g, _ in GROUPS] + ["other"]))


if __name__ == "__main__":
    main()
