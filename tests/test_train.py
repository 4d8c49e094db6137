import math
import subprocess
import sys

import pytest
import torch

from ganrator import train as T
from ganrator.config import ConfigError
from ganrator.optim import lr_factor

import claims

FAST = dict(data_fraction=0.05, batch_size=128, epochs=2, eval_batch_size=2500)


@pytest.mark.numerics
@pytest.mark.parametrize("amp", [True, False], ids=["bf16", "fp32"])
def test_small_cnn_learns_in_two_epochs(fmnist, amp):
    """tests/claims.py: a small cnn beats its thresholds (>= 3 std below its 5-seed mean in each precision)."""
    if amp and not T.use_bf16(True, torch.device("cpu")):
        pytest.skip("no native bf16 on this CPU (or GANRATOR_NO_BF16=1): the fp32 case is the one that applies")
    out = claims.run_small_cnn(fmnist, claims.small_cnn(seed=0, amp=amp))
    assert out["status"] == "completed" and claims.cnn_learns(out), out
    assert out["train_loss_drop"] > 0
    assert {"train_loss", "val_loss", "val_acc", "epoch_seconds", "images_per_second", "lr"} <= out["epoch_keys"]


@pytest.mark.numerics
def test_control_that_cannot_learn_fails_the_same_check(fmnist):
    """lr 0: the same run with nothing learned must fail the claim, or the claim could never fail."""
    out = claims.run_small_cnn(fmnist, claims.small_cnn(seed=0, amp=False, lr=0.0))
    assert not claims.cnn_learns(out) and out["val_acc"] < 0.3, out


@pytest.mark.numerics
def test_resume_matches_uninterrupted_run(fmnist, tmp_path):
    cfg = T.TrainConfig(**FAST, aug_mixup=0.2, aug_erase=0.5, model_kwargs={"width": 8, "dropout": 0.3}, ema=0.9)
    full = T.train(cfg, fmnist)
    ckpt = tmp_path / "state.pt"
    first = T.train(cfg, fmnist, checkpoint=ckpt, on_epoch=lambda m: True)  # stop after epoch 1
    assert first.status == "stopped" and len(first.history) == 1
    resumed = T.train(cfg, fmnist, checkpoint=ckpt)
    assert resumed.status == "completed"
    assert [h["val_acc"] for h in resumed.history] == [h["val_acc"] for h in full.history]
    assert resumed.history[-1]["train_loss"] == full.history[-1]["train_loss"]
    for a, b in zip(resumed.model.state_dict().values(), full.model.state_dict().values()):
        assert torch.equal(a, b)  # the moving average too: it is part of the training state
    for a, b in zip(resumed.raw_model.state_dict().values(), full.raw_model.state_dict().values()):
        assert torch.equal(a, b)


def test_moving_average_is_what_validation_scores(fmnist):
    cfg = T.TrainConfig(**{**FAST, "epochs": 1}, model_kwargs={"width": 8}, ema=0.99)
    out = T.train(cfg, fmnist)
    avg, raw = out.model.state_dict(), out.raw_model.state_dict()
    assert avg.keys() == raw.keys() and any(not torch.equal(avg[k], raw[k]) for k in avg)
    val = T.evaluate(out.model, fmnist, "val", cfg.eval_batch_size, cfg.amp, flip=cfg.tta_flip)["acc"]
    assert out.history[-1]["val_acc"] == pytest.approx(val)
    # a vanishing decay follows the trained weights: the average is the last of them
    nearly_raw = T.train(T.TrainConfig(**{**cfg.to_dict(), "ema": 1e-9}), fmnist)
    for a, b in zip(nearly_raw.model.state_dict().values(), nearly_raw.raw_model.state_dict().values()):
        if a.is_floating_point():
            assert torch.allclose(a, b, atol=1e-6)
    assert T.train(T.TrainConfig(**{**cfg.to_dict(), "ema": 0.0}), fmnist).raw_model is None
    with pytest.raises(ConfigError, match=r"ema must be in \[0, 1\)"):
        T.TrainConfig(ema=1.0)


