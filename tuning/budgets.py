"""Study budgets: how many trials, how long each, and how hard ASHA prunes. Flags override single fields."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

# What every study is ranked and searched by; here, not in tuning.search, so that checking a command line imports
# neither Ray Tune nor Optuna.
METRIC, MODE = "val_acc", "max"
SAMPLERS = ("tpe", "qmc", "random")


@dataclass(frozen=True)
class Budget:
    name: str
    num_samples: int  # trials
    max_epochs: int  # epochs of a trial that ASHA never stops
    grace_period: int  # epochs before ASHA may stop a trial
    reduction_factor: int  # ASHA keeps the top 1/rf at each rung
    # TPE samples at random until this many trials finished, then models them; at least the stratified start-up
    # (tuning/coverage.py: every categorical scientific value twice, every model its calibration trials)
    startup_trials: int
    data_fraction: float  # of the 55k training split
    val_size: int
    time_budget_s: float | None  # wall-clock cap of the search; None = until num_samples are done
    final_epochs: int  # epochs of each --final-eval retraining
    final_seeds: int  # seeds per --final-eval configuration
    summary: str
    # Confirmation (tuning/confirm.py): every arm retrained without early stopping, on fresh seeds.
    confirm: bool = False  # run it after the search unless --confirm/--no-confirm says otherwise
    confirm_epochs: int = 2
    confirm_data_fraction: float = 0.02  # of the 55k training split, as data_fraction
    confirm_seeds: int = 2  # the same seeds for every arm, so arms compare seed by seed
    # ASHA's calibration trials, per model: the first of each model in the stratified start-up, recorded at every
    # rung but never stopped; their rank correlation between each rung and the last epoch decides, per model,
    # whether that rung stops trials (tuning/schedulers.py). 0, or at least 4 (tuning.fidelity.MIN_TRIALS): with
    # none, no rung's fidelity is known and ASHA stops nothing.
    calibration_per_model: int = 0

    def with_overrides(self, **values) -> "Budget":
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    def to_dict(self) -> dict:
        return asdict(self)


BUDGETS = {
    "smoke": Budget("smoke", num_samples=6, max_epochs=3, grace_period=1, reduction_factor=2, startup_trials=6,
                    data_fraction=0.02, val_size=1000, time_budget_s=None, final_epochs=2, final_seeds=2,
                    summary="tests: 6 tiny trials, 1,100 training images, 3 epochs; about a minute",
                    confirm=False, confirm_epochs=2, confirm_data_fraction=0.02, confirm_seeds=2,
                    calibration_per_model=4),
    # Grace period 2: at epoch 1 ASHA rewards fast starters (MLPs, no augmentation) over better models.
    # 16 random trials first: with TPE's default 10, a first run had sampled 4 CNNs and then spent 20 of 32 trials
    # on MLPs, although the CNNs were ahead at every rung in a quasi-random run of the same space.
    # 6 epochs and a 6-minute cap keep `make run` (search, confirmation and report) within 15 minutes on 2 cores:
    # at 8 epochs and 10 minutes it took 19.5, as every model's calibration trials and the confirmation's arms (each
    # a searched trial with its own width) now run in full.
    "laptop": Budget("laptop", num_samples=32, max_epochs=6, grace_period=2, reduction_factor=2, startup_trials=16,
                     data_fraction=0.1, val_size=5000, time_budget_s=6 * 60, final_epochs=6, final_seeds=3,
                     summary="a 2-core laptop: 32 trials (16 at random, stratified so that every scientific value "
                             "gets at least 2 and every model 4 calibration trials, then the reference's slice "
                             "filled, then TPE) on a 10% stratified subset (5,500 images), up to 6 epochs, ASHA "
                             "rungs at epochs 2 and 4 within each model, capped at 6 minutes of search; then the "
                             "confirmation of every scientific parameter's arms (6 epochs, 3 fresh seeds each)",
                     confirm=True, confirm_epochs=6, confirm_data_fraction=0.1, confirm_seeds=3,
                     calibration_per_model=4),
    # The headline: a short search at low fidelity proposes the reference (it only has to rank a CNN above an MLP);
    # the confirmation then trains every arm on all the training images for 10 epochs (the default recipe's until it
    # took 15 with augmentation and a weight average; the headline's runs keep 10), on 3
    # fresh seeds shared by every arm. Its cost is the confirmation: about 10 CNN runs over the whole split.
    "headline": Budget("headline", num_samples=6, max_epochs=3, grace_period=1, reduction_factor=2, startup_trials=6,
                       data_fraction=0.2, val_size=5000, time_budget_s=None, final_epochs=10, final_seeds=3,
                       summary="the headline: 6 random trials on 20% of the data (3 epochs) propose; every arm is "
                               "then confirmed on all 55,000 training images for 10 epochs over 3 fresh seeds",
                       confirm=True, confirm_epochs=10, confirm_data_fraction=1.0, confirm_seeds=3,
                       calibration_per_model=0),
    # The scaling space fixes a step budget (TrainConfig.steps), so every training-set size gets the same compute;
    # `max_epochs` is then unused by the trials (epochs follow from the steps) and the scheduler is FIFO. The
    # confirmation retrains the arms of every scientific parameter on 3 fresh seeds: the data_fraction arms are
    # 3 seeds at every training-set size, on the reference's model, so each size pairs with the reference's.
    "scaling": Budget("scaling", num_samples=30, max_epochs=1, grace_period=1, reduction_factor=2, startup_trials=15,
                      data_fraction=1.0, val_size=5000, time_budget_s=None, final_epochs=1, final_seeds=2,
                      summary="scaling: 30 trials on 1/32 to all of the 55,000 training images, each for the "
                              "space's fixed optimizer steps whatever its training-set size (no early stopping); "
                              "then every scientific value confirmed on 3 fresh seeds, so each training-set size "
                              "has 3 seeds",
                      confirm=True, confirm_epochs=1, confirm_data_fraction=1.0, confirm_seeds=3,
                      calibration_per_model=0),
    # Augmentation against data size (search_spaces/aug_size.yaml): the space fixes the steps, so each size trains
    # as long as the others; a short random search tunes lr and weight decay, then the confirmation trains the
    # cross (2 sizes x 3 strengths) on 3 fresh seeds; the full-data row is the headline study's. 8 + 18 runs of
    # 1,500 steps of 256 images, validated about every 100 steps (the space's val_every_steps).
    "aug_size": Budget("aug_size", num_samples=8, max_epochs=1, grace_period=1, reduction_factor=2,
                       startup_trials=8, data_fraction=1.0, val_size=5000, time_budget_s=None, final_epochs=1,
                       final_seeds=3,
                       summary="augmentation against data size: 8 random trials, each for the space's fixed "
                               "optimizer steps (no early stopping), then every (data size, augmentation) cell "
                               "confirmed on the same 3 fresh seeds",
                       confirm=True, confirm_epochs=1, confirm_data_fraction=1.0, confirm_seeds=3,
                       calibration_per_model=0),
    "full": Budget("full", num_samples=200, max_epochs=40, grace_period=4, reduction_factor=3, startup_trials=50,
                   data_fraction=1.0, val_size=5000, time_budget_s=None, final_epochs=60, final_seeds=5,
                   summary="paper grade, for GPU clusters: 200 trials on all 55,000 training images, up to 40 epochs",
                   confirm=True, confirm_epochs=40, confirm_data_fraction=1.0, confirm_seeds=5,
                   calibration_per_model=6),
}


def fresh_seeds(search_seed: int, n: int) -> list[int]:
    """Seeds of every retraining after a search (final evaluation, confirmation): never a search seed, so the
    run that won on validation is not counted again as an independent test run. Seed k is the same for every
    configuration, so configurations compare seed by seed."""
    return [1000 + search_seed + k for k in range(n)]


# A search trial that repeats an earlier one (tuning/coverage.py's leader repeats) carries this key in its config:
# its repeat number k >= 1. The trainable trains the same parameters on repeat_seed(search seed, k).
REPEAT_KEY = "repeat"


def repeat_seed(search_seed: int, k: int) -> int:
    """The seed of a configuration's k-th repeat within a search: neither the search's seed nor a retraining seed
    (fresh_seeds starts at 1000 + search seed)."""
    return 500 + search_seed + k


def split_repeat(config: dict, overrides: dict) -> tuple[dict, dict]:
    """A trial's sampled parameters without the repeat key, and its overrides with the repeat's seed."""
    k = int(config.get(REPEAT_KEY) or 0)
    sampled = {key: v for key, v in config.items() if key != REPEAT_KEY}
    return sampled, ({**overrides, "seed": repeat_seed(int(overrides.get("seed") or 0), k)} if k else overrides)
