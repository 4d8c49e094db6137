"""The search algorithm and scheduler of a study: Optuna proposes, ASHA (or FIFO) decides when to stop."""
from __future__ import annotations

import time
import warnings
from collections import defaultdict

import optuna
from ray.tune.schedulers import FIFOScheduler
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

from . import db as _db
from .budgets import METRIC, MODE, SAMPLERS  # noqa: F401  (SAMPLERS re-exported: the driver's vocabulary)
from .budgets import REPEAT_KEY
from .coverage import PER_VALUE, leader_repeat, slice_gaps
from .schedulers import GroupedASHA, SchedulerState
from .selection import trials_frame
from .states import final_state

# Seconds the searcher spent on each trial (proposing it, recording its reports and its end), and when it proposed
# it (Tune creates the trial right after), by Ray trial id. Read by the driver's TrialRecorder into
# ganrator_trials.search_seconds and queued_at; both live in the driver process.
SEARCH_SECONDS: defaultdict[str, float] = defaultdict(float)
SUGGESTED_AT: dict[str, float] = {}

# A trial resumed from its checkpoint reports again the epoch it was cut at; Optuna keeps the first report of a
# step and warns about the second. That is what a resume does, so the warning only alarms (the trial table keeps
# the last report; tests/test_tuning.py checks both).
warnings.filterwarnings("ignore", message=r"The reported value is ignored because this `step=\d+` is already reported")


class StudyStorage(optuna.storages.RDBStorage):
    """Optuna's storage on the study's database, reopened on `tuning.db.RESUMED_URL` when a resume unpickles it."""

    def __init__(self, url: str):
        # SQLite: wait for our own tables' writer instead of failing, as make_engine does.
        super().__init__(url, engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {})

    def __setstate__(self, state: dict) -> None:
        super().__setstate__({**state, "url": _db.RESUMED_URL or state["url"]})