def test_weight_average_ramps_up_so_short_runs_leave_their_init():
    from ganrator.ema import WeightAverage

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    torch.nn.init.zeros_(model[0].weight)
    avg = WeightAverage(model, decay=0.99)
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    for _ in range(3):
        avg.update(model)
    # 1 - (2/11)(3/12)(4/13) = 0.986; a fixed decay of 0.99 would give 1 - 0.99**3 = 0.030
    assert torch.allclose(avg.module[0].weight, torch.full((2, 2), 1 - (2 / 11) * (3 / 12) * (4 / 13)))
    for _ in range(1000):  # the decay then settles at its cap: the average lags a change by about 1/(1 - 0.99)
        avg.update(model)
    with torch.no_grad():
        model[0].weight.fill_(2.0)
    for _ in range(100):
        avg.update(model)
    assert torch.allclose(avg.module[0].weight, torch.full((2, 2), 2 - 0.99 ** 100), atol=1e-4)


def test_flip_at_test_time_scores_the_mean_of_both_views(fmnist):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 10))  # not mirror-symmetric
    small = fmnist.subsample(0.05)
    plain = T.evaluate(model, small, "val", 512)
    both = T.evaluate(model, small, "val", 512, flip=True, per_image=True)
    x, y = small.split("val")
    with torch.no_grad():
        xn = T.normalize(x, small)
        mean = (model(xn) + model(xn.flip(3))) / 2
    assert torch.equal(both["correct"], mean.argmax(1) == y)
    assert both["acc"] != plain["acc"]


def test_checkpoint_from_other_config_is_refused(fmnist, tmp_path):
    ckpt = tmp_path / "state.pt"
    T.train(T.TrainConfig(**{**FAST, "epochs": 1}, model_kwargs={"width": 4}), fmnist, checkpoint=ckpt)
    with pytest.raises(ValueError, match=r"saved by a run with other settings \(lr\)"):
        T.train(T.TrainConfig(**{**FAST, "epochs": 1}, model_kwargs={"width": 4}, lr=0.3), fmnist, checkpoint=ckpt)


def test_divergence_ends_run_with_finite_metrics(fmnist):
    cfg = T.TrainConfig(**FAST, optimizer="sgd", lr=1e8, lr_schedule="constant", warmup_epochs=0,
                        model_kwargs={"width": 8, "batch_norm": False})
    seen = []
    result = T.train(cfg, fmnist, on_epoch=seen.append)
    assert result.status == "diverged" and seen[-1]["status"] == "diverged"
    assert len(result.history) == 1  # stops at the first diverged epoch
    assert all(math.isfinite(v) for h in result.history for v in h.values())
    assert result.history[-1]["val_acc"] == 0.0


