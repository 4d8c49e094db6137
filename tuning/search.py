"""The search algorithm and scheduler of a study: Optuna proposes, ASHA (or FIFO) decides when to stop."""
from __future__ import annotations

import warnings

import optuna
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

METRIC, MODE = "val_acc", "max"
SAMPLERS = ("tpe", "qmc", "random")


class ResumableOptunaSearch(OptunaSearch):
    """OptunaSearch that survives a resume.

    A trial that Optuna finished after Ray's last experiment snapshot is resumed by Ray and reports again;
    stock OptunaSearch then raises UpdateFinishedTrialError and the whole study dies. Optuna already holds
    that trial's value, so the late reports are dropped. (Its on_trial_complete already tolerates this.)
    """

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        try:
            super().on_trial_result(trial_id, result)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass


def make_sampler(name: str, seed: int, startup_trials: int = 10) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        # group=True: our spaces are conditional (cnn.width only when model is cnn), and the group-decomposed
        # multivariate TPE models each such subspace jointly instead of falling back to independent sampling.
        # constant_liar: trials running in parallel are not proposed the same point.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials, multivariate=True,
                                              group=True, constant_liar=True)
    if name == "qmc":  # quasi-random exploration, as the Tuning Playbook advises before exploitation
        return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown sampler {name!r}; valid: {', '.join(SAMPLERS)}")


def make_searcher(space, sampler: str, seed: int, study_name: str, db_url: str, max_concurrent: int,
                  startup_trials: int = 10):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # OptunaSearch needs a storage object, not a URL string.
    storage = optuna.storages.RDBStorage(db_url, engine_kwargs=(
        {"connect_args": {"timeout": 60}} if db_url.startswith("sqlite") else {}))
    search = ResumableOptunaSearch(space=space.sample, metric=METRIC, mode=MODE, sampler=make_sampler(sampler, seed, startup_trials),
                                   study_name=study_name, storage=storage)
    return ConcurrencyLimiter(search, max_concurrent=max_concurrent)


def make_scheduler(name: str, max_epochs: int, grace_period: int, reduction_factor: int):
    if name == "fifo":
        return FIFOScheduler()
    return ASHAScheduler(time_attr="training_iteration", metric=METRIC, mode=MODE, max_t=max_epochs,
                         grace_period=grace_period, reduction_factor=reduction_factor)