class ResumableOptunaSearch(OptunaSearch):
    """OptunaSearch that tells Optuna what the project's table says (tuning/states.py) and survives a resume.

    Stock OptunaSearch reports `training_iteration` steps, skips the result ASHA stops a trial on, and tells
    Optuna COMPLETE for any trial with a value, ASHA-stopped ones included. Here every epoch's val_acc is an
    intermediate value at step=epoch, the final state comes from `final_state`, and each Optuna trial carries
    the user attributes trial_id (Ray's), node, seed and status (ganrator_trials.status).

    Resume: a trial Optuna finished after Ray's last experiment snapshot (a killed driver) is resumed by Ray and
    reports again; Optuna already holds it, so the late reports are dropped instead of killing the study. A
    trial the driver closed as interrupted (FAIL) is continued by Ray; Optuna cannot reopen it, so it goes on
    as a new Optuna trial with the same parameters and the intermediate values it had.
    """

    # What a study begun before the stratified start-up lacks when its pickled searcher resumes: no proposals.
    _space_def = _db = _reference = None
    _startup: list = []
    _repeats: dict = {}
    _repeat_ids: set = frozenset()

    def __init__(self, *args, max_epochs: int, space_def=None, startup_points=(), db=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_epochs = max_epochs
        # The node and seed last written to each Optuna trial: a write when they change (a trial resumed by a new
        # driver runs on another node), not one per epoch.
        self._attr_values: dict[int, dict[str, object]] = {}
        # What the searcher proposes before its sampler (tuning/coverage.py): the stratified start-up's partial
        # configurations, then the reference's slice filled; `db` (the trial database) tells it the reference.
        self._space_def, self._db = space_def, db
        self._startup = list(startup_points)
        self._reference: str | None = None  # the last reference whose slice was reported
        self._repeats: dict[str, int] = {}  # leader repeats proposed, by configuration (selection.config_key)
        self._repeat_ids: set[str] = set()  # the trials that are repeats

    def suggest(self, trial_id: str):
        t0 = time.perf_counter()
        origin, repeat = None, None
        if trial_id not in self._ot_trials and self._ot_study is not None:
            # Enqueued just before Optuna's ask takes it, never ahead: a resumed study's continued trials enqueue
            # and ask their own parameters, which an earlier waiting point would otherwise take.
            point, origin, repeat = self._next_point()
            if point:
                self._ot_study.enqueue_trial(point)
        params = super().suggest(trial_id)
        if params is not None:
            self._ot_trials[trial_id].set_user_attr("trial_id", trial_id)
            if origin:
                self._ot_trials[trial_id].set_user_attr("proposed_by", origin)
            if repeat:
                leader, key, k = repeat
                self._repeats = {**self._repeats, key: k}
                self._repeat_ids = {*self._repeat_ids, trial_id}
                params = {**params, REPEAT_KEY: k}
                print(f"search: trial {trial_id} repeats the leading configuration (trial {leader}) on another seed "
                      f"before it is trusted", flush=True)
            SUGGESTED_AT[trial_id] = time.time()
        SEARCH_SECONDS[trial_id] += time.perf_counter() - t0
        return params

    def _next_point(self) -> tuple[dict | None, str | None, tuple[str, str, int] | None]:
        if self._startup:
            return self._startup.pop(0), "start-up", None
        if self._space_def is None or self._db is None:
            return None, None, None
        rows = self._db.rows(_db.trials, self._study_name)
        frame = trials_frame(rows)
        repeat = leader_repeat(frame, self._repeats)
        if repeat and repeat[0] in self._ot_trials:
            return dict(self._ot_trials[repeat[0]].params), f"repeat of trial {repeat[0]}", repeat
        errored = {r["trial_id"] for r in rows if r["status"] == "errored"}
        # a repeat is not another trial of its values: the slice's share counts configurations
        proposed = [t.params for tid, t in self._ot_trials.items() if tid not in errored and tid not in self._repeat_ids]
        reference, gaps = slice_gaps(self._space_def, frame, proposed)
        if reference and reference["trial_id"] != self._reference and gaps:
            self._reference = reference["trial_id"]
            wanted = ", ".join(f"{k} = {v}" for k, v in gaps[0].items())
            print(f"search: the reference is trial {reference['trial_id']}; {len(gaps)} trial(s) to give every "
                  f"scientific value {PER_VALUE} in its slice, first {wanted}", flush=True)
        return (gaps[0], f"slice of trial {reference['trial_id']}", None) if gaps else (None, None, None)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self._completed_trials:
            return
        t0 = time.perf_counter()
        self._report(self._ot_trials[trial_id], result)
        SEARCH_SECONDS[trial_id] += time.perf_counter() - t0

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._completed_trials:
            return
        t0 = time.perf_counter()
        try:
            self._complete(trial_id, result, error)
        finally:
            SEARCH_SECONDS[trial_id] += time.perf_counter() - t0

    def _complete(self, trial_id: str, result: dict | None, error: bool) -> None:
        ot_trial = self._ot_trials[trial_id]
        state = final_state(result, self.max_epochs, error=error)
        try:
            if result and not error:  # the result a scheduler stops a trial on never reached on_trial_result
                self._report(ot_trial, result)
            self._catch_up(trial_id, ot_trial)
            ot_trial.set_user_attr("status", state.status)
            self._ot_study.tell(ot_trial, state.value, state=state.optuna)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # finished before a driver crash; the rows of both records already say how
        self._completed_trials.add(trial_id)

    def _catch_up(self, trial_id: str, ot_trial) -> None:
        """Report the epochs the trial table holds and Optuna lacks. A driver killed between recording a trial's
        last result and completing it leaves that epoch in the table only; the resumed trial may then end (restored
        past it) without reporting it again, so the table, written first, is the record to catch up with."""
        if self._db is None:
            return
        reported = self._ot_study._storage.get_trial(ot_trial._trial_id).intermediate_values
        for epoch, val_acc in sorted(self._db.val_accs(self._study_name, trial_id).items()):
            if epoch not in reported and val_acc is not None:
                ot_trial.report(float(val_acc), step=int(epoch))

    def _report(self, ot_trial, result: dict) -> None:
        if METRIC not in result or "epoch" not in result:  # a trial skipped on resume returns without a result
            return
        try:
            ot_trial.report(float(result[METRIC]), step=int(result["epoch"]))
            written = self._attr_values.setdefault(ot_trial.number, {})
            for key in ("node", "seed"):
                if key in result and written.get(key) != result[key]:
                    ot_trial.set_user_attr(key, result[key])
                    written[key] = result[key]
        except optuna.exceptions.UpdateFinishedTrialError:
            pass

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        storage = self._ot_study._storage
        for trial_id, ot_trial in list(self._ot_trials.items()):
            if trial_id in self._completed_trials:
                continue
            frozen = storage.get_trial(ot_trial._trial_id)
            if frozen.state == optuna.trial.TrialState.FAIL and frozen.user_attrs.get("interrupted"):
                self._ot_trials[trial_id] = self._continue(frozen)

    def _continue(self, frozen: optuna.trial.FrozenTrial) -> optuna.trial.Trial:
        """A new Optuna trial for an interrupted one: same parameters (enqueued, so the sampler proposes
        exactly them), its intermediate values so far, and its attributes, pointing back at the closed one."""
        attrs = {k: v for k, v in frozen.user_attrs.items() if k not in ("status", "interrupted")}
        self._ot_study.enqueue_trial(frozen.params, user_attrs={**attrs, "continues": frozen.number})
        trial = self._ot_study.ask()
        self._suggest_from_define_by_run_func(self._space, trial)
        for step, value in sorted(frozen.intermediate_values.items()):
            trial.report(value, step=step)
        return trial


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
        with warnings.catch_warnings():  # "experimental" since Optuna 3.0: said once here, not at every study
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown sampler {name!r}; valid: {', '.join(SAMPLERS)}")


def make_optuna_search(space, sampler: str, seed: int, study_name: str, db_url: str, startup_trials: int = 10,
                       max_epochs: int = 1, startup_points=(), db=None) -> ResumableOptunaSearch:
    """The searcher on the study's storage (needs no Ray: the driver builds it while Ray starts).
    max_epochs: epochs of a trial that ran to the end (1 for a classical fit), to tell completed from stopped.
    startup_points: the stratified start-up (tuning.coverage.stratified_startup), proposed first and at random
    (the sampler's own start-up lasts at least as long); db: the trial database, for the reference's slice."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return ResumableOptunaSearch(space=space.sample, metric=METRIC, mode=MODE,
                                 sampler=make_sampler(sampler, seed, max(startup_trials, len(startup_points))),
                                 study_name=study_name, storage=StudyStorage(db_url), max_epochs=max_epochs,
                                 space_def=space, startup_points=startup_points, db=db)


def make_searcher(search: ResumableOptunaSearch, max_concurrent: int) -> ConcurrencyLimiter:
    """make_optuna_search's searcher, proposing at most max_concurrent trials at once."""
    return ConcurrencyLimiter(search, max_concurrent=max_concurrent)


def make_scheduler(name: str, max_epochs: int, grace_period: int, reduction_factor: int,
                   calibration: frozenset[int] = frozenset(), space=None, db=None, study: str | None = None):
    """FIFO, or ASHA within each model with its calibration trials and fidelity rule (tuning/schedulers.py), its
    decisions stored in `db` under `study`. Returns the scheduler and the callbacks it needs (its state across a
    resume)."""
    if name == "fifo":
        return FIFOScheduler(), []
    models = model_groups(space) if space is not None else ("all",)
    scheduler = GroupedASHA(time_attr="training_iteration", metric=METRIC, mode=MODE, max_t=max_epochs,
                            grace_period=grace_period, reduction_factor=reduction_factor, calibration=calibration,
                            group_param="model", default_group=models[0] if len(models) == 1 else "all",
                            groups=models, db=db, study=study)
    return scheduler, [SchedulerState(scheduler)]


def model_groups(space) -> tuple[str, ...]:
    """The models a space can propose: ASHA's groups (a space without a sampled model has the one it fixes)."""
    from ganrator.recipe import TrainConfig

    sampled = next((p for p in space.params if p.name == "model"), None)
    return tuple(map(str, sampled.choices)) if sampled else (str(space.fixed.get("model", TrainConfig.model)),)
