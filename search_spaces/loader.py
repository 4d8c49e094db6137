"""Load a named search space (a YAML file beside this module), validate it, and sample it with Optuna.

A space splits hyperparameters by role (Deep Learning Tuning Playbook): `scientific` (whose effect the
study measures), `nuisance` (tuned away for a fair comparison) and `fixed`. A parameter is

    lr:               {min: 1.0e-3, max: 0.5, scaling: log}     # float; `type: int` for integers
    model:            {feasible_points: [mlp, cnn, resnet]}       # categorical
    cnn.width:        {feasible_points: [16, 32, 64]}             # a kwarg of model `cnn`, only when model == cnn
    one_minus_beta1:  {min: 0.01, max: 0.5, scaling: log, when: {optimizer: [adam, adamw]}}

Names are TrainConfig fields, `<model>.<kwarg>` for a registered model's keyword argument, or a search
parametrization of a field (`one_minus_beta1` -> beta1 = 1 - value). `when` makes a parameter
conditional on values sampled (or fixed) before it.

A space may say how its confirmation stage (tuning/confirm.py) picks arms:

    confirm: {cross: [data_fraction, aug_strength]}   # every combination of these, not one parameter at a time
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from ganrator.models import list_models, settable_kwargs
from ganrator.recipe import TrainConfig
from search_spaces.files import SPACES_DIR, SpaceError, space_file  # noqa: F401  (SpaceError: the loader's API)

ROLES = ("scientific", "nuisance", "fixed")
TOP_KEYS = ("description", "kind", *ROLES, "confirm")
CONFIRM_KEYS = ("cross",)
SPEC_KEYS = ("min", "max", "scaling", "type", "feasible_points", "when")
# Search in a transformed coordinate where it is more uniform; the value maps back to a TrainConfig field.
PARAMETRIZATIONS: dict[str, tuple[str, Callable[[float], float]]] = {
    "one_minus_beta1": ("beta1", lambda v: 1.0 - v),
    "one_minus_beta2": ("beta2", lambda v: 1.0 - v),
    "one_minus_momentum": ("momentum", lambda v: 1.0 - v),
}


@dataclass(frozen=True)
class Param:
    name: str
    role: str  # scientific | nuisance
    kind: str  # float | int | categorical
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()
    when: dict[str, tuple] = field(default_factory=dict)

    def active(self, values: dict[str, Any]) -> bool:
        return all(values.get(k) in allowed for k, allowed in self.when.items())

    def suggest(self, trial) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)


@dataclass(frozen=True)
class SearchSpace:
    name: str
    description: str
    path: Path
    params: tuple[Param, ...]
    fixed: dict[str, Any]
    kind: str = "deep"  # deep: trained by ganrator.train, epochs and ASHA; classical: one-shot fits
    # Scientific parameters whose every combination the confirmation trains (their cross), in this order: the
    # first gives the rows of the crossed table, the second's first feasible point is the baseline of each row.
    confirm_cross: tuple[str, ...] = ()

    @property
    def roles(self) -> dict[str, str]:
        """Role of every name in the space, sampled or fixed."""
        return {**{p.name: p.role for p in self.params}, **{k: "fixed" for k in self.fixed}}

    @property
    def param_specs(self) -> dict[str, dict]:
        """The searched distributions as plain data (stored with the study; analysis reads ranges from it)."""
        return {p.name: {"role": p.role, "kind": p.kind, "low": p.low, "high": p.high, "log": p.log,
                         "choices": list(p.choices), "when": {k: list(v) for k, v in p.when.items()}}
                for p in self.params}

    def sample(self, trial) -> None:
        """Optuna define-by-run: suggest each active parameter in file order. Returns None (no constants)."""
        values = dict(self.fixed)
        for p in self.params:
            if p.active(values):
                values[p.name] = p.suggest(trial)

    def resolve(self, sampled: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Flat config: fixed values, then sampled ones (parametrizations and model kwargs mapped), then overrides."""
        values = {**self.fixed, **sampled}
        chosen_model = values.get("model", TrainConfig.model)
        cfg: dict[str, Any] = {}
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if name in PARAMETRIZATIONS:
                target, fn = PARAMETRIZATIONS[name]
                cfg[target] = fn(value)
            elif "." in name:
                model, kw = name.split(".", 1)
                if model == chosen_model:
                    kwargs[kw] = value
            else:
                cfg[name] = value
        if kwargs or "model_kwargs" in cfg:
            cfg["model_kwargs"] = {**cfg.get("model_kwargs", {}), **kwargs}
        overrides = dict(overrides or {})
        if "data_fraction" in cfg and "data_fraction" in overrides:
            # A space that searches data_fraction (scaling) searches it relative to the budget's training set.
            cfg["data_fraction"] *= overrides.pop("data_fraction")
        cfg.update(overrides)
        return cfg

    def train_config(self, sampled: dict[str, Any], overrides: dict[str, Any] | None = None) -> TrainConfig:
        return TrainConfig.from_dict(self.resolve(sampled, overrides), where=str(self.path))

    def config(self, sampled: dict[str, Any], overrides: dict[str, Any] | None = None):
        """The trial's typed config: a TrainConfig (deep) or a ClassicalConfig (classical)."""
        if self.kind == "classical":
            from ganrator.classical import ClassicalConfig

            return ClassicalConfig.from_dict(self.resolve(sampled, overrides), where=str(self.path))
        return self.train_config(sampled, overrides)


