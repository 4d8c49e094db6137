"""A study plan (results/plan.yaml): the sizes, seeds, grids, length rule, power rule and comparisons of a study
that is fixed before its first run. Loaded into typed dataclasses; an unknown or missing key fails with the file
and the key, before anything runs."""
from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class PlanError(ValueError):
    """A plan file that cannot govern a study: the message names the file and the key."""


@dataclass(frozen=True)
class Seeds:
    pilot: tuple[int, ...]  # the length ladder's seeds; the first also scores the tuning grid
    tuning: int
    fresh: int  # confirmation seeds count up from here
    per_point: int  # fresh seeds at each size's chosen configuration
    single_pilot_from: int | None = None  # from this size up, the ladder runs on the first pilot seed only

    def pilot_at(self, size: int) -> tuple[int, ...]:
        """The length ladder's seeds at `size`."""
        return self.pilot[:1] if self.single_pilot_from is not None and size >= self.single_pilot_from else self.pilot


@dataclass(frozen=True)
class LengthRule:
    base_epochs: int  # L = max(base_epochs epochs, min_steps steps)
    min_steps: int
    ladder: tuple[int, ...]  # multiples of L, shortest first; the last is the cap
    gain: float  # the shortest rung whose next rung gains less than this (validation accuracy, a fraction)
    fitted: float  # mean training accuracy at which a point counts as fitted


@dataclass(frozen=True)
class Family:
    fixed: dict[str, Any]
    grid: dict[str, tuple[float, ...]]  # two axes, each log-spaced and sorted
    recipe: str = ""
    length: LengthRule | None = None  # deep only


@dataclass(frozen=True)
class Power:
    start_pairs: int
    max_pairs: int
    half_width: float  # target half-width of the 95% paired interval (a fraction)


@dataclass(frozen=True)
class Secondary:
    size: int
    arms: dict[str, dict[str, Any]]  # name -> augmentation fields; "none" is the baseline
    lengths: tuple[int, ...]  # ladder multiples for "none" and the candidate; the others at the chosen length


@dataclass(frozen=True)
class Augmentation:
    size: int
    candidate_name: str
    candidate: dict[str, Any]
    power: Power
    secondary: Secondary


