"""Train one image classifier on in-memory Fashion-MNIST; usable alone, from a notebook or the shell.

Batches are randperm slices of uint8 tensors already on the training device, augmented in one call per
batch there (no per-image DataLoader). A training state file makes an interrupted run resumable bit for
bit. No tuner is imported here: `on_epoch` is the only door out, and it may ask to stop.

    python -m ganrator.train --model cnn --epochs 10 --aug-strength 0.5
"""
from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import config as config_lib
from .augment import augment
from .data import FashionMNIST, load_fashion_mnist
from .ema import WeightAverage
from .models import create_model, profile
from .optim import lr_factor, make_optimizer
from .recipe import TrainConfig  # noqa: F401  (the config is defined free of torch; ganrator.train.TrainConfig stays)

STATUSES = ("completed", "stopped", "diverged")
# A finite stand-in for a NaN/inf loss: NaN must never reach a tuner (Optuna leaves such a trial RUNNING).
DIVERGED_LOSS = 1e6


@dataclass
class TrainResult:
    status: str  # completed | stopped (on_epoch asked) | diverged (NaN/inf loss)
    history: list[dict[str, float]]
    model: nn.Module
    config: TrainConfig
    params: int
    flops: int  # forward FLOPs per image
    raw_model: nn.Module | None = None  # the trained weights themselves, when `model` is their moving average

    @property
    def best_val_acc(self) -> float:
        return max((h["val_acc"] for h in self.history), default=0.0)

    @property
    def last_val_acc(self) -> float:
        return self.history[-1]["val_acc"] if self.history else 0.0

    @property
    def epochs(self) -> int:
        """Epochs trained (not entries of the history: with val_every_steps one entry covers several)."""
        return int(self.history[-1]["epoch"]) if self.history else 0


def run_length(cfg: TrainConfig, n_train: int) -> tuple[int, int, int]:
    """(epochs, optimizer steps, steps per full epoch) of a run on `n_train` training images."""
    # The ragged last batch is dropped: every step sees a full batch.
    steps_per_epoch = n_train // min(cfg.batch_size, n_train)
    if cfg.steps:
        return -(-cfg.steps // steps_per_epoch), cfg.steps, steps_per_epoch
    return cfg.epochs, steps_per_epoch * cfg.epochs, steps_per_epoch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def use_bf16(amp: bool, device: torch.device) -> bool:
    """bf16 autocast only where bf16 matmuls are native; elsewhere it would be emulated and slower.
    On this project's AMX CPU it makes the default cnn's training step 2.2x faster (benchmarks/README.md)."""
    # GANRATOR_NO_BF16=1 runs everything in fp32, as on a CPU without native bf16 (AVX2 only): bf16 rounding
    # differs between AMX, AVX512-BF16 and CUDA, so the suite is also checked this way.
    if not amp or os.environ.get("GANRATOR_NO_BF16") == "1":
        return False
    if device.type == "cuda":
        return True
    return device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def normalize(x_uint8: torch.Tensor, data: FashionMNIST) -> torch.Tensor:
    return (x_uint8.float() / 255.0 - data.mean) / data.std


@torch.no_grad()
def evaluate(model: nn.Module, data: FashionMNIST, split: str = "test", batch_size: int = 1024,
             amp: bool = False, per_image: bool = False, flip: bool = False) -> dict[str, Any]:
    """Loss and accuracy on one split, without augmentation. per_image: also `correct`, a bool tensor (CPU) with
    one entry per image in split order, for paired tests (McNemar) between two models on the same images.
    flip: score each image by the mean of its logits and those of its mirror image (test-time augmentation)."""
    x, y = data.split(split)
    device = next(model.parameters()).device
    x, y = x.to(device), y.to(device)
    was_training = model.training
    model.eval()
    loss_sum, correct = torch.zeros((), device=device), torch.zeros((), device=device, dtype=torch.long)
    hits = []
    for i in range(0, len(y), batch_size):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(amp, device)):
            xb = normalize(x[i:i + batch_size], data)
            logits = model(xb).float()
            if flip:
                logits = (logits + model(xb.flip(3)).float()) / 2
        loss_sum += F.cross_entropy(logits, y[i:i + batch_size], reduction="sum")
        hit = logits.argmax(1) == y[i:i + batch_size]
        correct += hit.sum()
        if per_image:
            hits.append(hit)
    model.train(was_training)
    n = max(1, len(y))
    out: dict[str, Any] = {"loss": loss_sum.item() / n, "acc": correct.item() / n}
    if per_image:
        out["correct"] = torch.cat(hits).cpu() if hits else torch.zeros(0, dtype=torch.bool)
    return out


