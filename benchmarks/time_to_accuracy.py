"""Time to a target test accuracy: train a fixed recipe for each epoch budget of a ladder until one reaches it.

Like airbench, the recipe is fixed in advance and the test set is only read once per budget, at the end;
nothing is selected on it. Any TrainConfig field is a flag.

    python benchmarks/time_to_accuracy.py --target 0.94 --ladder 10,20,30 --model resnet --aug-erase 0.5
"""
from __future__ import annotations

import argparse
import time

import torch

from ganrator import config as config_lib
from ganrator.data import load_fashion_mnist
from ganrator.train import TrainConfig, evaluate, resolve_device, train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    config_lib.add_dataclass_flags(p, TrainConfig)
    p.add_argument("--target", type=float, default=0.94, help="test accuracy to reach")
    p.add_argument("--ladder", default="10,20,30", help="epoch budgets tried in order, comma-separated")
    p.add_argument("--data-dir")
    args = p.parse_args()
    base = config_lib.pick(TrainConfig, args)
    device = resolve_device(base.device)
    data = load_fashion_mnist(args.data_dir, val_size=base.val_size, seed=base.data_seed).to(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {name}; recipe {base.model} {base.model_kwargs} bs {base.batch_size} {base.optimizer} "
          f"lr {base.lr} {base.lr_schedule}; target test acc {args.target:.2%}", flush=True)
    for epochs in (int(e) for e in args.ladder.split(",")):
        cfg = TrainConfig(**{**base.to_dict(), "epochs": epochs})
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        result = train(cfg, data)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        test = evaluate(result.model, data, "test", cfg.eval_batch_size, cfg.amp)["acc"]
        ips = sum(h["images_per_second"] for h in result.history) / len(result.history)
        print(f"epochs {epochs:3d}: test acc {test:.2%}  val acc {result.last_val_acc:.2%}  "
              f"{seconds:7.1f}s wall  {ips:8.0f} img/s", flush=True)
        if test >= args.target:
            print(f"time to {args.target:.0%} test accuracy: {seconds:.1f}s ({epochs} epochs)")
            return
    print(f"target {args.target:.0%} not reached within the ladder")


if __name__ == "__main__":
    main()