def list_spaces() -> dict[str, str]:
    """Every shipped space with its one-line description."""
    out = {}
    for path in sorted(SPACES_DIR.glob("*.yaml")):
        try:
            out[path.stem] = load_space(path.stem).description
        except SpaceError as e:
            out[path.stem] = f"(invalid: {e})"
    return out


def _fail(path: Path, key: str, msg: str) -> SpaceError:
    return SpaceError(f"{path}: {key}: {msg}")


def _valid_names() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig) if f.name != "model_kwargs"]


def _check_name(path: Path, name: str, candidate_models: set[str], kind: str) -> None:
    if kind == "classical":
        from ganrator.classical import ClassicalConfig  # the classical pipeline's own fields

        valid = [f.name for f in dataclasses.fields(ClassicalConfig)]
        if name not in valid:
            raise _fail(path, name, f"unknown key; valid keys: {', '.join(valid)}")
        return
    if "." in name:
        model, kw = name.split(".", 1)
        if model not in list_models():
            raise _fail(path, name, f"unknown model {model!r}; registered models: {', '.join(list_models())}")
        valid = sorted(settable_kwargs(model))
        if kw not in valid:
            raise _fail(path, name, f"model {model!r} has no argument {kw!r}; valid: {', '.join(valid)}")
        if candidate_models and model not in candidate_models:
            raise _fail(path, name, f"model {model!r} is never selected by this space (models: "
                                    f"{', '.join(sorted(candidate_models))})")
        return
    if name not in _valid_names() and name not in PARAMETRIZATIONS:
        raise _fail(path, name, "unknown key; valid keys: " + ", ".join(_valid_names() + list(PARAMETRIZATIONS))
                    + ", or <model>.<kwarg>")


def _parse_param(path: Path, name: str, role: str, spec: Any) -> Param:
    if not isinstance(spec, dict):
        raise _fail(path, name, f"a {role} parameter needs a mapping with min/max or feasible_points, got {spec!r}")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise _fail(path, name, f"unknown field(s) {', '.join(unknown)}; valid: {', '.join(SPEC_KEYS)}")
    when = spec.get("when", {}) or {}
    if not isinstance(when, dict) or not all(isinstance(v, list) and v for v in when.values()):
        raise _fail(path, name, "`when` must map parameter names to non-empty lists of values")
    when_t = {k: tuple(v) for k, v in when.items()}
    if "feasible_points" in spec:
        points = spec["feasible_points"]
        if not isinstance(points, list) or not points:
            raise _fail(path, name, "feasible_points must be a non-empty list")
        if len(set(map(repr, points))) != len(points):
            raise _fail(path, name, f"feasible_points has duplicates: {points}")
        return Param(name, role, "categorical", choices=tuple(points), when=when_t)
    if "min" not in spec or "max" not in spec:
        raise _fail(path, name, "needs both min and max (or feasible_points)")
    low, high = spec["min"], spec["max"]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
        raise _fail(path, name, f"min and max must be numbers, got {low!r} and {high!r}")
    scaling = spec.get("scaling", "linear")
    if scaling not in ("linear", "log"):
        raise _fail(path, name, f"scaling {scaling!r} is not one of: linear, log")
    kind = spec.get("type", "int" if isinstance(low, int) and isinstance(high, int) else "float")
    if kind not in ("int", "float"):
        raise _fail(path, name, f"type {kind!r} is not one of: int, float")
    if low > high:
        raise _fail(path, name, f"min {low} > max {high}")
    if low == high:
        raise _fail(path, name, f"empty range: min == max == {low}; put it under `fixed` instead")
    if scaling == "log" and low <= 0:
        raise _fail(path, name, f"log scaling needs min > 0, got {low}")
    return Param(name, role, kind, float(low), float(high), scaling == "log", when=when_t)