@dataclass(frozen=True)
class Plan:
    name: str
    description: str
    questions: dict[str, str]
    sizes: tuple[int, ...]
    held_out_size: int
    seeds: Seeds
    deep: Family
    classical: Family
    extension_steps: int
    augmentation: Augmentation
    comparisons: dict[str, list[dict[str, str]]]
    path: Path = field(compare=False)
    text: str = field(compare=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def full_size(self) -> int:
        return max(self.sizes)


TRAIN_IMAGES = 55_000  # the training split left after the 5,000 validation images


def _take(d: Any, keys: dict[str, type], where: str, path: Path, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise PlanError(f"{path}: {where or 'the file'} must be a mapping")
    unknown = sorted(set(d) - set(keys))
    if unknown:
        raise PlanError(f"{path}: unknown key(s) {', '.join(f'{where}{k}' for k in unknown)}; valid: "
                        f"{', '.join(keys)}")
    missing = [k for k in keys if k not in d and k not in optional]
    if missing:
        raise PlanError(f"{path}: missing key(s) {', '.join(f'{where}{k}' for k in missing)}")
    for k, tp in keys.items():
        if k in d and tp is not object and not isinstance(d[k], tp):
            raise PlanError(f"{path}: {where}{k} must be {tp.__name__ if isinstance(tp, type) else tp}, got {d[k]!r}")
    return d


def _grid(d: Any, where: str, path: Path) -> dict[str, tuple[float, ...]]:
    if not isinstance(d, dict) or len(d) != 2:
        raise PlanError(f"{path}: {where} must map exactly two parameters to their values")
    out = {}
    for k, values in d.items():
        if not isinstance(values, list) or len(values) < 3 or not all(
                isinstance(v, (int, float)) and v > 0 for v in values) or sorted(values) != values:
            raise PlanError(f"{path}: {where}.{k} must list at least 3 positive values, low to high, got {values!r}")
        ratios = [b / a for a, b in zip(values, values[1:])]
        if max(ratios) / min(ratios) > 1.15:
            raise PlanError(f"{path}: {where}.{k} must be log-spaced (ratios within 15% of each other), got {values!r}")
        out[k] = tuple(float(v) for v in values)
    return out


def load_plan(path: str | Path) -> Plan:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise PlanError(f"{path}: cannot read the plan: {e.strerror}") from None
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise PlanError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None
    _take(d, {"name": str, "description": str, "questions": dict, "sizes": list, "held_out_size": int,
              "seeds": dict, "deep": dict, "classical": dict, "grid_extension": dict, "augmentation": dict,
              "comparisons": dict}, "", path)
    sizes = d["sizes"]
    if len(sizes) < 2 or not all(isinstance(n, int) and 10 <= n <= TRAIN_IMAGES for n in sizes) or \
            sorted(set(sizes)) != sizes:
        raise PlanError(f"{path}: sizes must list distinct training-set sizes from 10 to {TRAIN_IMAGES}, low to high")
    if d["held_out_size"] not in sizes:
        raise PlanError(f"{path}: held_out_size {d['held_out_size']} is not one of the sizes {sizes}")
    s = _take(d["seeds"], {"pilot": list, "tuning": int, "fresh": int, "per_point": int, "single_pilot_from": int},
              "seeds.", path, optional=("single_pilot_from",))
    seeds = Seeds(tuple(s["pilot"]), s["tuning"], s["fresh"], s["per_point"], s.get("single_pilot_from"))
    if seeds.single_pilot_from is not None and seeds.single_pilot_from not in sizes:
        raise PlanError(f"{path}: seeds.single_pilot_from {seeds.single_pilot_from} is not one of the sizes {sizes}")
    if not seeds.pilot or seeds.tuning != seeds.pilot[0] or seeds.per_point < 2 or \
            seeds.fresh <= max(seeds.pilot):
        raise PlanError(f"{path}: seeds: tuning must be the first pilot seed, per_point >= 2, and fresh seeds above "
                        f"the pilot's")
    dp = _take(d["deep"], {"recipe": str, "fixed": dict, "grid": dict, "length": dict}, "deep.", path)
    ln = _take(dp["length"], {"base_epochs": int, "min_steps": int, "ladder": list, "gain": float,
                              "fitted": float}, "deep.length.", path)
    ladder = tuple(ln["ladder"])
    if len(ladder) < 2 or ladder[0] != 1 or sorted(set(ladder)) != list(ladder):
        raise PlanError(f"{path}: deep.length.ladder must start at 1 and increase, got {list(ladder)}")
    length = LengthRule(ln["base_epochs"], ln["min_steps"], ladder, ln["gain"], ln["fitted"])
    deep = Family(dp["fixed"], _grid(dp["grid"], "deep.grid", path), dp["recipe"], length)
    cl = _take(d["classical"], {"fixed": dict, "grid": dict}, "classical.", path)
    classical = Family(cl["fixed"], _grid(cl["grid"], "classical.grid", path))
    _check_fields(deep, classical, path)
    ext = _take(d["grid_extension"], {"max_steps": int}, "grid_extension.", path)
    a = _take(d["augmentation"], {"size": int, "candidate": dict, "power": dict, "secondary": dict},
              "augmentation.", path)
    if a["size"] not in sizes:
        raise PlanError(f"{path}: augmentation.size {a['size']} is not one of the sizes {sizes}")
    cand = _take(a["candidate"], {"name": str, "ops": dict}, "augmentation.candidate.", path)
    pw = _take(a["power"], {"start_pairs": int, "max_pairs": int, "half_width": float}, "augmentation.power.", path)
    if not 2 <= pw["start_pairs"] <= pw["max_pairs"]:
        raise PlanError(f"{path}: augmentation.power needs 2 <= start_pairs <= max_pairs")
    sc = _take(a["secondary"], {"size": int, "arms": dict, "lengths": list}, "augmentation.secondary.", path)
    if sc["size"] not in sizes or "none" not in sc["arms"] or cand["name"] not in sc["arms"]:
        raise PlanError(f"{path}: augmentation.secondary needs a size from sizes and arms 'none' and "
                        f"'{cand['name']}'")
    if not set(sc["lengths"]) <= set(ladder):
        raise PlanError(f"{path}: augmentation.secondary.lengths {sc['lengths']} must be rungs of the ladder "
                        f"{list(ladder)}")
    aug = Augmentation(a["size"], cand["name"], cand["ops"], Power(pw["start_pairs"], pw["max_pairs"],
                       pw["half_width"]), Secondary(sc["size"], sc["arms"], tuple(sc["lengths"])))
    for arm, ops in [(cand["name"], cand["ops"]), *sc["arms"].items()]:
        _check_fields(dataclasses.replace(deep, fixed={**deep.fixed, **ops}), None, path, f"augmentation arm {arm}")
    return Plan(d["name"], d["description"], d["questions"], tuple(sizes), d["held_out_size"], seeds, deep,
                classical, ext["max_steps"], aug, d["comparisons"], path, text)


def _check_fields(deep: Family, classical: Family | None, path: Path, what: str = "deep") -> None:
    """Every fixed and grid key must be a field of the family's config, checked now rather than in a worker."""
    from ganrator.classical import ClassicalConfig
    from ganrator.config import ConfigError
    from ganrator.recipe import TrainConfig

    pairs = [(deep, TrainConfig, what)] + ([(classical, ClassicalConfig, "classical")] if classical else [])
    for fam, cls, name in pairs:
        values = {**fam.fixed, **{k: v[len(v) // 2] for k, v in fam.grid.items()}}
        try:
            cls.from_dict(values, where=f"{path} ({name})")
        except (ConfigError, TypeError) as e:
            raise PlanError(str(e) if str(path) in str(e) else f"{path} ({name}): {e}") from None


def base_steps(rule: LengthRule, size: int, batch_size: int) -> int:
    """L at a training-set size: base_epochs epochs of full batches, or min_steps when that is more."""
    return max(rule.base_epochs * (size // min(batch_size, size)), rule.min_steps)


def half_width(sd: float, n: int) -> float:
    """Half-width of a 95% t-interval of a mean of n paired differences with spread sd."""
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)) if n >= 2 else math.inf


def pairs_needed(sd: float, power: Power, have: int) -> int:
    """The smallest number of pairs (at least `have`, at most the cap) whose interval would reach the target."""
    n = max(have, power.start_pairs)
    while n < power.max_pairs and half_width(sd, n) > power.half_width:
        n += 1
    return n