def test_config_rejects_unknown_keys_and_bad_choices():
    with pytest.raises(ConfigError, match=r"Unknown TrainConfig key\(s\) in space.yaml: lrate\. Valid keys: model, "):
        T.TrainConfig.from_dict({"lrate": 0.1}, where="space.yaml")
    with pytest.raises(ConfigError, match="optimizer='lion' is not one of: sgd, nesterov, adam, adamw, rmsprop"):
        T.TrainConfig(optimizer="lion")
    assert T.TrainConfig(aug_strength=0.5).augment_config().scaled().flip == 0.25
    # The model and its keyword arguments are checked against the registry when the config is built.
    with pytest.raises(ConfigError, match="model='vit' is not one of: cnn, mlp, resnet"):
        T.TrainConfig(model="vit")
    with pytest.raises(ConfigError, match="model_kwargs: 'cnn' has no argument.* widht; valid: batch_norm, depth, "):
        T.TrainConfig(model_kwargs={"widht": 64})


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "onecycle"])
def test_lr_schedule_warms_up_then_never_exceeds_peak(schedule):
    f = [lr_factor(s, 100, 10, schedule) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert max(f) <= 1.0 + 1e-12
    if schedule != "constant":
        assert f[-1] < 0.05


def test_cli_trains_and_reports(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "ganrator.train", "--epochs", "1", "--data-fraction", "0.02", "--batch-size", "128",
         "--model-kwargs", '{"width": 8}', "--aug-strength", "0.5", "--test", "--checkpoint", str(tmp_path / "s.pt")],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "epoch   1/1" in out.stdout and "ETA" in out.stdout
    assert "test: acc" in out.stdout and f"training state written to {tmp_path / 's.pt'}" in out.stdout
    assert "RuntimeWarning" not in out.stderr


def test_cli_bad_flag_names_choices():
    out = subprocess.run([sys.executable, "-m", "ganrator.train", "--optimizer", "lion"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "invalid choice: 'lion'" in out.stderr and "adamw" in out.stderr


@pytest.mark.parametrize("flags, message", [
    (["--model", "vit"], "error: model='vit' is not one of: cnn, mlp"),
    (["--model-kwargs", '{"width": 0}'], "error: cnn needs width, depth, stages >= 1, got 0"),
    (["--model-kwargs", "width=64"], "--model-kwargs: not a JSON object: 'width=64'"),
])
def test_cli_bad_model_is_one_line_not_a_traceback(flags, message):
    out = subprocess.run([sys.executable, "-m", "ganrator.train", *flags], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr


class _WritesAFile:
    """Unpickling this calls open(marker, "w"): code the file, not the trainer, chose to run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_checkpoint_holding_code_is_refused_without_running_it(fmnist, tmp_path):
    ckpt, marker = tmp_path / "state.pt", tmp_path / "ran"
    torch.save({"model": {}, "config": {}, "payload": _WritesAFile(marker)}, ckpt)
    torch.load(ckpt, weights_only=False).get("payload").close()  # the payload is live: a trusting load runs it
    assert marker.exists()
    marker.unlink()
    with pytest.raises(T.CheckpointError, match=rf"{ckpt}: holds Python objects besides tensors and plain data"):
        T.train(T.TrainConfig(**{**FAST, "epochs": 1}, model_kwargs={"width": 4}), fmnist, checkpoint=ckpt)
    out = subprocess.run([sys.executable, "-m", "ganrator.train", "--checkpoint", str(ckpt)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.strip() == (f"error: --checkpoint {ckpt}: holds Python objects besides tensors and plain data, "
                                  f"which loading could run as code, so it is refused; delete it (or pass another "
                                  f"checkpoint path) to start the run from epoch 0")
    assert not marker.exists()


def test_truncated_checkpoint_is_refused_by_name(fmnist, tmp_path):
    cfg = T.TrainConfig(**FAST, model_kwargs={"width": 4})
    ckpt = tmp_path / "state.pt"
    T.train(cfg, fmnist, checkpoint=ckpt, on_epoch=lambda m: True)  # a real state, after epoch 1
    whole = ckpt.read_bytes()
    ckpt.write_bytes(whole[:len(whole) // 2])  # a copy cut short, as on shared storage
    with pytest.raises(T.CheckpointError, match=rf"{ckpt}: truncated or damaged, not a readable training state"):
        T.train(cfg, fmnist, checkpoint=ckpt)
    torch.save([1, 2], ckpt)  # a readable file, but not a training state
    with pytest.raises(T.CheckpointError, match=rf"{ckpt}: not a training state of this trainer \(no model, "):
        T.train(cfg, fmnist, checkpoint=ckpt)
    out = subprocess.run([sys.executable, "-m", "ganrator.train", "--checkpoint", str(tmp_path)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.strip() == f"error: --checkpoint {tmp_path}: is a folder; pass a " \
                                                         f"training-state file path"


def test_a_step_budget_gives_every_training_set_size_the_same_steps(fmnist):
    """steps = 20: 2,750 images (21 steps per epoch) train one cut-short epoch, 1,100 images (8 per epoch) three;
    both end at step 20 with the lr schedule at its end (onecycle decays to 0 exactly at the last step)."""
    runs = {}
    for fraction in (0.05, 0.02):
        cfg = T.TrainConfig(**{**FAST, "data_fraction": fraction}, steps=20, warmup_steps=4,
                            model_kwargs={"width": 4})
        runs[fraction] = T.train(cfg, fmnist)
    assert [h["steps"] for h in runs[0.05].history] == [20]
    assert [h["steps"] for h in runs[0.02].history] == [8, 16, 20]
    # the same warmup in steps: after 8 steps both schedules are past their 4-step warmup and decaying alike
    assert runs[0.02].history[0]["lr"] == pytest.approx(0.1 * (1 - (8 - 4) / (20 - 4)))
    for r in runs.values():
        assert r.status == "completed" and r.history[-1]["lr"] == pytest.approx(0.0, abs=1e-12)
        assert r.history[-1]["planned_epochs"] == len(r.history)
    # without a step budget the epochs decide, and the steps follow the training-set size
    plain = T.train(T.TrainConfig(**{**FAST, "data_fraction": 0.02, "epochs": 1}, model_kwargs={"width": 4}), fmnist)
    assert [h["steps"] for h in plain.history] == [8]


def test_validation_every_n_steps_groups_epochs_and_trains_the_same(fmnist, tmp_path):
    """1,100 images are 8 steps per epoch: val_every_steps=12 validates at steps 16, 32 and 40 (the end) instead of
    after each of the 5 epochs, and trains exactly the same weights; a resume from its checkpoint matches too."""
    cfg = dict(**{**FAST, "data_fraction": 0.02, "amp": False}, steps=40, warmup_steps=4, model_kwargs={"width": 4})
    every = T.train(T.TrainConfig(**cfg), fmnist)
    grouped = T.train(T.TrainConfig(**cfg, val_every_steps=12), fmnist)
    assert [h["steps"] for h in every.history] == [8, 16, 24, 32, 40]
    assert [(h["epoch"], h["steps"]) for h in grouped.history] == [(2, 16), (4, 32), (5, 40)]
    assert grouped.epochs == every.epochs == 5  # epochs trained, not validations
    assert grouped.status == "completed" and grouped.history[-1]["planned_epochs"] == 5
    for a, b in zip(every.model.state_dict().values(), grouped.model.state_dict().values()):
        assert torch.equal(a, b)
    assert grouped.history[-1]["val_acc"] == every.history[-1]["val_acc"]
    # the grouped entry's training loss and time cover both of its epochs
    assert grouped.history[0]["train_loss"] == pytest.approx(
        (every.history[0]["train_loss"] + every.history[1]["train_loss"]) / 2, rel=1e-5)
    assert grouped.history[0]["train_seconds"] > 0 and grouped.history[0]["val_seconds"] > 0

    ckpt = tmp_path / "state.pt"
    first = T.train(T.TrainConfig(**cfg, val_every_steps=12), fmnist, checkpoint=ckpt, on_epoch=lambda m: True)
    assert first.status == "stopped" and [h["epoch"] for h in first.history] == [2]
    resumed = T.train(T.TrainConfig(**cfg, val_every_steps=12), fmnist, checkpoint=ckpt)
    assert [h["epoch"] for h in resumed.history] == [2, 4, 5]
    for a, b in zip(grouped.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


def test_validation_every_n_steps_needs_a_step_budget():
    with pytest.raises(ConfigError, match=r"^val_every_steps=100 needs a step budget \(steps > 0\)"):
        T.TrainConfig.from_dict({"val_every_steps": 100})
    with pytest.raises(ConfigError, match=r"^val_every_steps must be an integer >= 0"):
        T.TrainConfig.from_dict({"steps": 100, "val_every_steps": -1})


def test_a_negative_step_budget_names_the_key():
    for bad in (-5, 2.5, "600"):
        with pytest.raises(ConfigError, match=r"^steps must be an integer >= 0 \(0 = train for `epochs`\), got "):
            T.TrainConfig.from_dict({"steps": bad})
        with pytest.raises(ConfigError, match=r"^warmup_steps must be an integer >= 0"):
            T.TrainConfig.from_dict({"warmup_steps": bad})