class CheckpointError(ValueError):
    """A training-state file this trainer will not resume from; the message names it and what to do."""


STATE_KEYS = ("model", "optimizer", "scheduler", "generator", "torch_rng", "epoch", "history", "status", "config")
RESTART = "delete it (or pass another checkpoint path) to start the run from epoch 0"


def load_state(path: Path, device: torch.device | str = "cpu", name: str | None = None,
               remedy: str = RESTART) -> dict:
    """The training state `_save_state` wrote, read without running any code from the file.

    Checkpoints may sit on storage other people can write (a cluster's shared folder), and unpickling runs
    whatever a pickle names. weights_only admits only tensors and plain containers, which is all a state holds
    (state dicts, RNG byte tensors, the history and config as dicts, ints, strings, None), so nothing needs
    allowlisting. `name` is how messages call the file (a Ray trial copies it from its checkpoint folder).
    """
    name = name or str(path)
    if Path(path).is_dir():
        raise CheckpointError(f"{name}: is a folder; pass a training-state file path")
    try:
        with warnings.catch_warnings():  # an old-format pickle warns before it is refused: one message is enough
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" not in str(e):
            raise CheckpointError(f"{name}: damaged, not a readable training state; {remedy}") from None
        raise CheckpointError(f"{name}: holds Python objects besides tensors and plain data, which loading could run "
                              f"as code, so it is refused; {remedy}") from None
    except torch.OutOfMemoryError:
        raise
    except Exception as e:  # truncated (a copy cut short), empty, or not a torch file at all
        reason = (str(e).splitlines() or [""])[0].split(". ")[0].strip() or type(e).__name__
        raise CheckpointError(f"{name}: truncated or damaged, not a readable training state ({reason}); "
                              f"{remedy}") from None
    missing = [k for k in STATE_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{name}: not a training state of this trainer (no {', '.join(missing)}); {remedy}")
    return state


def _save_state(path: Path, state: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: a crash mid-save leaves the previous state intact


def train(cfg: TrainConfig, data: FashionMNIST,
          on_epoch: Callable[[dict[str, float]], bool | None] | None = None,
          checkpoint: str | os.PathLike | None = None) -> TrainResult:
    """Train `cfg.model` on `data`; return the per-epoch history and the model.

    on_epoch(metrics) runs after each validated epoch (every epoch unless cfg.val_every_steps groups them; the
    history holds the same entries), after its state is saved, with that epoch's metrics, the run's status,
    param_count and flops (forward, per image), and where the time outside the training steps went:
    setup_seconds (data, model and optimizer built, state loaded: once per call) and checkpoint_seconds (this
    epoch's state written); returning True stops the run. Each entry's metrics hold train_seconds and val_seconds,
    the two parts of epoch_seconds.
    checkpoint: a file for the training state. If it exists, training resumes from it; it is rewritten
    after every validated epoch.
    """
    t_setup = time.perf_counter()
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    data = data.to(device)
    if cfg.data_fraction < 1:
        data = data.subsample(cfg.data_fraction, cfg.data_seed)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format

    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, num_classes=data.num_classes, in_channels=data.x_train.shape[1],
                         **cfg.model_kwargs).to(device, memory_format=memory_format)
    info = profile(model, tuple(data.x_train.shape[1:]))
    optimizer = make_optimizer(cfg.optimizer, model, cfg.lr, cfg.weight_decay, cfg.momentum,
                               cfg.beta1, cfg.beta2, cfg.eps)
    n = len(data.y_train)
    batch_size = min(cfg.batch_size, n)
    planned_epochs, total_steps, steps_per_epoch = run_length(cfg, n)
    warmup = min(cfg.warmup_steps or round(cfg.warmup_epochs * steps_per_epoch), total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total_steps, warmup, cfg.lr_schedule))
    gen = torch.Generator(device=device)
    gen.manual_seed(cfg.seed)
    ema = WeightAverage(model, cfg.ema) if cfg.ema else None
    scored = ema.module if ema is not None else model  # what validation (and the caller) evaluates

    history: list[dict[str, float]] = []
    status, start_epoch = "completed", 0
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if ckpt_path is not None and ckpt_path.exists():
        state = load_state(ckpt_path, device)
        differs = {k for k, v in state["config"].items() if cfg.to_dict().get(k) != v} - {"device"}
        if differs:
            raise CheckpointError(f"{ckpt_path}: saved by a run with other settings ({', '.join(sorted(differs))}); "
                                  "use a new checkpoint path or the same config")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"].to(gen.get_state().device))
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        history, status, start_epoch = state["history"], state["status"], state["epoch"]
        if ema is not None:
            ema.load_state_dict(state["ema"])

    aug = cfg.augment_config()
    one_hot_eye = torch.eye(data.num_classes, device=device)
    use_amp = use_bf16(cfg.amp, device)
    epoch = start_epoch
    setup_seconds = time.perf_counter() - t_setup
    done_steps = int(history[-1].get("steps", steps_per_epoch * epoch)) if history else 0
    validated_at = done_steps  # a checkpoint is written at validated epochs only
    round_start = None  # the epochs since the last validation (one, unless cfg.val_every_steps groups them)
    while epoch < planned_epochs and status == "completed":
        if round_start is None:
            round_start, round_train, round_steps = time.perf_counter(), 0.0, 0
            loss_sum = torch.zeros((), device=device)
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen, device=device)
        epoch_steps = min(steps_per_epoch, total_steps - done_steps)
        for step in range(epoch_steps):
            idx = perm[step * batch_size:(step + 1) * batch_size]
            x = data.x_train[idx].float().div_(255.0)
            x, targets = augment(x, one_hot_eye[data.y_train[idx]], aug, gen)
            x = ((x - data.mean) / data.std).contiguous(memory_format=memory_format)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), targets, label_smoothing=cfg.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if ema is not None:
                ema.update(model)
            loss_sum += loss.detach()
            # Check every 50 steps, not every step: each check is a device sync on CUDA.
            if (step + 1) % 50 == 0 or step == epoch_steps - 1:
                if not torch.isfinite(loss_sum):
                    status = "diverged"
                    break
        round_train += time.perf_counter() - t0
        epoch += 1
        done_steps += epoch_steps
        round_steps += epoch_steps
        if status == "completed" and epoch < planned_epochs and done_steps - validated_at < cfg.val_every_steps:
            continue
        validated_at = done_steps
        if status == "diverged":
            metrics = {"train_loss": DIVERGED_LOSS, "val_loss": DIVERGED_LOSS, "val_acc": 0.0}
        else:
            val = evaluate(scored, data, "val", cfg.eval_batch_size, use_amp, flip=cfg.tta_flip)
            metrics = {"train_loss": loss_sum.item() / max(1, round_steps),
                       "val_loss": val["loss"], "val_acc": val["acc"]}
        # `steps` (optimizer steps so far) and `planned_epochs` let a tuner tell a run that ended from one it stopped
        # when the epoch count depends on the training-set size (cfg.steps). With val_every_steps the timings and
        # the training loss cover every epoch since the last validation.
        epoch_seconds = time.perf_counter() - round_start
        round_start = None
        metrics.update(epoch=epoch, steps=done_steps, planned_epochs=planned_epochs,
                       lr=optimizer.param_groups[0]["lr"], epoch_seconds=epoch_seconds,
                       train_seconds=round_train, val_seconds=epoch_seconds - round_train,
                       images_per_second=round_steps * batch_size / max(round_train, 1e-9))
        history.append(metrics)
        t_save = time.perf_counter()
        if ckpt_path is not None:
            _save_state(ckpt_path, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "generator": gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                "epoch": epoch, "history": history, "status": status, "config": cfg.to_dict(),
                **({"ema": ema.state_dict()} if ema is not None else {}),
            })
        # The callback also gets the model's size, so a tuner need not build a second model to count it.
        report = dict(metrics, status=status, param_count=info["params"], flops=info["flops"],
                      setup_seconds=setup_seconds, checkpoint_seconds=time.perf_counter() - t_save)
        if on_epoch is not None and on_epoch(report) and status == "completed":
            status = "stopped"
    return TrainResult(status, history, scored, cfg, info["params"], info["flops"],
                       raw_model=model if ema is not None else None)


