"""The typed configs of a training run: TrainConfig (the recipe: every field is a `python -m ganrator.train` flag)
and the AugmentConfig it scales. They import no torch, so a study's driver validates a search space against them
(and against the model registry) without it; ganrator.train and ganrator.augment use them from here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from . import config as config_lib
from .models import list_models, settable_kwargs
from .optim import OPTIMIZERS, SCHEDULES


@dataclass
class AugmentConfig:
    """Each field is the op's magnitude at strength 1; `strength` in [0, 1] scales them all."""

    strength: float = 1.0
    flip: float = 0.5  # probability of a horizontal flip
    translate: int = 2  # max shift in pixels (pad + random crop)
    rotate: float = 0.0  # max rotation in degrees
    scale: float = 0.0  # max relative zoom, e.g. 0.1 = 0.9x..1.1x
    erase: float = 0.0  # probability of erasing one rectangle (random erasing / cutout)
    erase_area: float = 0.25  # max erased share of the image
    mixup: float = 0.0  # Beta(alpha, alpha) of mixup; 0 = off
    cutmix: float = 0.0  # Beta(alpha, alpha) of cutmix; 0 = off

    def __post_init__(self):
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"augmentation strength must be in [0, 1], got {self.strength}")

    def scaled(self) -> "AugmentConfig":
        """The magnitudes at this strength, with strength folded in (1.0)."""
        s = self.strength
        return AugmentConfig(
            strength=1.0, flip=self.flip * s, translate=int(round(self.translate * s)),
            rotate=self.rotate * s, scale=self.scale * s, erase=self.erase * s,
            erase_area=self.erase_area, mixup=self.mixup * s, cutmix=self.cutmix * s,
        )


@dataclass
class TrainConfig:
    """Everything that decides a training run. Every field is also a `python -m ganrator.train` flag."""

    model: str = "cnn"
    model_kwargs: dict = field(default_factory=dict)  # e.g. {"width": 64, "depth": 2}
    optimizer: str = "nesterov"
    lr: float = 0.1  # peak learning rate, for this batch size
    momentum: float = 0.9  # sgd, nesterov, rmsprop
    beta1: float = 0.9  # adam, adamw
    beta2: float = 0.999  # adam, adamw; rmsprop's smoothing constant
    eps: float = 1e-8
    weight_decay: float = 5e-4  # on weights only, not biases or norm scales
    batch_size: int = 256
    # The default recipe (epochs, ema, aug_strength chosen on validation: benchmarks/README.md) reaches 94% test
    # in about 8 minutes per seed on a 2-core CPU; search spaces set their own epochs (budgets) and augmentation.
    epochs: int = 15
    # Optimizer steps of the whole run; 0 = train for `epochs`. Above 0 it replaces `epochs`: every training-set
    # size then gets the same compute (epochs = ceil(steps / steps per epoch), the last one cut short), so a small
    # set is not left with a handful of steps (the lr schedule runs over exactly these steps).
    steps: int = 0
    # With `steps`: validate (and report and checkpoint) at the end of the first epoch that completes at least this
    # many steps since the last validation, and at the end; 0 = after every epoch. A small training set has few
    # steps per epoch (6 at 1/32 of the data), and a validation pass of 5,000 images would cost more than them.
    val_every_steps: int = 0
    lr_schedule: str = "onecycle"
    warmup_epochs: float = 1.0
    warmup_steps: int = 0  # > 0 replaces warmup_epochs: the same warmup at every training-set size (with `steps`)
    label_smoothing: float = 0.1
    # Weights evaluated and returned: an exponential moving average of the trained ones with this decay per step
    # (0 = off; ramped up over the first steps, ganrator/ema.py), batch-norm statistics averaged alike. The
    # trained weights are kept beside it (TrainResult.raw_model).
    ema: float = 0.99
    tta_flip: bool = False  # evaluate (val and test) on the mean of the logits of each image and its mirror image
    aug_strength: float = 0.5  # scales every aug_* magnitude below; 0 = no augmentation
    aug_flip: float = 0.5
    aug_translate: int = 2  # pixels
    aug_rotate: float = 0.0  # degrees
    aug_scale: float = 0.0
    aug_erase: float = 0.0
    aug_erase_area: float = 0.25
    aug_mixup: float = 0.0
    aug_cutmix: float = 0.0
    data_fraction: float = 1.0  # stratified share of the training split used
    val_size: int = 5000  # images held out of the 60k training set for validation
    data_seed: int = 0  # fixes the validation split and the data_fraction subset across trials
    seed: int = 0  # model init, batch order, augmentation draws
    device: str = "auto"  # auto = cuda when available, else cpu
    amp: bool = True  # bf16 autocast where the hardware has native bf16: CUDA, CPUs with AVX512-BF16/AMX
    channels_last: bool = True  # NHWC: 1.6x faster convs on this CPU (benchmarks/README.md)
    eval_batch_size: int = 1024

    CHOICES = {"optimizer": OPTIMIZERS, "lr_schedule": SCHEDULES}

    def __post_init__(self):
        for key, valid in self.CHOICES.items():
            if getattr(self, key) not in valid:
                raise config_lib.ConfigError(f"{key}={getattr(self, key)!r} is not one of: {', '.join(valid)}")
        if self.epochs < 1 or self.batch_size < 1:
            raise config_lib.ConfigError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 0:
            raise config_lib.ConfigError(f"steps must be an integer >= 0 (0 = train for `epochs`), got {self.steps!r}")
        if not isinstance(self.val_every_steps, int) or isinstance(self.val_every_steps, bool) or \
                self.val_every_steps < 0:
            raise config_lib.ConfigError(f"val_every_steps must be an integer >= 0 (0 = every epoch), got "
                                         f"{self.val_every_steps!r}")
        if self.val_every_steps and not self.steps:
            raise config_lib.ConfigError(f"val_every_steps={self.val_every_steps} needs a step budget (steps > 0); a "
                                         "run of `epochs` validates after every epoch (early stopping's rungs)")
        if not isinstance(self.warmup_steps, int) or isinstance(self.warmup_steps, bool) or self.warmup_steps < 0:
            raise config_lib.ConfigError(f"warmup_steps must be an integer >= 0 (0 = use warmup_epochs), got "
                                         f"{self.warmup_steps!r}")
        if not 0 <= self.ema < 1:
            raise config_lib.ConfigError(f"ema must be in [0, 1) (a decay per step; 0 = off), got {self.ema}")
        if not 0 < self.data_fraction <= 1:
            raise config_lib.ConfigError(f"data_fraction must be in (0, 1], got {self.data_fraction}")
        if self.model not in list_models():
            raise config_lib.ConfigError(f"model={self.model!r} is not one of: {', '.join(list_models())}")
        valid = settable_kwargs(self.model)
        unknown = sorted(set(self.model_kwargs) - valid)
        if unknown:
            raise config_lib.ConfigError(f"model_kwargs: {self.model!r} has no argument(s) {', '.join(unknown)}; "
                                         f"valid: {', '.join(sorted(valid))}")
        self.augment_config()  # validates aug_strength

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "") -> "TrainConfig":
        return config_lib.from_dict(cls, values, where)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def augment_config(self) -> AugmentConfig:
        return AugmentConfig(**{f.name: getattr(self, "aug_" + f.name) for f in dataclasses.fields(AugmentConfig)})
