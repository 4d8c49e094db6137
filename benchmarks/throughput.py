"""Training throughput: ganrator's in-memory trainer against the standard torchvision pipeline, in one run.

Both train the same `cnn` (same init, optimizer, loss, batch size) with the same augmentations (horizontal
flip + 2-pixel translation). The baseline is torchvision.datasets.FashionMNIST on the same files with a
per-image transforms.Compose and DataLoader(num_workers=2), timed twice: as the standard pipeline is written
(fp32, NCHW: the PyTorch and torchvision examples) and with ganrator's compute settings (bf16 autocast where
native, channels_last), which isolates what the input pipeline alone is worth. Also prints the trainer's
achieved GFLOP/s next to a dense matmul's, in the trainer's precision, measured in the same run.

    python benchmarks/throughput.py [--images 20000] [--device auto] [--no-amp] [--model-kwargs '{"depth": 1}']
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ganrator.data import FILES, find_files, load_fashion_mnist
from ganrator.models import create_model, train_flops
from ganrator.train import TrainConfig, resolve_device, train, use_bf16


def ganrator_images_per_second(data, images: int, device: str, batch_size: int, model_kwargs: dict,
                               amp: bool) -> float:
    def run(n: int) -> float:
        cfg = TrainConfig(epochs=1, batch_size=batch_size, data_fraction=min(1.0, n / len(data.y_train)),
                          aug_strength=1.0, aug_translate=2, aug_flip=0.5, device=device, warmup_epochs=0,
                          model_kwargs=model_kwargs, amp=amp, ema=0.0)  # the baselines' steps: augmented, no average
        # images_per_second times the training steps only (validation excluded), as the baseline does.
        return train(cfg, data).history[0]["images_per_second"]

    run(2 * batch_size)  # untimed, like the baselines' first step (cudnn.benchmark picks its kernels here)
    return run(images)


def standard_step(model: torch.nn.Module, device: torch.device, bf16: bool, compiled: bool = False):
    """One training step as a standard loop writes it, with the trainer's optimizer and loss: autocast forward,
    label-smoothed cross-entropy, backward, nesterov SGD. compiled: forward and backward under torch.compile."""
    cfg = TrainConfig()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)

    def forward_backward(x, y):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
        loss.backward()
        return loss

    fb = torch.compile(forward_backward) if compiled else forward_backward

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = fb(x, y)
        opt.step()
        return loss
    return step


@contextlib.contextmanager
def torchvision_dataset(data):
    """torchvision's FashionMNIST with per-image flip + translate, reading the same files (uncompressed)."""
    import torchvision
    from torchvision import transforms

    root = Path(tempfile.mkdtemp(prefix="fmnist-tv-"))
    try:
        raw = root / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for key, path in find_files().items():
            with (gzip.open(path) if path.suffix == ".gz" else open(path, "rb")) as src, \
                    open(raw / FILES[key], "wb") as dst:
                shutil.copyfileobj(src, dst)
        tf = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.RandomCrop(28, padding=2),
                                 transforms.ToTensor(), transforms.Normalize((data.mean,), (data.std,))])
        yield torchvision.datasets.FashionMNIST(str(root), train=True, transform=tf)
    finally:
        shutil.rmtree(root)


def torchvision_images_per_second(dataset, images: int, device: torch.device, batch_size: int, workers: int,
                                  model_kwargs: dict, amp: bool, ganrator_settings: bool) -> float:
    """The baseline; ganrator_settings: channels_last and cudnn.benchmark as the trainer sets them (the standard
    pipeline leaves both off). amp: bf16 autocast where native."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                                         drop_last=True, pin_memory=device.type == "cuda",
                                         persistent_workers=workers > 0)
    memory_format = torch.channels_last if ganrator_settings else torch.contiguous_format
    torch.backends.cudnn.benchmark = ganrator_settings
    torch.manual_seed(0)
    model = create_model("cnn", **model_kwargs).to(device, memory_format=memory_format)
    train_step = standard_step(model, device, use_bf16(amp, device))
    steps = images // batch_size
    it = iter(loader)
    t0, done = time.perf_counter(), 0
    # Step 0 is untimed: workers started, and the kernels for these shapes picked (the trainer is measured
    # after the baselines, so it starts warm too).
    for step in range(steps + 1):
        if step == 1:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0, done = time.perf_counter(), 0
        try:
            x, y = next(it)
        except StopIteration:  # more images asked for than one epoch holds: the next epoch, as training does
            it = iter(loader)
            x, y = next(it)
        x = x.to(device, non_blocking=True).contiguous(memory_format=memory_format)
        y = y.to(device, non_blocking=True)
        loss = train_step(x, y)
        done += len(y)
    loss.item()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    del it, loader  # stops the workers before the next pipeline is timed
    return done / seconds


def augment_images_per_second(device: torch.device, batch_size: int, reps: int = 200) -> float:
    """ganrator's flip + translate alone, on one batch: what the in-memory pipeline costs per step."""
    from ganrator.augment import AugmentConfig, augment

    x = torch.rand(batch_size, 1, 28, 28, device=device)
    y = torch.eye(10, device=device)[torch.arange(batch_size, device=device) % 10]
    g = torch.Generator(device=device).manual_seed(0)
    cfg = AugmentConfig(flip=0.5, translate=2)
    for _ in range(5):
        augment(x, y, cfg, g)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        out, _ = augment(x, y, cfg, g)
    out.sum().item()
    return batch_size * reps / (time.perf_counter() - t0)