# ---------------------------------------------------------------- command line


def format_epoch(m: dict[str, float], epochs: int, elapsed: float) -> str:
    eta = elapsed / m["epoch"] * (epochs - m["epoch"])
    return (f"epoch {int(m['epoch']):>3}/{epochs}  train_loss {m['train_loss']:.4f}  val_loss {m['val_loss']:.4f}  "
            f"val_acc {100 * m['val_acc']:6.2f}%  lr {m['lr']:.4f}  {m['epoch_seconds']:6.1f}s  "
            f"{m['images_per_second']:7.0f} img/s  ETA {eta:5.0f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganrator.train", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    config_lib.add_dataclass_flags(parser, TrainConfig)
    parser.add_argument("--data-dir", help="folder with the four Fashion-MNIST IDX files (see README)")
    parser.add_argument("--download", action="store_true", help="let torchvision download the data if missing")
    parser.add_argument("--test", action="store_true", help="evaluate on the test set at the end")
    parser.add_argument("--checkpoint", help="training-state file: resumed if present, rewritten every epoch")
    args = parser.parse_args(argv)
    try:
        cfg = config_lib.pick(TrainConfig, args)
        with torch.device("meta"):  # bad kwarg values (e.g. width 0) fail here, not mid-run; meta allocates nothing
            create_model(cfg.model, **cfg.model_kwargs)
        if args.checkpoint and Path(args.checkpoint).exists():
            load_state(Path(args.checkpoint))  # refuse a damaged or unsafe state before any work
        data = load_fashion_mnist(args.data_dir, val_size=cfg.val_size, seed=cfg.data_seed, download=args.download)
    except CheckpointError as e:
        print(f"error: --checkpoint {e}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    device = resolve_device(cfg.device)
    precision = "bf16 autocast" if use_bf16(cfg.amp, device) else "fp32"
    print(f"data: {data}\nconfig: {cfg.to_dict()}\ndevice: {device} ({precision})", flush=True)
    t0 = time.perf_counter()
    try:
        result = train(cfg, data, checkpoint=args.checkpoint,
                       on_epoch=lambda m: print(format_epoch(m, int(m["planned_epochs"]), time.perf_counter() - t0),
                                                flush=True))
    except CheckpointError as e:  # raised before the first epoch: nothing was trained or written
        print(f"error: --checkpoint {e}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - t0
    print(f"done: status {result.status}, best val_acc {100 * result.best_val_acc:.2f}%, "
          f"{result.params:,} params, {result.flops / 1e6:.1f} MFLOPs/image, {elapsed:.0f}s")
    if args.test:
        test = evaluate(result.model, data, "test", cfg.eval_batch_size, cfg.amp, flip=cfg.tta_flip)
        print(f"test: acc {100 * test['acc']:.2f}%  loss {test['loss']:.4f}")
    if args.checkpoint:
        print(f"training state written to {args.checkpoint}")
    return 0 if result.status != "diverged" else 1


if __name__ == "__main__":
    sys.exit(main())