def load_space(name_or_path: str | Path) -> SearchSpace:
    """Load `search_spaces/<name>.yaml` (or a file path) and validate every key against TrainConfig."""
    path = space_file(name_or_path)
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise SpaceError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise SpaceError(f"{path}: the top level must be a mapping with keys {', '.join(TOP_KEYS)}")
    unknown = sorted(set(doc) - set(TOP_KEYS))
    if unknown:
        raise SpaceError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; valid: {', '.join(TOP_KEYS)}")
    kind = doc.get("kind", "deep")
    if kind not in ("deep", "classical"):
        raise _fail(path, "kind", f"{kind!r} is not one of: deep, classical")
    fixed = doc.get("fixed") or {}
    params = [_parse_param(path, n, role, spec) for role in ("scientific", "nuisance")
              for n, spec in (doc.get(role) or {}).items()]
    names = [p.name for p in params]
    dupes = sorted({n for n in names if names.count(n) > 1} | (set(names) & set(fixed)))
    if dupes:
        raise SpaceError(f"{path}: {', '.join(dupes)} appear(s) in more than one role")
    if not params:
        raise SpaceError(f"{path}: no scientific or nuisance parameter to search")

    if any(p.name == "model" for p in params):  # a model kwarg is sampled only when its model is chosen
        params = [_kwarg_of_sampled_model(path, p) if "." in p.name else p for p in params]
    by_name = {p.name: p for p in params}
    candidate_models = set()
    if kind == "deep":
        model_param = by_name.get("model")
        candidate_models = set(model_param.choices) if model_param else {fixed.get("model", TrainConfig.model)}
        bad = sorted(m for m in candidate_models if m not in list_models())
        if bad:
            raise _fail(path, "model", f"unknown model(s) {', '.join(map(str, bad))}; registered: "
                                       f"{', '.join(list_models())}")
    for n in [*names, *fixed]:
        _check_name(path, n, candidate_models, kind)
    for i, p in enumerate(params):
        for k, allowed in p.when.items():
            if k not in fixed and k not in names[:i]:
                raise _fail(path, p.name, f"`when` refers to {k!r}, which is not fixed or sampled before it")
            if problem := _unreachable_value(k, allowed, fixed, by_name):
                raise _fail(path, p.name, problem)
        _conditions(path, p, by_name)
    cross = _parse_confirm(path, doc.get("confirm"), params, kind)
    space = SearchSpace(path.stem, str(doc.get("description", "")).strip(), path, tuple(params), dict(fixed), kind,
                        cross)
    _dry_run(space)
    return space


def _kwarg_of_sampled_model(path: Path, p: Param) -> Param:
    """A `<model>.<kwarg>` parameter of a space that samples `model`: sampled only when that model is chosen, and
    within what its own `when` asks of `model`."""
    model = p.name.split(".")[0]
    if "model" in p.when and model not in p.when["model"]:
        raise _fail(path, p.name, f"`when` model in {list(p.when['model'])} can never hold: {p.name} applies only "
                                  f"when model is {model!r}")
    return dataclasses.replace(p, when={**p.when, "model": (model,)})