def matmul_gflops(device: torch.device, dtype: torch.dtype = torch.float32, n: int = 2048, reps: int = 20) -> float:
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        c = a @ b
    c.sum().item()
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=20000, help="training images timed per pipeline")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the torchvision baseline")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-amp", dest="amp", action="store_false", help="fp32 for both pipelines (no bf16 autocast)")
    p.add_argument("--model-kwargs", type=json.loads, default={}, help='cnn kwargs as JSON, e.g. {"depth": 1}')
    p.add_argument("--data-dir")
    args = p.parse_args()
    device = resolve_device(args.device)
    data = load_fashion_mnist(args.data_dir)
    print(f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"bf16 autocast {'on' if use_bf16(args.amp, device) else 'off'}, "
          f"{args.images} images per pipeline, batch {args.batch_size}, cnn {args.model_kwargs or 'default'}", flush=True)

    ours_settings = f"{'bf16 autocast' if use_bf16(args.amp, device) else 'fp32'}, channels_last"
    with torchvision_dataset(data) as dataset:
        standard = torchvision_images_per_second(dataset, args.images, device, args.batch_size, args.workers,
                                                 args.model_kwargs, amp=False, ganrator_settings=False)
        print(f"torchvision DataLoader(num_workers={args.workers}), per-image transforms, fp32 NCHW (standard): "
              f"{standard:9.0f} img/s", flush=True)
        matched = torchvision_images_per_second(dataset, args.images, device, args.batch_size, args.workers,
                                                args.model_kwargs, amp=args.amp, ganrator_settings=True)
        print(f"the same pipeline with ganrator's compute settings ({ours_settings}): {matched:9.0f} img/s",
              flush=True)
    ours = ganrator_images_per_second(data, args.images, str(device), args.batch_size, args.model_kwargs, args.amp)
    print(f"ganrator trainer, in-memory batched augmentation ({ours_settings}): {ours:9.0f} img/s", flush=True)
    print(f"ratio ganrator / standard torchvision pipeline: {ours / standard:.2f}x (target >= 2x)")
    print(f"ratio ganrator / torchvision with the same compute settings (input pipeline alone): {ours / matched:.2f}x")
    aug = augment_images_per_second(device, args.batch_size)
    print(f"ganrator's augmentation alone: {aug:,.0f} img/s, {100 * ours / aug:.1f}% of its training step time")

    flops = train_flops(create_model("cnn", **args.model_kwargs).to(device, memory_format=torch.channels_last))
    achieved = ours * flops / 1e9
    # The target's reference is a dense matmul in the precision the trainer computes in (bf16 where it
    # autocasts); under bf16 the fp32 rate is printed too, for scale.
    dtypes = [torch.bfloat16, torch.float32] if use_bf16(args.amp, device) else [torch.float32]
    print(f"cnn training step: {flops / 1e6:.1f} MFLOP/image -> {achieved:.1f} GFLOP/s achieved")
    for i, dtype in enumerate(dtypes):
        peak = matmul_gflops(device, dtype)
        print(f"dense {str(dtype).removeprefix('torch.')} matmul 2048x2048: {peak:.1f} GFLOP/s; trainer reaches "
              f"{achieved / peak:.0%} of it" + (" (target >= 50%)" if i == 0 else " (not its precision)"))

if __name__ == "__main__":
    main()