def _unreachable_value(k: str, allowed: tuple, fixed: dict[str, Any], by_name: dict[str, Param]) -> str | None:
    """Why `when: {k: allowed}` names a value `k` never takes (or, fixed, can never hold), or None."""
    if k in fixed:
        if fixed[k] not in allowed:
            return f"`when` {k} in {list(allowed)} can never hold: {k} is fixed to {fixed[k]!r}"
        return None
    q = by_name[k]
    if q.kind == "categorical":
        bad = [v for v in allowed if v not in q.choices]
        choices = f"choices: {', '.join(map(repr, q.choices))}"
    elif q.kind == "int":
        bad = [v for v in allowed if isinstance(v, bool) or not isinstance(v, int) or not q.low <= v <= q.high]
        choices = f"an integer from {q.low:g} to {q.high:g}"
    else:  # a float drawn from a range equals a listed value with probability zero
        return (f"`when` {k} in {list(allowed)} can never hold: {k} is continuous ({q.low:g} to {q.high:g}); "
                f"give {k} feasible_points to condition on it")
    if bad:
        return f"`when` {k}: {bad[0]!r} is not a value of {k} ({choices})"
    return None


def _conditions(path: Path, p: Param, by_name: dict[str, Param]) -> dict[str, list]:
    """What `p` needs of each name to be sampled: its own `when` and, through each sampled name it refers to, what
    that one needs. A name asked for values that exclude each other means `p` is never sampled."""
    need = {k: list(v) for k, v in p.when.items()}
    for k in p.when:
        if k not in by_name:
            continue
        for name, values in _conditions(path, by_name[k], by_name).items():
            both = [v for v in need.get(name, values) if v in values]
            if not both:
                raise _fail(path, p.name, f"`when` {name} in {need[name]} can never hold: {k} is sampled only "
                                          f"when {name} in {values}")
            need[name] = both
    return need


def _parse_confirm(path: Path, spec: Any, params: list[Param], kind: str) -> tuple[str, ...]:
    """The `confirm` mapping: its `cross` must name at least two scientific parameters with feasible points."""
    if spec is None:
        return ()
    if not isinstance(spec, dict):
        raise _fail(path, "confirm", f"must be a mapping with key(s) {', '.join(CONFIRM_KEYS)}, got {spec!r}")
    unknown = sorted(set(spec) - set(CONFIRM_KEYS))
    if unknown:
        raise _fail(path, "confirm", f"unknown key(s) {', '.join(map(str, unknown))}; valid: {', '.join(CONFIRM_KEYS)}")
    if kind != "deep":
        raise _fail(path, "confirm", "a classical space has no confirmation stage (it has no epochs to retrain)")
    cross = spec.get("cross")
    choices = [p.name for p in params if p.role == "scientific" and p.kind == "categorical"]
    if not isinstance(cross, list) or len(cross) < 2 or len(set(map(str, cross))) != len(cross):
        raise _fail(path, "confirm.cross", f"must list at least two different scientific parameters, got {cross!r}; "
                                           f"candidates: {', '.join(choices) or 'none'}")
    by_name = {p.name: p for p in params}
    for name in cross:
        p = by_name.get(name)
        if p is None or p.role != "scientific":
            raise _fail(path, "confirm.cross", f"{name!r} is not a scientific parameter of this space; candidates: "
                                               f"{', '.join(choices) or 'none'}")
        if p.kind != "categorical":
            raise _fail(path, "confirm.cross", f"{name!r} needs feasible_points (a cross trains every value, and "
                                               f"a range has none to list); candidates: {', '.join(choices)}")
        if p.when:
            raise _fail(path, "confirm.cross", f"{name!r} is conditional (`when`); a cross needs parameters that "
                                               f"apply to every trial")
    return tuple(cross)


def _dry_run(space: SearchSpace, n: int = 16) -> None:
    """Sample a few configs with a random sampler so a bad combination fails now, not inside a trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(n):
        trial = study.ask()
        space.sample(trial)
        try:
            space.config(trial.params)
        except (ValueError, TypeError) as e:
            raise SpaceError(f"{space.path}: sampled config {trial.params} is rejected: {e}") from None
        study.tell(trial, 0.0)
